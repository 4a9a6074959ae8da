#include <map>
#include <string>

#include <catch2/catch.hpp>

#include <hookd/config/loader.hpp>
#include <hookd/core/json.hpp>
#include <hookd/http/router.hpp>

#include "hmac.hpp"

using namespace hookd;
using hookd::http::answer;
using hookd::http::decide;
using hookd::http::inbound_request;

namespace {

// Test-only literal credentials.
constexpr std::string_view altoviz_secret = "router-test-altoviz";
constexpr std::string_view weavy_token = "router-test-weavy-token";

const char* const config_text = R"(
server: {listen: "127.0.0.1:0"}
endpoints:
  altoviz: {provider: altoviz, secret: "router-test-altoviz"}
  weavy: {provider: weavy, token: "router-test-weavy-token"}
handlers:
  console: {type: log}
routes:
  - to: [console]
)";

const providers::endpoint_table& table() {
  static const providers::endpoint_table t(config::load_text(config_text, "router_test.yaml"));
  return t;
}

class map_headers final : public providers::header_source {
 public:
  explicit map_headers(std::map<std::string, std::string> h) : headers_(std::move(h)) {}
  std::optional<std::string_view> get(std::string_view name) const override {
    for (const auto& [n, v] : headers_) {
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return std::string_view(v);
      }
    }
    return std::nullopt;
  }

 private:
  std::map<std::string, std::string> headers_;
};

http::decision run(std::string_view method, std::string_view target, std::string_view body = {},
                   std::map<std::string, std::string> headers = {},
                   const providers::endpoint_table* endpoints = &table()) {
  const map_headers h(std::move(headers));
  const inbound_request in{method, target, h, body, std::chrono::system_clock::now()};
  return decide(in, endpoints);
}

answer answer_of(const http::decision& d) {
  REQUIRE(std::holds_alternative<answer>(d.outcome));
  return std::get<answer>(d.outcome);
}

event event_of(const http::decision& d) {
  if (const auto* a = std::get_if<answer>(&d.outcome))
    FAIL("answered " << a->status << " " << a->body);
  return std::get<event>(d.outcome);
}

