// The mapping rules with custom providers: sources (body pointers with globs, headers, the URL
// path), the type splits, action renames, subject and data rules, and the 400 messages.
#include <string>

#include <catch2/catch.hpp>

#include <hookd/providers/endpoint.hpp>

#include "support.hpp"

using namespace hookd;
using namespace hookd::providers;
using namespace hookd::providers::test;

namespace {

/// A provider without verification and an empty mapping to fill in.
config::provider_spec open_provider() {
  config::provider_spec p;
  p.name = "custom";
  p.verify = config::no_scheme{};
  return p;
}

endpoint make(const config::provider_spec& p, std::string name = "hooks") {
  return endpoint(endpoint_spec(std::move(name), p.name, {}), p);
}

test_request plain(std::string body, std::string rest = "") {
  test_request r;
  r.body = std::move(body);
  r.rest = std::move(rest);
  return r;
}

}  // namespace

TEST_CASE("mapping: GitHub-like, id and type from headers, the whole body as data", "[mapping]") {
  auto p = open_provider();
  p.map.id = header("X-GitHub-Delivery");
  p.map.type = header("X-GitHub-Event");
  p.map.split = config::type_split::dotted;
  p.map.subject = {body("/pull_request/number"), body("/issue/number")};
  const auto ep = make(p, "github");

  auto r = plain(R"({"action":"opened","issue":{"number":1347}})");
  r.headers.add("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  r.headers.add("X-GitHub-Event", "issues.opened");
  const event e = accepted(ingest(ep, r));
  CHECK(e.id == "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  CHECK(e.type == "issues.opened");
  CHECK(e.subject == "1347");
  CHECK(e.data == json::parse(r.body));

  SECTION("a missing header is named") {
    auto r2 = plain(r.body);
    r2.headers.add("X-GitHub-Event", "issues.opened");
    const rejection rej = refused(ingest(ep, r2));
    CHECK(rej.status == 400);
    CHECK(rej.reason == "missing_field");
    CHECK(rej.message == "missing header X-GitHub-Delivery");
  }
}

TEST_CASE("mapping: a non-object body is fine when nothing reads inside it", "[mapping]") {
  auto p = open_provider();
  p.map.type = header("X-Event");
  p.map.split = config::type_split::dotted;
  const auto ep = make(p);
  auto r = plain(R"([1,2,3])");
  r.headers.add("X-Event", "batch.sent");
  const event e = accepted(ingest(ep, r));
  CHECK(e.data == json::parse("[1,2,3]"));
  CHECK(e.id.size() == 32);

  SECTION("but not invalid JSON: the byte is named, the body is not echoed") {
    auto bad = plain(R"({"secret_thing": tru})");
    bad.headers.add("X-Event", "batch.sent");
    const rejection rej = refused(ingest(ep, bad));
    CHECK(rej.status == 400);
    CHECK(rej.reason == "invalid_json");
    CHECK_THAT(rej.message, Catch::StartsWith("body is not valid JSON (at byte "));
    CHECK_THAT(rej.message, !Catch::Contains("secret_thing"));
  }
  SECTION("an empty body is not JSON") {
    auto empty = plain("");
    empty.headers.add("X-Event", "batch.sent");
    CHECK(refused(ingest(ep, empty)).reason == "invalid_json");
  }
  SECTION("a body nested absurdly deep is refused before parsing") {
    auto deep = plain(std::string(100000, '[') + std::string(100000, ']'));
    deep.headers.add("X-Event", "batch.sent");
    const rejection rej = refused(ingest(ep, deep));
    CHECK(rej.reason == "invalid_json");
    CHECK(rej.message == "body is nested deeper than 512 levels");
  }
  SECTION("brackets inside strings do not count as nesting") {
    auto strings = plain("[\"" + std::string(2000, '[') + "\\\"\"]");
    strings.headers.add("X-Event", "batch.sent");
    CHECK(accepted(ingest(ep, strings)).data.size() == 1);
  }
}

TEST_CASE("mapping: glob in the last pointer segment takes the first match in document order",
          "[mapping]") {
  auto p = open_provider();
  p.map.type = body("/kind");
  p.map.split = config::type_split::prefix;
  p.map.subject = {body("/record/code*")};
  p.map.data = "/record";
  const auto ep = make(p);
  const auto [json_body, subject] = GENERATE(table<std::string, std::string>({
      {R"({"kind":"NewDeal","record":{"label":"x","codedeal":"D1","codecustomer":"C1"}})", "D1"},
      {R"({"kind":"NewDeal","record":{"codecustomer":"C1","codedeal":"D1"}})", "C1"},
      {R"({"kind":"NewDeal","record":{"code":7}})", "7"},
      {R"({"kind":"NewDeal","record":{"label":"no code"}})", ""},
      {R"({"kind":"NewDeal","record":["codedeal"]})", ""},
  }));
  CAPTURE(json_body);
  const event e = accepted(ingest(ep, plain(json_body)));
  CHECK(e.type == "deal.new");
  CHECK(e.subject == subject);
}

TEST_CASE("mapping: pointers follow RFC 6901 (escapes, array indexes)", "[mapping]") {
  auto p = open_provider();
  p.map.id = body("/meta/a~1b/0");
  p.map.type = body("/ev~0t");
  p.map.split = config::type_split::dotted;
  p.map.subject = {body("/items/01"), body("/items/1/id")};
  p.map.data = "/items/1";
  const auto ep = make(p);
  const event e = accepted(ingest(
      ep, plain(R"({"meta":{"a/b":["evt-9"]},"ev~t":"order.paid","items":[{"id":1},{"id":2}]})")));
  CHECK(e.id == "evt-9");
  CHECK(e.type == "order.paid");
  CHECK(e.subject == "2");  // "01" is not an index (leading zero): the next source is used
  CHECK(e.data == json::parse(R"({"id":2})"));
}

TEST_CASE("mapping: subject rules", "[mapping]") {
  auto p = open_provider();
  p.map.type = body("/t");
  p.map.split = config::type_split::dotted;
  p.map.subject = {body("/a"), body("/b")};
  const auto ep = make(p);
  const auto [json_body, subject] = GENERATE(table<std::string, std::string>({
      {R"({"t":"x.y","a":"s-1","b":"s-2"})", "s-1"},
      {R"({"t":"x.y","a":null,"b":"s-2"})", "s-2"},
      {R"({"t":"x.y","b":-42})", "-42"},
      {R"({"t":"x.y","a":18446744073709551615})", "18446744073709551615"},
      {R"({"t":"x.y","a":[17,"18",19]})", "17,18,19"},
      {R"({"t":"x.y","a":[17,{"id":18}],"b":"s-2"})", "s-2"},
      {R"({"t":"x.y","a":[],"b":"s-2"})", "s-2"},
      {R"({"t":"x.y","a":1.5,"b":true})", ""},
      {R"({"t":"x.y","a":{"id":1}})", ""},
  }));
  CAPTURE(json_body);
  CHECK(accepted(ingest(ep, plain(json_body))).subject == subject);
}

TEST_CASE("mapping: required subject and data are 400s naming the field", "[mapping]") {
  auto p = open_provider();
  p.map.type = body("/t");
  p.map.split = config::type_split::dotted;
  p.map.subject = {body("/a"), header("X-Subject")};
  p.map.data = "/payload";
  p.map.subject_required = true;
  p.map.data_required = true;
  const auto ep = make(p);
  const auto [json_body, message] = GENERATE(table<std::string, std::string>({
      {R"({"t":"x.y","payload":{}})", "missing field /a or header X-Subject"},
      {R"({"t":"x.y","a":null,"payload":{}})", "missing field /a or header X-Subject"},
      {R"({"t":"x.y","a":"","payload":{}})", "missing field /a or header X-Subject"},
      {R"({"t":"x.y","a":{"id":1},"payload":{}})",
       "field /a must be a string, an integer or an array of them"},
      {R"({"t":"x.y","a":"s-1"})", "missing field /payload"},
      {R"({"t":"x.y","a":"s-1","payload":null})", "missing field /payload"},
  }));
  CAPTURE(json_body);
  const rejection r = refused(ingest(ep, plain(json_body)));
  CHECK(r.status == 400);
  CHECK(r.reason == (message.starts_with("missing") ? "missing_field" : "invalid_field"));
  CHECK(r.message == message);

  // Any source giving a value is enough; data may be any JSON value but null.
  auto with_header = plain(R"({"t":"x.y","payload":false})");
  with_header.headers.add("X-Subject", "from-header");
  const event e = accepted(ingest(ep, with_header));
  CHECK(e.subject == "from-header");
  CHECK(e.data == false);
}

TEST_CASE("mapping: subject_by_type replaces subject for the listed event types", "[mapping]") {
  auto p = open_provider();
  p.map.type = body("/t");
  p.map.split = config::type_split::dotted;
  p.map.subject_by_type = {{"deal.created", {body("/codedeal")}},
                           {"customer.created", {header("X-Customer"), body("/codecustomer")}}};
  p.map.subject = {body("/code*")};
  p.map.subject_required = true;
  const auto ep = make(p);
  const std::string record = R"("codecustomer":"C1","codedeal":"D1")";
  CHECK(accepted(ingest(ep, plain(R"({"t":"deal.created",)" + record + "}"))).subject == "D1");
  CHECK(accepted(ingest(ep, plain(R"({"t":"customer.created",)" + record + "}"))).subject == "C1");
  // Keys are the type as hookd writes it (after the split and lowercasing).
  CHECK(accepted(ingest(ep, plain(R"({"t":"Deal.Created",)" + record + "}"))).subject == "D1");
  // Other types: `subject`.
  CHECK(accepted(ingest(ep, plain(R"({"t":"quote.created",)" + record + "}"))).subject == "C1");
  // A listed type does not fall back to `subject`: the sources it lists are the ones named.
  const rejection r = refused(ingest(ep, plain(R"({"t":"customer.created","codedeal":"D1"})")));
  CHECK(r.message == "missing header X-Customer or field /codecustomer");
}

TEST_CASE("mapping: suffix and prefix splits of PascalCase names", "[mapping]") {
  const auto [split, name, entity, action] =
      GENERATE(table<config::type_split, std::string, std::string, std::string>({
          {config::type_split::suffix, "CustomerCreated", "customer", "created"},
          {config::type_split::suffix, "CreditNoteCreated", "credit_note", "created"},
          {config::type_split::suffix, "HTTPRequestSent", "http_request", "sent"},
          {config::type_split::suffix, "Invoice2Paid", "invoice2", "paid"},
          {config::type_split::suffix, "customer_update", "customer", "updated"},
          {config::type_split::suffix, "OrderCreate", "order", "created"},
          {config::type_split::prefix, "NewCustomer", "customer", "new"},
          {config::type_split::prefix, "DeleteCreditNote", "credit_note", "deleted"},
          {config::type_split::dotted, "lead.sold", "lead", "sold"},
          {config::type_split::dotted, "Lead.Status.Changed", "lead", "status.changed"},
      }));
  auto p = open_provider();
  p.map.type = body("/type");
  p.map.split = split;
  const event e = accepted(ingest(make(p), plain(R"({"type":")" + name + R"("})")));
  CHECK(e.entity == entity);
  CHECK(e.action == action);
  CHECK(e.type == entity + "." + action);
  CHECK(e.providertype == name);
}

TEST_CASE("mapping: the provider's action renames, keys compared lowercase", "[mapping]") {
  auto p = open_provider();
  p.map.entity = body("/entity");
  p.map.action = body("/action");
  p.map.actions = {{"NEW", "Created"}, {"update", "changed"}};
  const auto ep = make(p);
  const auto [action, renamed] = GENERATE(table<std::string, std::string>({
      {"new", "created"},
      {"New", "created"},
      {"update", "changed"},  // the provider's rename wins over the built-in one
      {"delete", "deleted"},
      {"archive", "archive"},
  }));
  const event e = accepted(ingest(ep, plain(R"({"entity":"Order","action":")" + action + R"("})")));
  CHECK(e.type == "order." + renamed);
  CHECK(e.providertype == "Order." + action);
}

TEST_CASE("mapping: entity from the URL path, action from a header", "[mapping]") {
  auto p = open_provider();
  p.map.entity = path();
  p.map.action = header("X-Action");
  const auto ep = make(p);
  auto r = plain(R"({"n":1})", "invoice");
  r.headers.add("X-Action", "create");
  const event e = accepted(ingest(ep, r));
  CHECK(e.type == "invoice.created");
  CHECK(e.data == json::parse(R"({"n":1})"));

  SECTION("an empty header counts as missing") {
    auto r2 = plain(R"({"n":1})", "invoice");
    r2.headers.add("X-Action", "");
    const rejection rej = refused(ingest(ep, r2));
    CHECK(rej.reason == "missing_field");
    CHECK(rej.message == "missing header X-Action");
  }
}

TEST_CASE("mapping: invalid specs are refused at construction", "[mapping]") {
  SECTION("neither type nor entity and action") {
    auto p = open_provider();
    p.map.entity = body("/entity");
    CHECK_THROWS_AS(make(p), std::invalid_argument);
  }
  SECTION("a pointer that does not start with '/'") {
    auto p = open_provider();
    p.map.type = body("type");
    CHECK_THROWS_AS(make(p), std::invalid_argument);
  }
  SECTION("a bad ~ escape") {
    auto p = open_provider();
    p.map.type = body("/a~2");
    CHECK_THROWS_AS(make(p), std::invalid_argument);
  }
  SECTION("a header source without a name") {
    auto p = open_provider();
    p.map.type = header("");
    CHECK_THROWS_AS(make(p), std::invalid_argument);
  }
}

TEST_CASE("endpoint_table: builds every endpoint and finds them by name", "[mapping]") {
  config::config cfg;
  cfg.providers["altoviz"] = altoviz_preset();
  cfg.providers["weavy"] = weavy_preset();
  cfg.endpoints.push_back(endpoint_spec("altoviz", "altoviz", {"s"}));
  cfg.endpoints.push_back(endpoint_spec("weavy", "weavy", {"t"}));
  const endpoint_table table(cfg);
  CHECK(table.size() == 2);
  REQUIRE(table.find("weavy") != nullptr);
  CHECK(table.find("weavy")->provider() == "weavy");
  CHECK(table.find("altoviz")->name() == "altoviz");
  CHECK(table.find("nope") == nullptr);

  cfg.endpoints.push_back(endpoint_spec("other", "unknown", {"t"}));
  CHECK_THROWS_AS(endpoint_table(cfg), std::invalid_argument);
}

TEST_CASE("mapping: header values must be printable ASCII", "[mapping]") {
  auto p = open_provider();
  p.map.id = header("X-Id");
  p.map.type = header("X-Event");
  p.map.split = config::type_split::dotted;
  const auto ep = make(p);
  auto r = plain("{}");
  r.headers.add("X-Id", "abc\xff\x01");
  r.headers.add("X-Event", "a.b");
  const rejection rej = refused(ingest(ep, r));
  CHECK(rej.status == 400);
  CHECK(rej.reason == "invalid_field");
  CHECK(rej.message == "header X-Id must be printable ASCII");
}
