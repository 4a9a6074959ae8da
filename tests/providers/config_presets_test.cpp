// The seed payloads through the real config loader: the built-in presets as embedded from
// src/config/presets.yaml, and a custom provider written in the `providers:` syntax.
#include <string>

#include <catch2/catch.hpp>

#include <hookd/config/loader.hpp>
#include <hookd/providers/endpoint.hpp>

#include "support.hpp"

using namespace hookd;
using namespace hookd::providers;
using namespace hookd::providers::test;

namespace {

const char* const config_text = R"(
endpoints:
  altoviz:
    provider: altoviz
    secrets: ["old-altoviz-secret", "demo-altoviz-secret"]
  offerte:
    provider: offerte-adviseur
    secret: "demo-offerte-secret"
  alphatouch:
    provider: alphatouch
    api_key: "demo-alphatouch-key"
  weavy:
    provider: weavy
    token: "demo-weavy-token"
  github:
    provider: github
    secret: "It's a Secret to Everybody"
  open:
    provider: altoviz
    verify: none
providers:
  github:
    scheme: {type: hmac, header: X-Hub-Signature-256, algorithm: sha256, encoding: hex,
             prefix: "sha256="}
    mapping:
      id: header:X-GitHub-Delivery
      type: header:X-GitHub-Event
      split: dotted
      subject: [/issue/number, /pull_request/number]
      data: ""
handlers:
  console: {type: log}
routes:
  - to: [console]
)";

const endpoint_table& table() {
  static const config::config cfg = config::load_text(config_text, "providers-test.yaml");
  static const endpoint_table t(cfg);
  return t;
}

const endpoint& ep(std::string_view name) {
  const endpoint* e = table().find(name);
  REQUIRE(e != nullptr);
  return *e;
}

test_request req(std::string body, std::string rest = "", std::string query = "") {
  test_request r;
  r.body = std::move(body);
  r.rest = std::move(rest);
  r.query = std::move(query);
  return r;
}

}  // namespace

TEST_CASE("config: the table has every endpoint of the file", "[config-presets]") {
  CHECK(table().size() == 6);
  CHECK(ep("offerte").provider() == "offerte-adviseur");
  CHECK(ep("open").provider() == "altoviz");
}

TEST_CASE("config: the built-in presets match what the hand-built specs assume",
          "[config-presets]") {
  const auto& builtin = config::builtin_providers();
  for (const auto& expected :
       {altoviz_preset(), offerte_preset(), alphatouch_preset(), weavy_preset()}) {
    CAPTURE(expected.name);
    REQUIRE(builtin.count(expected.name) == 1);
    const config::provider_spec& p = builtin.at(expected.name);
    CHECK(p.builtin);
    CHECK(p.verify.index() == expected.verify.index());
    CHECK(p.map.split == expected.map.split);
    CHECK(p.map.data == expected.map.data);
    CHECK(p.map.actions == expected.map.actions);
    CHECK(p.map.subject.size() == expected.map.subject.size());
    CHECK(p.map.subject_required == expected.map.subject_required);
    CHECK(p.map.data_required == expected.map.data_required);
    CHECK(p.map.subject_by_type.size() == expected.map.subject_by_type.size());
    for (const auto& [type, sources] : expected.map.subject_by_type) {
      CAPTURE(type);
      REQUIRE(p.map.subject_by_type.count(type) == 1);
      const auto& loaded = p.map.subject_by_type.at(type);
      REQUIRE(loaded.size() == sources.size());
      for (std::size_t i = 0; i < sources.size(); ++i)
        CHECK(loaded[i].name == sources[i].name);
    }
    CHECK(p.map.id.has_value() == expected.map.id.has_value());
    CHECK(p.map.type.has_value() == expected.map.type.has_value());
  }
}

TEST_CASE("config: altoviz CustomerCreated, signed with the second of two secrets",
          "[config-presets]") {
  const std::string body =
      R"({"id":"1233","type":"CustomerCreated","data":{"id":370,"companyName":"Auchan hypermarché",)"
      R"("billingAddress":{"city":"Paris","zipcode":"75011"},"number":"C001000"}})";
  auto r = req(body);
  r.headers.add("X-SIGNATURE", sign("demo-altoviz-secret", body));
  const event e = accepted(ingest(ep("altoviz"), r));
  CHECK(e.id == "1233");
  CHECK(e.type == "customer.created");
  CHECK(e.subject == "370");
  CHECK(e.data == json::parse(body)["data"]);
  CHECK(to_cloudevent(e).dump() ==
        R"({"specversion":"1.0","id":"1233","source":"hookd/altoviz","type":"customer.created",)"
        R"("subject":"370","time":"2026-11-22T10:00:00.123Z","datacontenttype":"application/json",)"
        R"("provider":"altoviz","endpoint":"altoviz","entity":"customer","action":"created",)"
        R"("providertype":"CustomerCreated","data":{"id":370,"companyName":"Auchan hypermarché",)"
        R"("billingAddress":{"city":"Paris","zipcode":"75011"},"number":"C001000"}})");

  SECTION("uppercase hex and the VECTORS.md vector with a wrong secret") {
    auto upper = req(body);
    std::string sig = sign("demo-altoviz-secret", body);
    for (char& c : sig)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    upper.headers.add("X-Signature", sig);
    CHECK(accepted(ingest(ep("altoviz"), upper)).id == "1233");

    auto wrong = req(R"({"id":"1233","type":"CustomerCreated","data":{}})");
    wrong.headers.add("X-SIGNATURE",
                      "276bd8c33220f145653fe409c6ce9ea173fd1c7aca7f8b9c1b6d980cee073327");
    CHECK(refused(ingest(ep("altoviz"), wrong)).reason == "bad_signature");
  }
  SECTION("verify: none takes the same body unsigned") {
    CHECK(accepted(ingest(ep("open"), req(body))).source == "hookd/open");
  }
}

