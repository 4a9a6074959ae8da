// The server in-process, over real sockets, with a sink that completes on its own thread: the
// sink statuses the memory dispatcher never gives (duplicate), completions from another thread,
// and shutdown while the sink holds a request.
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/config/loader.hpp>
#include <hookd/core/json.hpp>
#include <hookd/http/server.hpp>

#include "hmac.hpp"
#include "http_client.hpp"

using namespace hookd;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view secret = "server-test-secret";

/// Completes every submitted event from its own thread, with a status chosen by the event id:
/// "dup-…" duplicate, "full-…" unavailable, anything else accepted. While held, it keeps them.
class thread_sink final : public dispatch::event_sink {
 public:
  thread_sink() : worker_([this] { run(); }) {}
  ~thread_sink() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      held_ = false;
    }
    wake_.notify_all();
    worker_.join();
  }

  void submit(event ev, std::function<void(dispatch::submit_status)> done) override {
    {
      std::lock_guard lock(mutex_);
      pending_.emplace_back(std::move(ev.id), std::move(done));
      ++submitted_;
    }
    wake_.notify_all();
  }

  void hold(bool held) {
    {
      std::lock_guard lock(mutex_);
      held_ = held;
    }
    wake_.notify_all();
  }

  /// Waits until every event submitted so far has been completed.
  bool wait_completed() {
    std::unique_lock lock(mutex_);
    return wake_.wait_for(lock, 10s, [&] { return completed_ == submitted_; });
  }

  /// Waits until `n` events have been submitted in total.
  bool wait_submitted(std::size_t n) {
    std::unique_lock lock(mutex_);
    return wake_.wait_for(lock, 10s, [&] { return submitted_ >= n; });
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || (!held_ && !pending_.empty()); });
      while (!held_ && !pending_.empty()) {
        auto [id, done] = std::move(pending_.front());
        pending_.pop_front();
        lock.unlock();
        done(id.starts_with("dup-")    ? dispatch::submit_status::duplicate
             : id.starts_with("full-") ? dispatch::submit_status::unavailable
                                       : dispatch::submit_status::accepted);
        lock.lock();
        ++completed_;
        wake_.notify_all();
      }
      if (stopping_ && pending_.empty()) return;
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<std::string, std::function<void(dispatch::submit_status)>>> pending_;
  std::size_t submitted_ = 0;
  std::size_t completed_ = 0;
  bool held_ = false;
  bool stopping_ = false;
  std::thread worker_;  // last: started once the rest is initialized
};

std::shared_ptr<http::endpoint_snapshot> endpoints() {
  const auto cfg = config::load_text(R"(
endpoints:
  altoviz: {provider: altoviz, secret: "server-test-secret"}
handlers:
  console: {type: log}
routes:
  - to: [console]
)",
                                     "server_test.yaml");
  return std::make_shared<http::endpoint_snapshot>(
      std::make_shared<const providers::endpoint_table>(cfg));
}

/// An Altoviz event's body; `pad` bytes of padding in its data make it as long as wanted.
std::string event_body(const std::string& id, std::size_t pad = 0) {
  return R"({"id":")" + id + R"(","type":"CustomerCreated","data":{"id":1,"p":")" +
         std::string(pad, 'x') + R"("}})";
}

/// A signed request carrying event_body(id, pad), with `extra` headers.
std::string signed_request(const std::string& id, std::size_t pad = 0,
                           std::vector<std::pair<std::string, std::string>> extra = {}) {
  const auto body = event_body(id, pad);
  extra.emplace_back("X-SIGNATURE", test::hmac_sha256_hex(secret, body));
  return test::make_request("POST", "/hooks/altoviz", extra, body);
}

