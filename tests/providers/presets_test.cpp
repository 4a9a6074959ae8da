// Every preset's mapping with the example payloads of the providers' documentation
// (/work/shared/seeds), the presets built by hand exactly as src/config/presets.yaml writes them.
// config_presets_test.cpp runs the same payloads through the real config loader.
#include <string>

#include <catch2/catch.hpp>

#include <hookd/providers/endpoint.hpp>

#include "support.hpp"

using namespace hookd;
using namespace hookd::providers;
using namespace hookd::providers::test;

namespace {

const std::string altoviz_secret = "altoviz-demo-secret";
const std::string offerte_secret = "offerte-demo-secret";
const std::string alphatouch_key = "UNIQUE_API_KEY";
const std::string weavy_token = "weavy-demo-token";

// The seed's CustomerCreated (the documentation's example, made valid JSON).
const std::string altoviz_customer_created =
    R"({"id":"1233","type":"CustomerCreated","data":{"id":370,"title":null,"lastName":null,)"
    R"("firstName":null,"email":"","cellPhone":"01 43 57 91 28","phone":null,)"
    R"("companyName":"Auchan hypermarché","billingAddress":{"street":"1 Rue Abel Rabaud",)"
    R"("zipcode":"75011","city":"Paris","countryIso":"FR",)"
    R"("formattedAddress":"1 Rue Abel Rabaud\n75011 Paris\nFrance",)"
    R"("inlineAddress":"1 Rue Abel Rabaud, 75011 Paris, France"},"shippingAddress":null,)"
    R"("companyInformations":{"siret":"012345678","vatNumber":null},)"
    R"("billingOptions":{"discount":{"type":"Percent","value":0.0},"vatReverseCharge":false,)"
    R"("vendorReference":null},"type":"Company","number":"C001000"}})";

test_request signed_by(const std::string& header, const std::string& secret, std::string body) {
  test_request r;
  r.headers.add(header, sign(secret, body));
  r.body = std::move(body);
  return r;
}

test_request plain(std::string body, std::string rest = "", std::string query = "") {
  test_request r;
  r.body = std::move(body);
  r.rest = std::move(rest);
  r.query = std::move(query);
  return r;
}

}  // namespace

TEST_CASE("altoviz: CustomerCreated maps to customer.created, subject data.id", "[presets]") {
  const endpoint ep(endpoint_spec("altoviz", "altoviz", {altoviz_secret}), altoviz_preset());
  const auto r = signed_by("X-SIGNATURE", altoviz_secret, altoviz_customer_created);
  const event e = accepted(ingest(ep, r));
  CHECK(e.id == "1233");
  CHECK(e.type == "customer.created");
  CHECK(e.entity == "customer");
  CHECK(e.action == "created");
  CHECK(e.providertype == "CustomerCreated");
  CHECK(e.subject == "370");
  CHECK(e.source == "hookd/altoviz");
  CHECK(e.provider == "altoviz");
  CHECK(e.endpoint == "altoviz");
  CHECK(e.time == r.received);
  CHECK(e.data == json::parse(altoviz_customer_created)["data"]);
  // The entity, in the provider's order, exactly.
  CHECK(e.data.begin().key() == "id");
  const json ce = to_cloudevent(e);
  CHECK(ce["time"] == "2026-11-22T10:00:00.123Z");
  CHECK(ce.dump().find(R"("type":"customer.created","subject":"370")") != std::string::npos);
}

TEST_CASE("altoviz: every type of the documentation splits into entity and action", "[presets]") {
  const endpoint ep(endpoint_spec("altoviz", "altoviz", {altoviz_secret}), altoviz_preset());
  const auto [providertype, type] = GENERATE(table<std::string, std::string>({
      {"ContactCreated", "contact.created"},
      {"ContactDeleted", "contact.deleted"},
      {"ContactUpdated", "contact.updated"},
      {"CustomerCreated", "customer.created"},
      {"CustomerDeleted", "customer.deleted"},
      {"CustomerUpdated", "customer.updated"},
      {"InvoiceCreated", "invoice.created"},
      {"InvoiceDeleted", "invoice.deleted"},
      {"InvoiceUpdated", "invoice.updated"},
      {"QuoteCreated", "quote.created"},
      {"QuoteDeleted", "quote.deleted"},
      {"QuoteUpdated", "quote.updated"},
      {"ProductCreated", "product.created"},
      {"ProductDeleted", "product.deleted"},
      {"ProductUpdated", "product.updated"},
      {"CreditNoteCreated", "credit_note.created"},
  }));
  const std::string body =
      R"({"id":"1301","type":")" + providertype + R"(","data":{"id":991,"number":"F-1"}})";
  const event e = accepted(ingest(ep, signed_by("X-SIGNATURE", altoviz_secret, body)));
  CHECK(e.type == type);
  CHECK(e.providertype == providertype);
  CHECK(e.id == "1301");
  CHECK(e.subject == "991");
}

