// Each seed provider end to end over a real socket: the answer, and the exact line the `file`
// handler wrote.
#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace hookd;
using namespace hookd::it;

namespace {

/// Sends `request`, expects 200 accepted, and returns the one line the file handler wrote,
/// with `time` removed (and checked), and the id the answer named.
std::pair<json, std::string> accept_one(running_hookd& h, const std::string& request) {
  const auto r = test::send_request(h.port(), request);
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  CHECK(r->header("Content-Type") == "application/json");
  CHECK(r->header("Server") == "hookd");
  const auto answer = json::parse(r->body);
  CHECK(answer.at("status") == "accepted");
  const auto id = answer.at("id").get<std::string>();

  const auto lines = test::wait_for_lines(h.events, 1);
  REQUIRE(lines.size() == 1);
  return {without_time(lines[0]), id};
}

void check_no_credentials(const std::string& text) {
  for (const auto& secret : {altoviz_secret, offerte_secret, alphatouch_key, weavy_token}) {
    CHECK(text.find(secret) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("Altoviz CustomerCreated, hex signature", "[integration][providers]") {
  running_hookd h;
  const std::string body =
      R"({"id":"1233","type":"CustomerCreated","data":{"id":370,"companyName":"ACME"}})";
  const auto [line, id] = accept_one(h, altoviz_request(body));
  CHECK(id == "1233");
  CHECK(line.dump() ==
        R"({"specversion":"1.0","id":"1233","source":"hookd/altoviz","type":"customer.created",)"
        R"("subject":"370","datacontenttype":"application/json","provider":"altoviz",)"
        R"("endpoint":"altoviz","entity":"customer","action":"created",)"
        R"("providertype":"CustomerCreated","data":{"id":370,"companyName":"ACME"}})");
  check_no_credentials(h.log());
}

TEST_CASE("Altoviz InvoiceUpdated, base64 signature", "[integration][providers]") {
  running_hookd h;
  const std::string body = R"({"id":"77","type":"InvoiceUpdated","data":{"id":5,"number":"F-1"}})";
  const auto request = post("/hooks/altoviz", body,
                            {{"X-SIGNATURE", test::hmac_sha256_base64(altoviz_secret, body)}});
  const auto [line, id] = accept_one(h, request);
  CHECK(id == "77");
  CHECK(line.dump() ==
        R"({"specversion":"1.0","id":"77","source":"hookd/altoviz","type":"invoice.updated",)"
        R"("subject":"5","datacontenttype":"application/json","provider":"altoviz",)"
        R"("endpoint":"altoviz","entity":"invoice","action":"updated",)"
        R"("providertype":"InvoiceUpdated","data":{"id":5,"number":"F-1"}})");
}

TEST_CASE("Offerte Adviseur lead.sold", "[integration][providers]") {
  running_hookd h;
  const std::string body =
      R"({"id":"a056V7R7NmNRjl70","type":"lead.sold","payload":{"lead_id":12345,"website_code":"wc"}})";
  const auto request =
      post("/hooks/offerte", body,
           {{"x-offerte-adviseur-signature", test::hmac_sha256_hex(offerte_secret, body)}});
  const auto [line, id] = accept_one(h, request);
  CHECK(id == "a056V7R7NmNRjl70");
  CHECK(
      line.dump() ==
      R"({"specversion":"1.0","id":"a056V7R7NmNRjl70","source":"hookd/offerte","type":"lead.sold",)"
      R"("subject":"12345","datacontenttype":"application/json","provider":"offerte-adviseur",)"
      R"("endpoint":"offerte","entity":"lead","action":"sold","providertype":"lead.sold",)"
      R"("data":{"lead_id":12345,"website_code":"wc"}})");
}

TEST_CASE("AlphaTouch resident update: api_key checked and removed", "[integration][providers]") {
  running_hookd h;
  const std::string body =
      R"({"api_key":")" + alphatouch_key +
      R"(","action":"update","entity":"resident","entity_id":17,"data":{"name":"Doe"}})";
  auto [line, id] = accept_one(h, post("/hooks/alphatouch", body));
  // No event id in the body: a stable hash of endpoint and body, the same in answer and event.
  CHECK_FALSE(id.empty());
  CHECK(line.at("id") == id);
  line.erase("id");
  CHECK(line.dump() ==
        R"({"specversion":"1.0","source":"hookd/alphatouch","type":"resident.updated",)"
        R"("subject":"17","datacontenttype":"application/json","provider":"alphatouch",)"
        R"("endpoint":"alphatouch","entity":"resident","action":"updated",)"
        R"("providertype":"resident.update",)"
        R"("data":{"action":"update","entity":"resident","entity_id":17,"data":{"name":"Doe"}}})");
  check_no_credentials(test::read_file(h.events));
  check_no_credentials(h.log());
}

TEST_CASE("Weavy NewCustomer: event from the URL, token in the query", "[integration][providers]") {
  running_hookd h;
  const std::string body =
      R"({"result":{"codecustomer":"COLOMB","name":"Colombes","city":"VERSAILLES"}})";
  auto [line, id] = accept_one(h, post("/hooks/weavy/NewCustomer?token=" + weavy_token, body));
  CHECK_FALSE(id.empty());
  CHECK(line.at("id") == id);
  line.erase("id");
  CHECK(line.dump() ==
        R"({"specversion":"1.0","source":"hookd/weavy","type":"customer.created",)"
        R"("subject":"COLOMB","datacontenttype":"application/json","provider":"weavy",)"
        R"("endpoint":"weavy","entity":"customer","action":"created",)"
        R"("providertype":"NewCustomer",)"
        R"("data":{"codecustomer":"COLOMB","name":"Colombes","city":"VERSAILLES"}})");
  // The token rides in the URL: it must not reach the log.
  check_no_credentials(h.log());
}
