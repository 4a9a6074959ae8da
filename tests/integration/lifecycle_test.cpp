// Connection lifecycle over real sockets: timeouts, keep-alive, graceful shutdown.
#include <memory>
#include <signal.h>
#include <system_error>
#include <thread>

#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace hookd;
using namespace hookd::it;

namespace {

std::string customer_body(int id) {
  return R"({"id":")" + std::to_string(id) + R"(","type":"CustomerCreated","data":{"id":)" +
         std::to_string(id) + "}}";
}

}  // namespace

TEST_CASE("a client sending half a request is disconnected after request_timeout",
          "[integration][timeouts]") {
  server_settings s;
  s.request_timeout = "1s";
  running_hookd h(s);
  const auto request = altoviz_request(customer_body(1));

  SECTION("half the header") {
    test::raw_connection c(h.port());
    REQUIRE(c.send(request.substr(0, 20)));
    CHECK(c.wait_closed(15s));
  }
  SECTION("the header and half the body") {
    test::raw_connection c(h.port());
    REQUIRE(c.send(request.substr(0, request.size() - 10)));
    CHECK(c.wait_closed(15s));
  }
  SECTION("nothing at all") {
    test::raw_connection c(h.port());
    CHECK(c.wait_closed(15s));
  }
  // The server is still serving after cutting the slow ones off.
  const auto r = test::send_request(h.port(), test::make_request("GET", "/healthz"));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(test::read_file(h.events).empty());
}

TEST_CASE("keep-alive: several requests on one connection, closed when idle",
          "[integration][timeouts]") {
  server_settings s;
  s.idle_timeout = "1s";
  running_hookd h(s);
  test::raw_connection c(h.port());

  REQUIRE(c.send(altoviz_request(customer_body(1))));
  const auto first = c.read_response();
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->header("Connection") != "close");

  REQUIRE(c.send(altoviz_request(customer_body(2))));
  const auto second = c.read_response();
  REQUIRE(second);
  CHECK(second->status == 200);
  CHECK(json::parse(second->body).at("id") == "2");

  SECTION("two pipelined requests in one write") {
    REQUIRE(c.send(altoviz_request(customer_body(3)) + altoviz_request(customer_body(4))));
    const auto third = c.read_response();
    const auto fourth = c.read_response();
    REQUIRE(third);
    REQUIRE(fourth);
    CHECK(json::parse(third->body).at("id") == "3");
    CHECK(json::parse(fourth->body).at("id") == "4");
    CHECK(test::wait_for_lines(h.events, 4).size() == 4);
  }
  SECTION("idle after the answers: closed after idle_timeout") {
    CHECK(c.wait_closed(15s));
    CHECK(test::wait_for_lines(h.events, 2).size() == 2);
  }
}

TEST_CASE("Connection: close is honoured", "[integration]") {
  running_hookd h;
  test::raw_connection c(h.port());
  REQUIRE(c.send(post("/hooks/altoviz", customer_body(1),
                      {{"Connection", "close"},
                       {"X-SIGNATURE", test::hmac_sha256_hex(altoviz_secret, customer_body(1))}})));
  const auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Connection") == "close");
  CHECK(c.wait_closed(10s));
}

TEST_CASE("Expect: 100-continue gets 100 Continue before the body", "[integration]") {
  running_hookd h;
  const auto body = customer_body(9);
  const auto request = post(
      "/hooks/altoviz", body,
      {{"Expect", "100-continue"}, {"X-SIGNATURE", test::hmac_sha256_hex(altoviz_secret, body)}});
  const auto split = request.find("\r\n\r\n") + 4;
  test::raw_connection c(h.port());
  REQUIRE(c.send(request.substr(0, split)));
  const auto interim = c.read_response(10s, false);
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(c.send(request.substr(split)));
  const auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body).at("id") == "9");
}

TEST_CASE("max_connections: further connections wait until one ends", "[integration][limits]") {
  server_settings s;
  s.max_connections = "1";
  running_hookd h(s);
  auto first = std::make_unique<test::raw_connection>(h.port());
  REQUIRE(h.hookd.process().wait_for_line("connection from", 10s));

  // Accepted by the kernel (backlog), not by hookd: no answer while the first one is open.
  test::raw_connection second(h.port());
  REQUIRE(second.send(test::make_request("GET", "/healthz")));
  CHECK_FALSE(second.read_response(500ms));

  first.reset();  // hookd sees the close, resumes accepting, and answers the waiting request
  const auto r = second.read_response(10s);
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("SIGTERM: a request in flight is finished and answered, then hookd exits 0",
          "[integration][shutdown]") {
  running_hookd h;
  const auto body = customer_body(42);
  const auto request = altoviz_request(body);
  const auto half = request.size() - body.size() / 2;

  test::raw_connection in_flight(h.port());
  REQUIRE(in_flight.send(request.substr(0, half)));
  REQUIRE(h.hookd.process().wait_for_line("connection from", 10s));
  test::raw_connection idle(h.port());  // connected, no request: closed at once on shutdown

  h.hookd.process().signal(SIGTERM);
  REQUIRE(h.hookd.process().wait_for_line("shutting down", 10s));
  CHECK(idle.wait_closed(10s));
  // No new connections once the listener is closed (polled: it closes on its own strand).
  const auto refused = [&] {
    for (int i = 0; i < 500; ++i) {
      try {
        test::raw_connection late(h.port());
      } catch (const std::system_error&) {
        return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  CHECK(refused());

  REQUIRE(in_flight.send(request.substr(half)));
  const auto r = in_flight.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Connection") == "close");
  CHECK(json::parse(r->body).at("id") == "42");

  const auto code = h.hookd.process().wait_exit(20s);
  REQUIRE(code);
  CHECK(*code == 0);
  // The accepted event was delivered before exit.
  const auto lines = test::wait_for_lines(h.events, 1, 1s);
  REQUIRE(lines.size() == 1);
  CHECK(json::parse(lines[0]).at("id") == "42");
}

TEST_CASE("SIGINT with nothing in flight exits 0 promptly", "[integration][shutdown]") {
  running_hookd h;
  h.hookd.process().signal(SIGINT);
  const auto code = h.hookd.process().wait_exit(20s);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK_THAT(h.log(), Catch::Contains("stopped"));
}