TEST_CASE("altoviz: InvoiceDeleted, signed in base64, and the 400 cases", "[presets]") {
  const endpoint ep(endpoint_spec("altoviz", "altoviz", {altoviz_secret}), altoviz_preset());
  SECTION("base64 signature accepted (encoding auto)") {
    // printf %s "$body" | openssl dgst -sha256 -hmac altoviz-demo-secret -binary | base64
    test_request r = plain(R"({"id":"1301","type":"InvoiceDeleted","data":{"id":991}})");
    r.headers.add("X-SIGNATURE", "G7+Jkd0ykd4/1iE0hyrDbKDdUoYFq/LsSA4v4nhzv5o=");
    const event e = accepted(ingest(ep, r));
    CHECK(e.type == "invoice.deleted");
    CHECK(e.subject == "991");
    CHECK(e.data == json::parse(R"({"id":991})"));
  }
  SECTION("each missing or mistyped field is named") {
    const auto [body, reason, message] = GENERATE(table<std::string, std::string, std::string>({
        {R"({"type":"InvoiceDeleted","data":{"id":991}})", "missing_field", "missing field /id"},
        {R"({"id":"","type":"InvoiceDeleted"})", "missing_field", "missing field /id"},
        {R"({"id":null,"type":"InvoiceDeleted"})", "missing_field", "missing field /id"},
        {R"({"id":1.5,"type":"InvoiceDeleted"})", "invalid_field",
         "field /id must be a string or an integer"},
        {R"({"id":"1301","data":{"id":991}})", "missing_field", "missing field /type"},
        {R"({"id":"1301","type":42})", "invalid_field", "field /type must be a string"},
        {R"({"id":"1301","type":"Invoice"})", "invalid_field",
         "field /type must be an <Entity><Action> name such as CustomerCreated"},
        {R"(["id","1301"])", "invalid_json", "body must be a JSON object"},
        {R"({"id":"1301",)", "invalid_json", "body is not valid JSON (at byte 14)"},
        // subject and data are required: no event without the entity it is about
        {R"({"id":"1301","type":"InvoiceDeleted"})", "missing_field", "missing field /data/id"},
        {R"({"id":"1301","type":"InvoiceDeleted","data":null})", "missing_field",
         "missing field /data/id"},
        {R"({"id":"1301","type":"InvoiceDeleted","data":{"number":"F-1"}})", "missing_field",
         "missing field /data/id"},
        {R"({"id":"1301","type":"InvoiceDeleted","data":{"id":9.5}})", "invalid_field",
         "field /data/id must be a string, an integer or an array of them"},
    }));
    CAPTURE(body);
    const rejection r = refused(ingest(ep, signed_by("X-SIGNATURE", altoviz_secret, body)));
    CHECK(r.status == 400);
    CHECK(r.reason == reason);
    CHECK(r.message == message);
  }
  SECTION("an integer id becomes its decimal string") {
    const event e = accepted(ingest(ep, signed_by("X-SIGNATURE", altoviz_secret,
                                                  R"({"id":1301,"type":"QuoteCreated",)"
                                                  R"("data":{"id":"Q-7"}})")));
    CHECK(e.id == "1301");
    CHECK(e.subject == "Q-7");
  }
}

