// Bad input gets a clear answer and changes nothing: every case over a real socket.
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace hookd;
using namespace hookd::it;

namespace {

// A literal, not a std::string: nothing is constructed before main (cert-err58).
constexpr std::string_view good_body =
    R"({"id":"1233","type":"CustomerCreated","data":{"id":370,"companyName":"ACME"}})";

test::http_response must_answer(std::uint16_t port, const std::string& request) {
  const auto r = test::send_request(port, request);
  REQUIRE(r);
  return *r;
}

std::string error_of(const test::http_response& r) {
  INFO(r.body);
  const auto j = json::parse(r.body);
  REQUIRE(j.contains("error"));
  return j.at("error").get<std::string>();
}

/// Sends one good request after the bad ones and checks it is the only line written: the
/// handler runs events in order, so nothing from the bad requests can still be on its way.
void check_nothing_else_written(running_hookd& h) {
  const auto r = must_answer(h.port(), altoviz_request(std::string(good_body)));
  REQUIRE(r.status == 200);
  const auto lines = test::wait_for_lines(h.events, 1);
  REQUIRE(lines.size() == 1);
  CHECK(json::parse(lines[0]).at("id") == "1233");
}

/// For framing errors: 400, then the server closes the connection.
void check_refused_and_closed(std::uint16_t port, const std::string& bytes) {
  test::raw_connection c(port);
  REQUIRE(c.send(bytes));
  const auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->header("Connection") == "close");
  CHECK(c.wait_closed(10s));
}

}  // namespace

TEST_CASE("wrong, missing or malformed signatures get 401 and write nothing",
          "[integration][bad-input]") {
  running_hookd h;
  const auto other_body = R"({"id":"999","type":"CustomerCreated","data":{"id":1}})";

  SECTION("wrong secret") {
    const auto sig = test::hmac_sha256_hex("some-other-secret", other_body);
    const auto r =
        must_answer(h.port(), post("/hooks/altoviz", other_body, {{"X-SIGNATURE", sig}}));
    CHECK(r.status == 401);
    CHECK(r.header("Content-Type") == "application/json");
    CHECK_FALSE(error_of(r).empty());
  }
  SECTION("signature of another body") {
    const auto sig = test::hmac_sha256_hex(altoviz_secret, good_body);
    CHECK(
        must_answer(h.port(), post("/hooks/altoviz", other_body, {{"X-SIGNATURE", sig}})).status ==
        401);
  }
  SECTION("missing signature") {
    const auto r = must_answer(h.port(), post("/hooks/altoviz", other_body));
    CHECK(r.status == 401);
    CHECK_FALSE(error_of(r).empty());
  }
  SECTION("malformed signature") {
    CHECK(must_answer(h.port(), post("/hooks/altoviz", other_body, {{"X-SIGNATURE", "not hex!"}}))
              .status == 401);
  }
  SECTION("hex signature for offerte in base64 (offerte accepts hex only)") {
    const auto sig = test::hmac_sha256_base64(offerte_secret, other_body);
    CHECK(must_answer(h.port(),
                      post("/hooks/offerte", other_body, {{"x-offerte-adviseur-signature", sig}}))
              .status == 401);
  }
  SECTION("wrong AlphaTouch api_key") {
    const std::string body =
        R"({"api_key":"wrong-key","action":"update","entity":"resident","entity_id":1})";
    CHECK(must_answer(h.port(), post("/hooks/alphatouch", body)).status == 401);
  }
  SECTION("wrong or missing Weavy token") {
    const std::string body = R"({"result":{"codecustomer":"X"}})";
    CHECK(must_answer(h.port(), post("/hooks/weavy/NewCustomer?token=wrong", body)).status == 401);
    CHECK(must_answer(h.port(), post("/hooks/weavy/NewCustomer", body)).status == 401);
  }
  check_nothing_else_written(h);
}