std::optional<std::string> header(const answer& a, std::string_view name) {
  for (const auto& [n, v] : a.headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

const std::string altoviz_body =
    R"({"id":"1233","type":"CustomerCreated","data":{"id":370,"companyName":"ACME"}})";

}  // namespace

TEST_CASE("GET and HEAD /healthz answer ok, other methods 405", "[http][router]") {
  const auto d = run("GET", "/healthz");
  CHECK(answer_of(d).status == 200);
  CHECK(json::parse(answer_of(d).body) == json{{"status", "ok"}});
  CHECK(d.route == "healthz");

  // HEAD decides like GET; the session leaves the body out.
  const auto head = run("HEAD", "/healthz");
  CHECK(answer_of(head).status == 200);
  CHECK(answer_of(head).body == answer_of(d).body);
  CHECK(head.route == "healthz");

  for (const char* method : {"POST", "PUT", "head"}) {
    INFO(method);
    const auto other = run(method, "/healthz");
    CHECK(answer_of(other).status == 405);
    CHECK(header(answer_of(other), "Allow") == "GET, HEAD");
  }
}

TEST_CASE("methods other than POST under /hooks/ get 405 with Allow: POST", "[http][router]") {
  for (const char* method : {"GET", "PUT", "DELETE", "HEAD", "post"}) {
    INFO(method);
    const auto& a = answer_of(run(method, "/hooks/altoviz"));
    CHECK(a.status == 405);
    CHECK(header(a, "Allow") == "POST");
    CHECK(json::parse(a.body).contains("error"));
  }
  // Even for an endpoint that does not exist: the method is wrong for every /hooks/ path.
  CHECK(answer_of(run("GET", "/hooks/nope")).status == 405);
}

TEST_CASE("unknown paths and endpoints get 404", "[http][router]") {
  for (const char* target : {"/", "/hook", "/hooksx/altoviz", "/healthz/x", "/hooks", "/hooks/",
                             "/hooks/nope", "/hooks/nope/rest", "/hooks/altoviz2", "*"}) {
    INFO(target);
    const auto& a = answer_of(run("POST", target, altoviz_body));
    CHECK(a.status == 404);
    CHECK(json::parse(a.body).contains("error"));
  }
  SECTION("no endpoint table at all") {
    CHECK(answer_of(run("POST", "/hooks/altoviz", altoviz_body, {}, nullptr)).status == 404);
  }
}

TEST_CASE("a signed Altoviz request becomes an event", "[http][router]") {
  const auto sig = test::hmac_sha256_hex(altoviz_secret, altoviz_body);
  const auto d = run("POST", "/hooks/altoviz", altoviz_body, {{"X-Signature", sig}});
  const auto& ev = event_of(d);
  CHECK(d.endpoint == "altoviz");
  CHECK(d.route == "hooks");
  CHECK(ev.id == "1233");
  CHECK(ev.type == "customer.created");
  CHECK(ev.subject == "370");
  CHECK(ev.endpoint == "altoviz");
  CHECK(ev.data == json::parse(R"({"id":370,"companyName":"ACME"})"));

  SECTION("a query string does not change the route") {
    CHECK(event_of(run("POST", "/hooks/altoviz?x=1", altoviz_body, {{"X-SIGNATURE", sig}})).id ==
          "1233");
  }
  SECTION("base64 signatures are accepted too") {
    const auto b64 = test::hmac_sha256_base64(altoviz_secret, altoviz_body);
    CHECK(event_of(run("POST", "/hooks/altoviz", altoviz_body, {{"X-SIGNATURE", b64}})).id ==
          "1233");
  }
}

TEST_CASE("verification failures are 401 and never echo a credential", "[http][router]") {
  const auto good = test::hmac_sha256_hex(altoviz_secret, altoviz_body);
  SECTION("missing signature") {
    const auto d = run("POST", "/hooks/altoviz", altoviz_body);
    CHECK(answer_of(d).status == 401);
    CHECK(d.endpoint == "altoviz");
  }
  SECTION("wrong secret") {
    const auto sig = test::hmac_sha256_hex("not-the-secret", altoviz_body);
    CHECK(answer_of(run("POST", "/hooks/altoviz", altoviz_body, {{"X-SIGNATURE", sig}})).status ==
          401);
  }
  SECTION("tampered body") {
    std::string body = altoviz_body;
    body[body.find("370")] = '4';
    CHECK(answer_of(run("POST", "/hooks/altoviz", body, {{"X-SIGNATURE", good}})).status == 401);
  }
  SECTION("malformed signature") {
    CHECK(answer_of(run("POST", "/hooks/altoviz", altoviz_body, {{"X-SIGNATURE", "zz!"}})).status ==
          401);
  }
  SECTION("wrong weavy token") {
    const auto& a = answer_of(
        run("POST", "/hooks/weavy/NewCustomer?token=wrong", R"({"result":{"codecustomer":"C1"}})"));
    CHECK(a.status == 401);
    CHECK(a.body.find("wrong") == std::string::npos);
    CHECK(a.body.find(weavy_token) == std::string::npos);
  }
}

TEST_CASE("signed but not JSON, or without the mapped fields, is 400", "[http][router]") {
  SECTION("not JSON") {
    const std::string body = "not json";
    const auto sig = test::hmac_sha256_hex(altoviz_secret, body);
    CHECK(answer_of(run("POST", "/hooks/altoviz", body, {{"X-SIGNATURE", sig}})).status == 400);
  }
  SECTION("missing type: the message names the field") {
    const std::string body = R"({"id":"1","data":{"id":1}})";
    const auto sig = test::hmac_sha256_hex(altoviz_secret, body);
    const auto& a = answer_of(run("POST", "/hooks/altoviz", body, {{"X-SIGNATURE", sig}}));
    CHECK(a.status == 400);
    CHECK_THAT(json::parse(a.body).at("error").get<std::string>(), Catch::Contains("type"));
  }
}

TEST_CASE("the path after the endpoint is percent-decoded, the query split off", "[http][router]") {
  const std::string body = R"({"result":{"codecustomer":"COLOMB","name":"x"}})";
  const std::string query = "?token=" + std::string(weavy_token);
  SECTION("plain") {
    const auto& ev = event_of(run("POST", "/hooks/weavy/NewCustomer" + query, body));
    CHECK(ev.type == "customer.created");
    CHECK(ev.providertype == "NewCustomer");
    CHECK(ev.subject == "COLOMB");
  }
  SECTION("escaped") {
    CHECK(event_of(run("POST", "/hooks/weavy/New%43ustomer" + query, body)).providertype ==
          "NewCustomer");
  }
  SECTION("escaped endpoint name") {
    CHECK(event_of(run("POST", "/hooks/weav%79/NewCustomer" + query, body)).endpoint == "weavy");
  }
  SECTION("malformed escape is 400") {
    CHECK(answer_of(run("POST", "/hooks/weavy/New%4" + query, body)).status == 400);
    CHECK(answer_of(run("POST", "/hooks/weavy/New%zzC" + query, body)).status == 400);
  }
}

TEST_CASE("percent_decode", "[http][router]") {
  CHECK(http::percent_decode("") == "");
  CHECK(http::percent_decode("abc") == "abc");
  CHECK(http::percent_decode("a%20b") == "a b");
  CHECK(http::percent_decode("%2F%2f") == "//");
  CHECK(http::percent_decode("a+b") == "a+b");
  CHECK(http::percent_decode("%00") == std::string(1, '\0'));
  CHECK_FALSE(http::percent_decode("%"));
  CHECK_FALSE(http::percent_decode("%4"));
  CHECK_FALSE(http::percent_decode("%g0"));
  CHECK_FALSE(http::percent_decode("ab%"));
}

TEST_CASE("answers from the sink's status", "[http][answer]") {
  const auto accepted = http::from_submit(dispatch::submit_status::accepted, "1233");
  CHECK(accepted.status == 200);
  CHECK(accepted.body == R"({"status":"accepted","id":"1233"})");

  const auto duplicate = http::from_submit(dispatch::submit_status::duplicate, "1233");
  CHECK(duplicate.status == 200);
  CHECK(duplicate.body == R"({"status":"duplicate","id":"1233"})");

  const auto unavailable = http::from_submit(dispatch::submit_status::unavailable, "1233");
  CHECK(unavailable.status == 503);
  CHECK(unavailable.body == R"({"error":"spool unavailable, retry later"})");
  CHECK(header(unavailable, "Retry-After") == std::to_string(http::retry_after_seconds));

  // An id is the provider's: escaped, invalid UTF-8 replaced, as the JSON serializer does.
  const std::string odd = "a\"b\\c\n\xff";
  const auto escaped = http::from_submit(dispatch::submit_status::accepted, odd);
  CHECK(escaped.body == json{{"status", "accepted"}, {"id", odd}}.dump(
                            -1, ' ', false, json::error_handler_t::replace));
  CHECK(json::parse(escaped.body).at("status") == "accepted");
}

TEST_CASE("error bodies are valid JSON whatever the message holds", "[http][answer]") {
  const auto a = http::error_answer(400, "x", "quote \" backslash \\ bad utf8 \xff end");
  CHECK(a.status == 400);
  const auto j = json::parse(a.body);
  CHECK_THAT(j.at("error").get<std::string>(), Catch::StartsWith("quote \" backslash \\"));
}