TEST_CASE("config: altoviz InvoiceDeleted", "[config-presets]") {
  const std::string body = R"({"id":"1301","type":"InvoiceDeleted","data":{"id":991}})";
  auto r = req(body);
  r.headers.add("X-SIGNATURE", sign("old-altoviz-secret", body));
  const event e = accepted(ingest(ep("altoviz"), r));
  CHECK(e.type == "invoice.deleted");
  CHECK(e.subject == "991");
}

TEST_CASE("config: offerte lead.created (lead_id) and lead.sold (id)", "[config-presets]") {
  const auto [body, type, subject] = GENERATE(table<std::string, std::string, std::string>({
      {R"({"id":"a056V7R7NmNRjl70","type":"lead.created","payload":{"lead_id":12345,)"
       R"("website_code":"1cd440df63f796a1f69da652cd0209","subcategory_id":"1",)"
       R"("created_at":"2024-03-01T12:00:00Z"}})",
       "lead.created", "12345"},
      {R"({"id":"a056V7R7NmNRjl71","type":"lead.sold","payload":{"id":12345}})", "lead.sold",
       "12345"},
  }));
  auto r = req(body);
  r.headers.add("x-offerte-adviseur-signature", sign("demo-offerte-secret", body));
  const event e = accepted(ingest(ep("offerte"), r));
  CHECK(e.type == type);
  CHECK(e.subject == subject);
  CHECK(e.data == json::parse(body)["payload"]);
}

TEST_CASE("config: alphatouch update, delete, id arrays, and the stable id", "[config-presets]") {
  const std::string update =
      R"({"api_key":"demo-alphatouch-key","action":"update","entity":"resident","entity_id":17,)"
      R"("data":{"id":17,"first_name":"Jane"}})";
  const event e = accepted(ingest(ep("alphatouch"), req(update)));
  CHECK(e.type == "resident.updated");
  CHECK(e.subject == "17");
  CHECK_THAT(to_cloudevent(e).dump(), !Catch::Contains("demo-alphatouch-key"));
  CHECK(accepted(ingest(ep("alphatouch"), req(update))).id == e.id);

  const std::string del =
      R"({"api_key":"demo-alphatouch-key","action":"delete","entity":"resident","entity_id":[17,18]})";
  const event d = accepted(ingest(ep("alphatouch"), req(del)));
  CHECK(d.type == "resident.deleted");
  CHECK(d.subject == "17,18");
  CHECK(d.data == json::parse(R"({"action":"delete","entity":"resident","entity_id":[17,18]})"));
  CHECK(d.id != e.id);

  const std::string used =
      R"({"api_key":"demo-alphatouch-key","action":"access_code_used","entity":"resident",)"
      R"("entity_id":17})";
  CHECK(accepted(ingest(ep("alphatouch"), req(used))).type == "resident.access_code_used");

  const rejection bad =
      refused(ingest(ep("alphatouch"),
                     req(R"({"api_key":"UNIQUE_API_KEY","action":"update","entity":"resident"})")));
  CHECK(bad.status == 401);
  CHECK(bad.reason == "bad_api_key");
}

TEST_CASE("config: weavy NewCustomer and NewOpportunity from the URL", "[config-presets]") {
  const std::string customer =
      R"({"result":{"codecustomer":"COLOMB","name":"Colombes SA","city":"VERSAILLES"}})";
  const event c =
      accepted(ingest(ep("weavy"), req(customer, "NewCustomer", "token=demo-weavy-token")));
  CHECK(c.type == "customer.created");
  CHECK(c.subject == "COLOMB");
  CHECK(c.data == json::parse(customer)["result"]);

  const std::string deal = R"({"result":{"codedeal":"2010000000014","status":"Active"}})";
  const event o =
      accepted(ingest(ep("weavy"), req(deal, "NewOpportunity", "token=demo-weavy-token")));
  CHECK(o.type == "opportunity.created");
  CHECK(o.subject == "2010000000014");

  CHECK(refused(ingest(ep("weavy"), req(deal, "NewOpportunity"))).reason == "missing_token");
  CHECK(refused(ingest(ep("weavy"), req(deal, "NewOpportunity", "token=x"))).reason == "bad_token");
}