TEST_CASE("unknown endpoints and paths get 404, other methods 405", "[integration][bad-input]") {
  running_hookd h;
  SECTION("unknown endpoint") {
    const auto r = must_answer(h.port(), post("/hooks/missing", std::string(good_body)));
    CHECK(r.status == 404);
    CHECK_FALSE(error_of(r).empty());
  }
  SECTION("unknown path") {
    CHECK(must_answer(h.port(), test::make_request("GET", "/nothing/here")).status == 404);
  }
  SECTION("GET on a hook") {
    const auto r = must_answer(h.port(), test::make_request("GET", "/hooks/altoviz"));
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "POST");
  }
  check_nothing_else_written(h);
}

TEST_CASE("GET /healthz", "[integration]") {
  running_hookd h;
  const auto r = must_answer(h.port(), test::make_request("GET", "/healthz"));
  CHECK(r.status == 200);
  CHECK(json::parse(r.body) == json{{"status", "ok"}});
  CHECK(r.header("Server") == "hookd");
}

TEST_CASE("HEAD /healthz answers GET's headers without a body", "[integration]") {
  running_hookd h;
  test::raw_connection c(h.port());
  REQUIRE(c.send(test::make_request("HEAD", "/healthz")));
  const auto head = c.read_head_response();
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("Content-Length") == std::to_string(json{{"status", "ok"}}.dump().size()));
  CHECK(head->header("Content-Type") == "application/json");
  // The connection stays usable: a body sent after the HEAD answer would be read here as the
  // next response's status line.
  REQUIRE(c.send(test::make_request("GET", "/healthz")));
  const auto get = c.read_response();
  REQUIRE(get);
  CHECK(get->status == 200);
  CHECK(json::parse(get->body) == json{{"status", "ok"}});

  // The admin listener's probes take HEAD too.
  test::raw_connection admin(h.hookd.admin_port());
  REQUIRE(admin.send(test::make_request("HEAD", "/metrics")));
  const auto metrics = admin.read_head_response();
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->header("Content-Length") != "0");
  REQUIRE(admin.send(test::make_request("GET", "/healthz")));
  const auto health = admin.read_response();
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("HTTP/1.0 is answered in 1.0 and kept alive only when asked, 1.1 closes when asked",
          "[integration]") {
  running_hookd h;
  const std::string get10 = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  SECTION("1.0 with Connection: keep-alive, then 1.0 without") {
    test::raw_connection c(h.port());
    REQUIRE(c.send(get10 + "Connection: keep-alive\r\n\r\n"));
    const auto first = c.read_response();
    REQUIRE(first);
    CHECK(first->version == "HTTP/1.0");
    CHECK(first->status == 200);
    CHECK(first->header("Connection") == "keep-alive");
    CHECK(json::parse(first->body) == json{{"status", "ok"}});
    REQUIRE(c.send(get10 + "\r\n"));
    const auto second = c.read_response();
    REQUIRE(second);
    CHECK(second->version == "HTTP/1.0");
    CHECK(second->status == 200);
    CHECK_FALSE(second->header("Connection"));
    CHECK(c.wait_closed(10s));
  }
  SECTION("1.1 with Connection: close") {
    test::raw_connection c(h.port());
    REQUIRE(c.send(test::make_request("GET", "/healthz", {{"Connection", "close"}})));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->version == "HTTP/1.1");
    CHECK(r->status == 200);
    CHECK(r->header("Connection") == "close");
    CHECK(c.wait_closed(10s));
  }
}

TEST_CASE("bodies that are not JSON or lack the mapped fields get 400",
          "[integration][bad-input]") {
  running_hookd h;
  SECTION("not JSON") {
    const auto r = must_answer(h.port(), altoviz_request("this is not json"));
    CHECK(r.status == 400);
    CHECK_FALSE(error_of(r).empty());
  }
  SECTION("missing the type field: named in the answer") {
    const auto r = must_answer(h.port(), altoviz_request(R"({"id":"5","data":{"id":1}})"));
    CHECK(r.status == 400);
    CHECK_THAT(error_of(r), Catch::Contains("/type"));
  }
  SECTION("missing the id field: named in the answer") {
    const auto r =
        must_answer(h.port(), altoviz_request(R"({"type":"CustomerCreated","data":{"id":1}})"));
    CHECK(r.status == 400);
    CHECK_THAT(error_of(r), Catch::Contains("/id"));
  }
  check_nothing_else_written(h);
}