TEST_CASE("offerte-adviseur: lead.created with lead_id and lead.sold with id", "[presets]") {
  const endpoint ep(endpoint_spec("offerte", "offerte-adviseur", {offerte_secret}),
                    offerte_preset());
  SECTION("lead.created, the documentation's example payload") {
    const std::string body =
        R"({"id":"a056V7R7NmNRjl70","type":"lead.created","payload":{"lead_id":12345,)"
        R"("website_code":"1cd440df63f796a1f69da652cd0209","subcategory_id":"1",)"
        R"("created_at":"2024-03-01T12:00:00Z"}})";
    const event e =
        accepted(ingest(ep, signed_by("x-offerte-adviseur-signature", offerte_secret, body)));
    CHECK(e.id == "a056V7R7NmNRjl70");
    CHECK(e.type == "lead.created");
    CHECK(e.providertype == "lead.created");
    CHECK(e.entity == "lead");
    CHECK(e.action == "created");
    CHECK(e.subject == "12345");
    CHECK(e.data == json::parse(body)["payload"]);
    CHECK(e.endpoint == "offerte");
    CHECK(e.source == "hookd/offerte");
    CHECK(e.provider == "offerte-adviseur");
  }
  SECTION("lead.sold with payload.id") {
    const std::string body =
        R"({"id":"b177X8S8OoOSkm81","type":"lead.sold","payload":{"id":12345}})";
    const event e =
        accepted(ingest(ep, signed_by("X-Offerte-Adviseur-Signature", offerte_secret, body)));
    CHECK(e.type == "lead.sold");
    CHECK(e.subject == "12345");
  }
  SECTION("invoice.paid, and a type without a dot is a 400 naming /type") {
    const std::string good = R"({"id":"c1","type":"invoice.paid","payload":{"id":"INV-7"}})";
    CHECK(accepted(ingest(ep, signed_by("x-offerte-adviseur-signature", offerte_secret, good)))
              .type == "invoice.paid");
    const std::string bad = R"({"id":"c1","type":"invoicepaid","payload":{"id":"INV-7"}})";
    const rejection r =
        refused(ingest(ep, signed_by("x-offerte-adviseur-signature", offerte_secret, bad)));
    CHECK(r.status == 400);
    CHECK(r.reason == "invalid_field");
    CHECK_THAT(r.message, Catch::StartsWith("field /type must be"));
  }
  SECTION("a payload without id or lead_id, or no payload, is a 400 naming both") {
    const auto body = GENERATE(
        as<std::string>{}, R"({"id":"c2","type":"lead.created","payload":{"website_code":"x"}})",
        R"({"id":"c2","type":"lead.created"})");
    CAPTURE(body);
    const rejection r =
        refused(ingest(ep, signed_by("x-offerte-adviseur-signature", offerte_secret, body)));
    CHECK(r.status == 400);
    CHECK(r.reason == "missing_field");
    CHECK(r.message == "missing field /payload/id or field /payload/lead_id");
  }
  SECTION("base64 is not accepted: the provider documents lowercase hex") {
    test_request r = plain(R"({"id":"c1","type":"lead.paid","payload":{"id":1}})");
    r.headers.add("x-offerte-adviseur-signature", "2y8pAv/wmGlRdHPo3rcVFra17VTRSc01eFTHiH7Cd8o=");
    CHECK(refused(ingest(ep, r)).reason == "malformed_signature");
  }
}

TEST_CASE("alphatouch: update, delete, arrays of ids and other verbs", "[presets]") {
  const endpoint ep(endpoint_spec("alphatouch", "alphatouch", {alphatouch_key}),
                    alphatouch_preset());
  SECTION("resident update: entity_id 17, data is the whole body without api_key") {
    const event e = accepted(
        ingest(ep, plain(R"({"api_key":"UNIQUE_API_KEY","action":"update","entity":"resident",)"
                         R"("entity_id":17,"data":{"id":17,"first_name":"Jane","unit":"4B"}})")));
    CHECK(e.type == "resident.updated");
    CHECK(e.entity == "resident");
    CHECK(e.action == "updated");
    CHECK(e.providertype == "resident.update");
    CHECK(e.subject == "17");
    CHECK(e.data == json::parse(R"({"action":"update","entity":"resident","entity_id":17,)"
                                R"("data":{"id":17,"first_name":"Jane","unit":"4B"}})"));
    CHECK(e.id.size() == 32);
    CHECK(e.id.find_first_not_of("0123456789abcdef") == std::string::npos);
  }
  SECTION("resident delete: no data in the body, so data is the body without api_key") {
    const event e = accepted(
        ingest(ep, plain(R"({"api_key":"UNIQUE_API_KEY","action":"delete","entity":"resident",)"
                         R"("entity_id":17})")));
    CHECK(e.type == "resident.deleted");
    CHECK(e.subject == "17");
    CHECK(e.data == json::parse(R"({"action":"delete","entity":"resident","entity_id":17})"));
  }
  SECTION("an array of ids is joined with commas") {
    const event e = accepted(
        ingest(ep, plain(R"({"api_key":"UNIQUE_API_KEY","action":"move","entity":"resident",)"
                         R"("entity_id":[17,18],"data":[{"id":17},{"id":18}]})")));
    CHECK(e.type == "resident.moved");
    CHECK(e.subject == "17,18");
  }
  SECTION("verbs without a built-in rename stay as they are") {
    const auto verb = GENERATE(as<std::string>{}, "access_code_used", "access_code_fail",
                               "prox_tag_used", "prox_tag_fail");
    const event e = accepted(ingest(ep, plain(R"({"api_key":"UNIQUE_API_KEY","action":")" + verb +
                                              R"(","entity":"resident","entity_id":"17"})")));
    CHECK(e.type == "resident." + verb);
    CHECK(e.subject == "17");
  }
  SECTION("add becomes added, case is folded") {
    const event e = accepted(ingest(
        ep,
        plain(R"({"api_key":"UNIQUE_API_KEY","action":"Add","entity":"Resident","entity_id":9})")));
    CHECK(e.type == "resident.added");
    CHECK(e.providertype == "Resident.Add");
  }
  SECTION("missing entity or action is a 400 naming the field") {
    const auto [body, message] = GENERATE(table<std::string, std::string>({
        {R"({"api_key":"UNIQUE_API_KEY","action":"update","entity_id":17})",
         "missing field /entity"},
        {R"({"api_key":"UNIQUE_API_KEY","entity":"resident","entity_id":17})",
         "missing field /action"},
        {R"({"api_key":"UNIQUE_API_KEY","entity":"resident","action":["update"]})",
         "field /action must be a string"},
        // entity_id is required (data is not: a delete has none)
        {R"({"api_key":"UNIQUE_API_KEY","entity":"resident","action":"delete"})",
         "missing field /entity_id"},
        {R"({"api_key":"UNIQUE_API_KEY","entity":"resident","action":"delete","entity_id":[]})",
         "field /entity_id must be a string, an integer or an array of them"},
    }));
    const rejection r = refused(ingest(ep, plain(body)));
    CHECK(r.status == 400);
    CHECK(r.message == message);
  }
}