/// A server on 127.0.0.1:0 running on its own thread; stopped and joined on destruction.
struct running_server {
  explicit running_server(dispatch::event_sink& sink, config::server_config cfg = {}) {
    cfg.listen = {"127.0.0.1:0"};
    cfg.threads = 2;
    srv = std::make_unique<http::server>(cfg, endpoints(), sink);
    thread = std::thread([this] { srv->run(); });
  }
  ~running_server() {
    srv->shutdown();
    if (thread.joinable()) thread.join();
  }
  std::uint16_t port() const { return srv->addresses().at(0).port; }

  std::unique_ptr<http::server> srv;
  std::thread thread;
};

}  // namespace

TEST_CASE("sink statuses become the table's answers", "[http][server]") {
  thread_sink sink;
  running_server s(sink);
  test::raw_connection c(s.port());

  REQUIRE(c.send(signed_request("1")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"status":"accepted","id":"1"})");

  REQUIRE(c.send(signed_request("dup-2")));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"status":"duplicate","id":"dup-2"})");

  REQUIRE(c.send(signed_request("full-3")));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->header("Retry-After") == "5");
  CHECK(r->body == R"({"error":"spool unavailable, retry later"})");
  // 503 keeps the connection: the framing was fine.
  CHECK(r->header("Connection") != "close");
}

TEST_CASE("shutdown lets a request held by the sink finish, then run() returns", "[http][server]") {
  thread_sink sink;
  sink.hold(true);
  auto s = std::make_unique<running_server>(sink);
  test::raw_connection c(s->port());
  REQUIRE(c.send(signed_request("held-1")));
  REQUIRE(sink.wait_submitted(1));

  s->srv->shutdown();
  sink.hold(false);  // the sink commits after the shutdown began
  const auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Connection") == "close");
  s->thread.join();  // run() returned: the last connection ended
  s.reset();
}

TEST_CASE("shutdown stops after the grace when the sink never answers", "[http][server]") {
  thread_sink sink;
  sink.hold(true);
  config::server_config cfg;
  cfg.shutdown_grace = 200ms;
  auto s = std::make_unique<running_server>(sink, cfg);
  test::raw_connection c(s->port());
  REQUIRE(c.send(signed_request("stuck-1")));
  REQUIRE(sink.wait_submitted(1));

  s->srv->shutdown();
  s->thread.join();  // returns once the grace is over, with the request unanswered
  // The sink completes only now: its completion is posted to the stopped io_context, and
  // dropped with it when the server goes away.
  sink.hold(false);
  REQUIRE(sink.wait_completed());
  s.reset();
  CHECK(c.wait_closed(10s));
}

TEST_CASE("a request arriving in pieces on a kept-alive connection is read whole",
          "[http][server]") {
  thread_sink sink;
  running_server s(sink);
  test::raw_connection c(s.port());
  REQUIRE(c.send(signed_request("1")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);

  // The connection waits for its next request with a small read; the first bytes end it, the
  // rest follow in later writes.
  const auto next = signed_request("2");
  const auto third = next.size() / 3;
  for (std::size_t at = 0; at < next.size(); at += third) {
    REQUIRE(c.send(std::string_view(next).substr(at, third)));
    std::this_thread::sleep_for(20ms);
  }
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"status":"accepted","id":"2"})");
}

TEST_CASE("connections spread over the io threads each get their own answers, in order",
          "[http][server]") {
  // running_server has two io threads, each with its io_context: new connections alternate
  // between them, and the sink answers from a thread of its own, many answers at a time.
  thread_sink sink;
  running_server s(sink);
  std::vector<std::unique_ptr<test::raw_connection>> conns;
  conns.reserve(6);
  for (int i = 0; i < 6; ++i)
    conns.push_back(std::make_unique<test::raw_connection>(s.port()));
  for (int round = 0; round < 4; ++round) {
    sink.hold(true);  // the answers of a round come back together, as after a group commit
    for (std::size_t i = 0; i < conns.size(); ++i)
      REQUIRE(
          conns[i]->send(signed_request("c" + std::to_string(i) + "-" + std::to_string(round))));
    REQUIRE(sink.wait_submitted((static_cast<std::size_t>(round) + 1) * conns.size()));
    sink.hold(false);
    for (std::size_t i = 0; i < conns.size(); ++i) {
      const auto r = conns[i]->read_response();
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->body == R"({"status":"accepted","id":"c)" + std::to_string(i) + "-" +
                           std::to_string(round) + R"("})");
    }
  }
}