TEST_CASE("limits: 413 for a large body, 431 for large headers", "[integration][limits]") {
  running_hookd h;  // max_body 4KiB, max_header 2KiB
  SECTION("Content-Length over max_body") {
    const std::string body = R"({"id":"1","pad":")" + std::string(5000, 'x') + "\"}";
    test::raw_connection c(h.port());
    REQUIRE(c.send(altoviz_request(body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(c.wait_closed(10s));
  }
  SECTION("chunked body growing over max_body") {
    std::string request =
        "POST /hooks/altoviz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 6; ++i)
      request += "400\r\n" + std::string(1024, 'x') + "\r\n";
    request += "0\r\n\r\n";
    const auto r = must_answer(h.port(), request);
    CHECK(r.status == 413);
  }
  SECTION("headers over max_header") {
    const auto request =
        post("/hooks/altoviz", std::string(good_body), {{"X-Padding", std::string(3000, 'p')}});
    const auto r = must_answer(h.port(), request);
    CHECK(r.status == 431);
  }
  SECTION("a body just under the limit is read (and verified)") {
    const std::string body = R"({"pad":")" + std::string(3500, 'x') + "\"}";
    CHECK(must_answer(h.port(), post("/hooks/altoviz", body, {{"X-SIGNATURE", "00"}})).status ==
          401);
  }
  check_nothing_else_written(h);
}

TEST_CASE("request smuggling: ambiguous framing gets 400 and the connection closed",
          "[integration][limits]") {
  running_hookd h;
  const std::string body(good_body);
  const std::string sig = test::hmac_sha256_hex(altoviz_secret, body);
  const std::string head =
      "POST /hooks/altoviz HTTP/1.1\r\nHost: x\r\nX-SIGNATURE: " + sig + "\r\n";
  const std::string chunked_body = std::string([&] {
                                     char size[16];
                                     std::snprintf(size, sizeof size, "%zx", body.size());
                                     return std::string(size);
                                   }()) +
                                   "\r\n" + body + "\r\n0\r\n\r\n";

  SECTION("Content-Length and Transfer-Encoding") {
    check_refused_and_closed(h.port(), head + "Content-Length: " + std::to_string(body.size()) +
                                           "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_body);
  }
  SECTION("Transfer-Encoding then Content-Length") {
    check_refused_and_closed(h.port(), head + "Transfer-Encoding: chunked\r\nContent-Length: " +
                                           std::to_string(body.size()) + "\r\n\r\n" + chunked_body);
  }
  SECTION("Transfer-Encoding: gzip") {
    check_refused_and_closed(h.port(), head + "Transfer-Encoding: gzip\r\n\r\n" + body);
  }
  SECTION("Transfer-Encoding: gzip, chunked") {
    check_refused_and_closed(h.port(),
                             head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked_body);
  }
  SECTION("two different Content-Length values") {
    check_refused_and_closed(h.port(), head + "Content-Length: " + std::to_string(body.size()) +
                                           "\r\nContent-Length: 5\r\n\r\n" + body);
  }
  SECTION("the same Content-Length twice") {
    const auto cl = "Content-Length: " + std::to_string(body.size()) + "\r\n";
    check_refused_and_closed(h.port(), head + cl + cl + "\r\n" + body);
  }
  SECTION("a malformed request line") {
    check_refused_and_closed(h.port(), "POST /hooks/altoviz HTTP/9\r\n\r\n");
  }
  SECTION("a chunked body that is well framed is accepted") {
    const auto r =
        must_answer(h.port(), head + "Transfer-Encoding: chunked\r\n\r\n" + chunked_body);
    CHECK(r.status == 200);
    CHECK(test::wait_for_lines(h.events, 1).size() == 1);
    return;
  }
  check_nothing_else_written(h);
}