TEST_CASE("alphatouch: the same body twice has the same id, another endpoint another id",
          "[presets]") {
  const std::string body =
      R"({"api_key":"UNIQUE_API_KEY_4f1c","action":"delete","entity":"resident","entity_id":17})";
  const endpoint a(endpoint_spec("alphatouch", "alphatouch", {"UNIQUE_API_KEY_4f1c"}),
                   alphatouch_preset());
  const endpoint b(endpoint_spec("alphatouch-2", "alphatouch", {"UNIQUE_API_KEY_4f1c"}),
                   alphatouch_preset());
  const event first = accepted(ingest(a, plain(body)));
  const event retry = accepted(ingest(a, plain(body)));
  const event other = accepted(ingest(b, plain(body)));
  // The body without api_key, compact:
  // printf 'alphatouch\0\0%s' '{"action":"delete","entity":"resident","entity_id":17}' |
  //   sha256sum | cut -c1-32
  CHECK(first.id == "ae4cffdcf5725cf03fe55f5c6de54e74");
  CHECK(retry.id == first.id);
  CHECK(other.id != first.id);
  // Another value is another delivery.
  std::string next = body;
  next.replace(next.find("17"), 2, "18");
  CHECK(accepted(ingest(a, plain(next))).id != first.id);
}

TEST_CASE("alphatouch: the id does not depend on the api_key, which is still verified",
          "[presets]") {
  // Two keys configured (rotation): two bodies identical but for the key are one delivery. Were
  // the key hashed into the id, anyone who sees an id could test guesses of the key offline.
  const endpoint ep(endpoint_spec("alphatouch", "alphatouch", {"key-one-8d2a", "key-two-51fe"}),
                    alphatouch_preset());
  const std::string tail = R"(,"action":"update","entity":"resident","entity_id":17})";
  const event one = accepted(ingest(ep, plain(R"({"api_key":"key-one-8d2a")" + tail)));
  const event two = accepted(ingest(ep, plain(R"({"api_key":"key-two-51fe")" + tail)));
  CHECK(one.id == two.id);
  // printf 'alphatouch\0\0%s' '{"action":"update","entity":"resident","entity_id":17}' |
  //   sha256sum | cut -c1-32
  CHECK(one.id == "1f0f71265b6fdcb48e6d7017b261cf29");

  const rejection wrong = refused(ingest(ep, plain(R"({"api_key":"key-three-0000")" + tail)));
  CHECK(wrong.status == 401);
  CHECK(wrong.reason == "bad_api_key");
  CHECK(refused(ingest(ep, plain("{" + tail.substr(1)))).reason == "missing_api_key");
}