TEST_CASE("shutdown closes connections waiting for a request at once, whatever their timeouts",
          "[http][server]") {
  thread_sink sink;
  config::server_config cfg;
  cfg.idle_timeout = 600s;
  cfg.request_timeout = 600s;
  cfg.shutdown_grace = 600s;
  auto s = std::make_unique<running_server>(sink, cfg);
  test::raw_connection idle(s->port());
  REQUIRE(idle.send(signed_request("1")));
  const auto r = idle.read_response();
  REQUIRE(r);
  CHECK(r->header("Connection") != "close");
  test::raw_connection silent(s->port());

  s->srv->shutdown();
  // Nothing holds a session open: run() returns long before any timeout or the grace.
  auto joined = std::async(std::launch::async, [&] { s->thread.join(); });
  REQUIRE(joined.wait_for(30s) == std::future_status::ready);
  CHECK(idle.wait_closed(10s));
  CHECK(silent.wait_closed(10s));
  s.reset();
}

// A kept-alive connection waits for its next request with a read into a small buffer (session.cpp,
// wait_read_size: 2 KiB), then reads the rest of the request into a larger one. Whatever the
// request's length against that buffer, and however its bytes arrive, it is read whole.
TEST_CASE("requests of every length around the first read's buffer are read whole, in any pieces",
          "[http][server]") {
  thread_sink sink;
  running_server s(sink);
  test::raw_connection c(s.port());
  auto expect_accepted = [&c](const std::string& id) {
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == R"({"status":"accepted","id":")" + id + R"("})");
    CHECK(r->header("Connection") != "close");
  };

  // Lengths from 1 900 to 2 200 bytes, one request each, on one connection.
  const auto base = signed_request("len-0").size();
  REQUIRE(base < 1900);
  for (std::size_t length = 1900; length <= 2200; ++length) {
    const std::string id = "len-" + std::to_string(length);
    // The padding also lengthens Content-Length's digits: measured with a first guess.
    const std::size_t guess = length - signed_request(id, 1000).size() + 1000;
    const auto request = signed_request(id, guess);
    REQUIRE(request.size() == length);
    REQUIRE(c.send(request));
    expect_accepted(id);
  }

  // A request that needs many reads (a 64 KiB body).
  REQUIRE(c.send(signed_request("large", std::size_t{64} * 1024)));
  expect_accepted("large");

  // Bytes that arrive in pieces: a few of the request line, then the headers, then the body.
  const auto pieces = signed_request("pieces", 3000);
  REQUIRE(c.send(pieces.substr(0, 5)));
  std::this_thread::sleep_for(50ms);
  REQUIRE(c.send(pieces.substr(5, 100)));
  std::this_thread::sleep_for(50ms);
  REQUIRE(c.send(pieces.substr(105)));
  expect_accepted("pieces");

  // A body that waits for 100 Continue, larger than the first read and than the room made then.
  {
    const std::string id = "continued";
    const auto request = signed_request(id, 20000, {{"Expect", "100-continue"}});
    const auto headers_end = request.find("\r\n\r\n") + 4;
    REQUIRE(c.send(request.substr(0, headers_end)));
    const auto interim = c.read_response(10s, false);
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send(request.substr(headers_end)));
    expect_accepted(id);
  }

  // Two requests in one send: the second is in the buffer when the first is answered.
  REQUIRE(c.send(signed_request("first", 1500) + signed_request("second", 10)));
  expect_accepted("first");
  expect_accepted("second");
}