TEST_CASE("config: a custom GitHub provider with the published vector", "[config-presets]") {
  // GitHub's documented vector signs "Hello, World!", which is not JSON: verification passes
  // and the parser refuses it; a JSON body signed the same way is accepted.
  auto vector = req("Hello, World!");
  vector.headers.add("X-Hub-Signature-256",
                     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  CHECK(refused(ingest(ep("github"), vector)).reason == "invalid_json");

  const std::string body = R"({"action":"opened","issue":{"number":1347}})";
  auto r = req(body);
  r.headers.add("X-Hub-Signature-256", "sha256=" + sign("It's a Secret to Everybody", body));
  r.headers.add("X-GitHub-Event", "issues.opened");
  r.headers.add("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  const event e = accepted(ingest(ep("github"), r));
  CHECK(e.id == "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  CHECK(e.type == "issues.opened");
  CHECK(e.subject == "1347");
  CHECK(e.provider == "github");
}

TEST_CASE("config: the example lines of docs/event-model.md", "[config-presets]") {
  auto altoviz = req(
      R"({"id":"1233","type":"CustomerCreated","data":{"id":370,"companyName":"Auchan hypermarché","number":"C001000"}})");
  altoviz.headers.add("X-SIGNATURE", sign("demo-altoviz-secret", altoviz.body));
  auto offerte = req(
      R"({"id":"a056V7R7NmNRjl70","type":"lead.created","payload":{"lead_id":12345,"subcategory_id":"1","created_at":"2024-03-01T12:00:00Z"}})");
  offerte.headers.add("x-offerte-adviseur-signature", sign("demo-offerte-secret", offerte.body));
  const auto update = req(
      R"({"api_key":"demo-alphatouch-key","action":"update","entity":"resident","entity_id":17,"data":{"id":17,"first_name":"Jane"}})");
  const auto del = req(
      R"({"api_key":"demo-alphatouch-key","action":"delete","entity":"resident","entity_id":[17,18]})");
  const auto weavy =
      req(R"({"result":{"codecustomer":"COLOMB","name":"Colombes SA","city":"VERSAILLES"}})",
          "NewCustomer", "token=demo-weavy-token");
  const auto line = [](const ingest_result& r) { return to_cloudevent(accepted(r)).dump(); };
  CHECK(
      line(ingest(ep("altoviz"), altoviz)) ==
      R"({"specversion":"1.0","id":"1233","source":"hookd/altoviz","type":"customer.created","subject":"370","time":"2026-11-22T10:00:00.123Z","datacontenttype":"application/json","provider":"altoviz","endpoint":"altoviz","entity":"customer","action":"created","providertype":"CustomerCreated","data":{"id":370,"companyName":"Auchan hypermarché","number":"C001000"}})");
  CHECK(
      line(ingest(ep("offerte"), offerte)) ==
      R"({"specversion":"1.0","id":"a056V7R7NmNRjl70","source":"hookd/offerte","type":"lead.created","subject":"12345","time":"2026-11-22T10:00:00.123Z","datacontenttype":"application/json","provider":"offerte-adviseur","endpoint":"offerte","entity":"lead","action":"created","providertype":"lead.created","data":{"lead_id":12345,"subcategory_id":"1","created_at":"2024-03-01T12:00:00Z"}})");
  CHECK(
      line(ingest(ep("alphatouch"), update)) ==
      R"({"specversion":"1.0","id":"c8565436d4df365afaa330d656ae5abf","source":"hookd/alphatouch","type":"resident.updated","subject":"17","time":"2026-11-22T10:00:00.123Z","datacontenttype":"application/json","provider":"alphatouch","endpoint":"alphatouch","entity":"resident","action":"updated","providertype":"resident.update","data":{"action":"update","entity":"resident","entity_id":17,"data":{"id":17,"first_name":"Jane"}}})");
  CHECK(
      line(ingest(ep("alphatouch"), del)) ==
      R"({"specversion":"1.0","id":"ac4765635d4d9be9c9ec3c1b35ff0902","source":"hookd/alphatouch","type":"resident.deleted","subject":"17,18","time":"2026-11-22T10:00:00.123Z","datacontenttype":"application/json","provider":"alphatouch","endpoint":"alphatouch","entity":"resident","action":"deleted","providertype":"resident.delete","data":{"action":"delete","entity":"resident","entity_id":[17,18]}})");
  CHECK(
      line(ingest(ep("weavy"), weavy)) ==
      R"({"specversion":"1.0","id":"37208cdbeafc088f1498432d7b3638cf","source":"hookd/weavy","type":"customer.created","subject":"COLOMB","time":"2026-11-22T10:00:00.123Z","datacontenttype":"application/json","provider":"weavy","endpoint":"weavy","entity":"customer","action":"created","providertype":"NewCustomer","data":{"codecustomer":"COLOMB","name":"Colombes SA","city":"VERSAILLES"}})");
}
