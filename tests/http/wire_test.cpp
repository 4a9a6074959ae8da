#include <string>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <catch2/catch.hpp>

#include <hookd/http/answer.hpp>

namespace bhttp = boost::beast::http;
using hookd::http::answer;
using hookd::http::serialize;
using hookd::http::wire;

namespace {

std::string bytes(const answer& a, const wire& w) {
  std::string out = "left over from the last answer";
  serialize(a, w, out);
  return out;
}

/// `text` read back by Beast's parser, which must find a whole response in it and consume all of
/// it: an answer the serializer got wrong would not parse, would lack its length (the parser
/// would wait for the end of the connection), or would leave bytes for a next response.
bhttp::response<bhttp::string_body> parse(const std::string& text, bool head = false) {
  bhttp::response_parser<bhttp::string_body> p;
  p.skip(head);
  p.eager(true);
  boost::beast::error_code ec;
  const auto used = p.put(boost::asio::buffer(text), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(p.is_done());
  REQUIRE(used == text.size());
  return p.release();
}

}  // namespace

TEST_CASE("an answer on the wire: status line, fields in order, length, body", "[http][wire]") {
  const answer a = hookd::http::from_submit(hookd::dispatch::submit_status::accepted, "e-1");
  const std::string body = R"({"status":"accepted","id":"e-1"})";
  REQUIRE(a.body == body);

  SECTION("HTTP/1.1 kept alive: no Connection field") {
    CHECK(bytes(a, wire{11, true, false}) ==
          "HTTP/1.1 200 OK\r\nServer: hookd\r\nContent-Type: application/json\r\n"
          "Content-Length: 32\r\n\r\n" +
              body);
  }
  SECTION("HTTP/1.1 closing: Connection: close") {
    const auto text = bytes(a, wire{11, false, false});
    CHECK(text.find("\r\nConnection: close\r\n\r\n") != std::string::npos);
    CHECK_FALSE(parse(text).keep_alive());
  }
  SECTION("HTTP/1.0 kept alive: Connection: keep-alive") {
    const auto text = bytes(a, wire{10, true, false});
    CHECK(text.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
    CHECK(text.find("\r\nConnection: keep-alive\r\n") != std::string::npos);
    const auto r = parse(text);
    CHECK(r.version() == 10);
    CHECK(r.keep_alive());
  }
  SECTION("HTTP/1.0 closing: no Connection field (1.0 closes by default)") {
    const auto text = bytes(a, wire{10, false, false});
    CHECK(text.find("Connection") == std::string::npos);
    CHECK_FALSE(parse(text).keep_alive());
  }
  SECTION("HEAD: the body's Content-Length, no body") {
    const auto text = bytes(a, wire{11, true, true});
    CHECK(text.find("\r\nContent-Length: 32\r\n") != std::string::npos);
    CHECK(text.size() >= 4);
    CHECK(text.substr(text.size() - 4) == "\r\n\r\n");
    const auto r = parse(text, true);
    CHECK(r.body().empty());
  }
  SECTION("read back by Beast: status, fields and body as given") {
    const auto r = parse(bytes(a, wire{}));
    CHECK(r.result_int() == 200);
    CHECK(r.version() == 11);
    CHECK(r[bhttp::field::server] == "hookd");
    CHECK(r[bhttp::field::content_type] == "application/json");
    CHECK(r.body() == body);
  }
}

TEST_CASE("extra fields, reason phrases, interim answers", "[http][wire]") {
  SECTION("503 with Retry-After") {
    const answer a = hookd::http::from_submit(hookd::dispatch::submit_status::unavailable, "e-1");
    const auto text = bytes(a, wire{});
    CHECK(text.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    const auto r = parse(text);
    CHECK(r[bhttp::field::retry_after] == std::to_string(hookd::http::retry_after_seconds));
    CHECK(r.body() == a.body);
  }
  SECTION("another content type") {
    answer a;
    a.content_type = "text/plain; version=0.0.4";
    a.body = "metric 1\n";
    const auto r = parse(bytes(a, wire{}));
    CHECK(r[bhttp::field::content_type] == "text/plain; version=0.0.4");
    CHECK(r.body() == "metric 1\n");
  }
  SECTION("100 Continue: the status line and Server only") {
    answer a;
    a.status = 100;
    a.body = "never sent";
    CHECK(bytes(a, wire{}) == "HTTP/1.1 100 Continue\r\nServer: hookd\r\n\r\n");
  }
  SECTION("204 and 304: no Content-Type, no Content-Length, no body") {
    for (const unsigned status : {204U, 304U}) {
      answer a;
      a.status = status;
      a.body = "never sent";
      const auto text = bytes(a, wire{});
      CHECK(text.find("Content-") == std::string::npos);
      CHECK(text.substr(text.size() - 4) == "\r\n\r\n");
      CHECK(parse(text).result_int() == status);
    }
  }
  SECTION("an interim answer to HTTP/1.0 says nothing of the connection") {
    answer a;
    a.status = 100;
    CHECK(bytes(a, wire{10, true, false}) == "HTTP/1.0 100 Continue\r\nServer: hookd\r\n\r\n");
  }
  SECTION("an extra header named like one serialize() writes is left out") {
    answer a;
    a.body = "{}";
    a.headers.emplace_back("content-length", "99");
    a.headers.emplace_back("Connection", "close");
    a.headers.emplace_back("Server", "other");
    a.headers.emplace_back("Retry-After", "5");
    const auto text = bytes(a, wire{});
    CHECK(text ==
          "HTTP/1.1 200 OK\r\nServer: hookd\r\nContent-Type: application/json\r\n"
          "Retry-After: 5\r\nContent-Length: 2\r\n\r\n{}");
    CHECK(parse(text).keep_alive());
  }
  SECTION("an empty body is Content-Length: 0") {
    answer a;
    const auto text = bytes(a, wire{});
    CHECK(text.find("\r\nContent-Length: 0\r\n") != std::string::npos);
    CHECK(parse(text).body().empty());
  }
}

TEST_CASE("a CR, LF or NUL in a field cannot split the answer", "[http][wire]") {
  answer a;
  a.body = "{}";
  using namespace std::string_literals;
  a.headers.emplace_back("Allow", "POST\r\nSet-Cookie: x=1\n\0y"s);
  a.headers.emplace_back("X-A\r\nX-Injected-Name", "1");
  a.content_type = "application/json\r\nX-Injected: 1";
  const auto text = bytes(a, wire{});
  CHECK(text.find("Allow: POST  Set-Cookie: x=1  y\r\n") != std::string::npos);
  CHECK(text.find("X-A") == std::string::npos);  // not a field name: left out
  const auto r = parse(text);
  CHECK(r.count(bhttp::field::set_cookie) == 0);
  CHECK(r.count("X-Injected") == 0);
  CHECK(r.count("X-Injected-Name") == 0);
  CHECK(r.body() == "{}");
}