TEST_CASE("weavy: the event name comes from the URL, the token from the query", "[presets]") {
  const endpoint ep(endpoint_spec("weavy", "weavy", {weavy_token}), weavy_preset());
  const std::string query = "token=" + weavy_token;
  SECTION("NewCustomer -> customer.created, subject codecustomer") {
    const std::string body =
        R"({"result":{"codecustomer":"COLOMB","name":"Colombes SA","city":"VERSAILLES"}})";
    const event e = accepted(ingest(ep, plain(body, "NewCustomer", query)));
    CHECK(e.type == "customer.created");
    CHECK(e.providertype == "NewCustomer");
    CHECK(e.subject == "COLOMB");
    CHECK(e.data == json::parse(body)["result"]);
    // printf 'weavy\0NewCustomer\0%s' "$body" | sha256sum | cut -c1-32
    CHECK(e.id == "37208cdbeafc088f1498432d7b3638cf");
    CHECK_THAT(to_cloudevent(e).dump(), !Catch::Contains(weavy_token));
  }
  SECTION("NewOpportunity -> opportunity.created, subject codedeal") {
    const std::string body =
        R"({"result":{"customerName":"Colombes SA","codedeal":"2010000000014",)"
        R"("label":"Renovation","status":"Active","creationDate":"2023-10-31 00:00:00",)"
        R"("url":"https://example.invalid/deal"}})";
    const event e = accepted(ingest(ep, plain(body, "NewOpportunity", query)));
    CHECK(e.type == "opportunity.created");
    CHECK(e.subject == "2010000000014");
    CHECK(e.data["label"] == "Renovation");
  }
  SECTION("the other events of the documentation: the record's first code... field") {
    const auto [name, type] = GENERATE(table<std::string, std::string>({
        {"NewProspect", "prospect.created"},
        {"NewSuspect", "suspect.created"},
        {"NewSubcontractor", "subcontractor.created"},
    }));
    const event e = accepted(ingest(ep, plain(R"({"result":{"code":"X1"}})", name, query)));
    CHECK(e.type == type);
    CHECK(e.subject == "X1");
  }
  SECTION("the subject is the field naming this event's record, not the first code... field") {
    const auto [name, subject] = GENERATE(table<std::string, std::string>({
        {"NewDeal", "2010000000015"},
        {"NewOpportunity", "2010000000015"},
        {"NewCustomer", "COLOMB"},
    }));
    // A deal that carries its customer's code first, a customer that names a deal first.
    const std::string body = R"({"result":{"codecustomer":"COLOMB","codedeal":"2010000000015"}})";
    const std::string reversed =
        R"({"result":{"codedeal":"2010000000015","codecustomer":"COLOMB"}})";
    CHECK(accepted(ingest(ep, plain(body, name, query))).subject == subject);
    CHECK(accepted(ingest(ep, plain(reversed, name, query))).subject == subject);
    // Without its own field the event has no subject, rather than another record's code.
    CHECK(accepted(ingest(ep, plain(R"({"result":{"codeprospect":"P1"}})", name, query)))
              .subject.empty());
  }
  SECTION("a body without the record is a 400 naming /result") {
    const auto body =
        GENERATE(as<std::string>{}, R"({})", R"({"result":null})", R"({"codecustomer":"COLOMB"})");
    CAPTURE(body);
    const rejection r = refused(ingest(ep, plain(body, "NewCustomer", query)));
    CHECK(r.status == 400);
    CHECK(r.reason == "missing_field");
    CHECK(r.message == "missing field /result");
  }
  SECTION("the same body on another event name is another event") {
    const std::string body = R"({"result":{"codecustomer":"COLOMB"}})";
    CHECK(accepted(ingest(ep, plain(body, "NewCustomer", query))).id !=
          accepted(ingest(ep, plain(body, "NewProspect", query))).id);
  }
  SECTION("a missing or invalid event name is a 400") {
    const auto [rest, message] = GENERATE(table<std::string, std::string>({
        {"", "missing event name in URL path"},
        {"NewCustomer/extra", "invalid event name in URL path"},
        {"New Customer", "invalid event name in URL path"},
        {"NewCustomer/", "invalid event name in URL path"},
    }));
    const rejection r = refused(ingest(ep, plain(R"({"result":{}})", rest, query)));
    CHECK(r.status == 400);
    CHECK(r.reason == "bad_path");
    CHECK(r.message == message);
  }
  SECTION("a single-word event name cannot split") {
    const rejection r = refused(ingest(ep, plain(R"({"result":{}})", "Customer", query)));
    CHECK(r.reason == "invalid_field");
    CHECK_THAT(r.message, Catch::StartsWith("event name in URL path must be"));
  }
  SECTION("the token is checked before the path") {
    const rejection r = refused(ingest(ep, plain(R"({"result":{}})", "", "token=nope")));
    CHECK(r.reason == "bad_token");
  }
}
