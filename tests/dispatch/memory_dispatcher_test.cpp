#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include <hookd/dispatch/memory_dispatcher.hpp>

#include "../handlers/sample_event.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using hookd::config::route_spec;
using hookd::dispatch::memory_dispatcher;
using hookd::dispatch::route_table;
using hookd::dispatch::submit_status;
using hookd::handlers::delivery;
using hookd::handlers::result;

namespace {

/// A real handler whose deliveries wait until the test opens the gate, so the test controls when
/// the worker is busy. It records the ids it saw.
class gate_handler final : public hookd::handlers::handler {
 public:
  const std::string& name() const noexcept override { return name_; }
  result deliver(const delivery& d) noexcept override {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    seen_.push_back(d.ev.id);
    return result::success();
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  /// Waits (bounded) until a delivery is blocked in the gate.
  bool wait_entered(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 30s, [&] { return entered_ >= n; });
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  std::string name_ = "gate";
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int entered_ = 0;
  std::vector<std::string> seen_;
};

bool wait_until(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

hookd::config::config config_with_files(const hookd::test::temp_dir& dir) {
  hookd::config::config cfg;
  cfg.handlers.push_back({"all", hookd::config::file_handler{(dir / "all.jsonl").string()}, {}});
  cfg.handlers.push_back({"inv", hookd::config::file_handler{(dir / "inv.jsonl").string()}, {}});
  cfg.routes.push_back(route_spec{"", "", "", {"all"}});
  cfg.routes.push_back(route_spec{"", "", "invoice.*", {"inv", "all"}});
  cfg.dispatch.queue = 100;
  return cfg;
}

}  // namespace

TEST_CASE("memory dispatcher delivers events to routed handlers, in order", "[dispatch]") {
  hookd::test::temp_dir dir;
  memory_dispatcher d(config_with_files(dir));
  std::string expected_all;
  std::string expected_inv;
  for (int i = 0; i < 50; ++i) {
    auto ev = hookd::test::sample_event(std::to_string(i));
    if (i % 5 == 0) ev.type = "invoice.paid";
    const std::string line = hookd::to_cloudevent(ev).dump() + "\n";
    expected_all += line;
    if (i % 5 == 0) expected_inv += line;
    submit_status status = submit_status::duplicate;
    d.submit(std::move(ev), [&](submit_status s) { status = s; });
    CHECK(status == submit_status::accepted);
  }
  REQUIRE(wait_until([&] { return d.processed() == 50; }));
  CHECK(hookd::test::read_file(dir / "all.jsonl") == expected_all);
  CHECK(hookd::test::read_file(dir / "inv.jsonl") == expected_inv);
}

TEST_CASE("memory dispatcher answers unavailable at once when the queue is full", "[dispatch]") {
  auto gate = std::make_shared<gate_handler>();
  memory_dispatcher d(route_table({route_spec{"", "", "", {"gate"}}}), {{"gate", gate}}, 2);
  std::vector<submit_status> statuses;
  auto record = [&](submit_status s) { statuses.push_back(s); };
  d.submit(hookd::test::sample_event("0"), record);
  REQUIRE(gate->wait_entered(1));  // the worker holds event 0; the queue is empty
  d.submit(hookd::test::sample_event("1"), record);
  d.submit(hookd::test::sample_event("2"), record);
  d.submit(hookd::test::sample_event("3"), record);  // queue (2) full
  CHECK(statuses == std::vector<submit_status>{submit_status::accepted, submit_status::accepted,
                                               submit_status::accepted,
                                               submit_status::unavailable});
  CHECK(d.queued() == 2);
  gate->open();
  REQUIRE(wait_until([&] { return d.processed() == 3; }));
  CHECK(gate->seen() == std::vector<std::string>{"0", "1", "2"});
}

TEST_CASE("memory dispatcher stop() drains the queue and then refuses", "[dispatch]") {
  auto gate = std::make_shared<gate_handler>();
  memory_dispatcher d(route_table({route_spec{"", "", "", {"gate"}}}), {{"gate", gate}}, 10);
  for (int i = 0; i < 5; ++i)
    d.submit(hookd::test::sample_event(std::to_string(i)), nullptr);
  REQUIRE(gate->wait_entered(1));
  std::thread opener([&] {
    std::this_thread::sleep_for(50ms);
    gate->open();
  });
  d.stop(60s);  // returns once all five are delivered
  opener.join();
  CHECK(gate->seen() == std::vector<std::string>{"0", "1", "2", "3", "4"});
  submit_status status = submit_status::accepted;
  d.submit(hookd::test::sample_event("late"), [&](submit_status s) { status = s; });
  CHECK(status == submit_status::unavailable);
  d.stop(0s);  // idempotent
}

TEST_CASE("memory dispatcher stop() with no grace drops what is queued", "[dispatch]") {
  auto gate = std::make_shared<gate_handler>();
  memory_dispatcher d(route_table({route_spec{"", "", "", {"gate"}}}), {{"gate", gate}}, 10);
  for (int i = 0; i < 5; ++i)
    d.submit(hookd::test::sample_event(std::to_string(i)), nullptr);
  REQUIRE(gate->wait_entered(1));
  std::thread stopper([&] { d.stop(0s); });
  // stop() waits for the delivery in progress; once it has begun (deadline passed), open the gate.
  REQUIRE(wait_until([&] { return !d.accepting(); }));
  gate->open();
  stopper.join();
  CHECK(gate->seen() == std::vector<std::string>{"0"});
  CHECK(d.queued() == 0);
}

TEST_CASE("memory dispatcher refuses routes naming unknown handlers", "[dispatch]") {
  CHECK_THROWS_WITH(memory_dispatcher(route_table({route_spec{"", "", "", {"nope"}}}), {}, 10),
                    Catch::Contains("unknown handler nope"));
  CHECK_THROWS_WITH(memory_dispatcher(route_table{}, {}, 0), Catch::Contains("dispatch.queue"));
}

TEST_CASE("memory dispatcher reopen() reaches every handler", "[dispatch]") {
  hookd::test::temp_dir dir;
  memory_dispatcher d(config_with_files(dir));
  d.submit(hookd::test::sample_event("1"), nullptr);
  REQUIRE(wait_until([&] { return d.processed() == 1; }));
  std::filesystem::rename(dir / "all.jsonl", dir / "all.jsonl.1");
  d.reopen();
  d.submit(hookd::test::sample_event("2"), nullptr);
  d.stop(30s);
  CHECK_THAT(hookd::test::read_file(dir / "all.jsonl"), Catch::Contains("\"id\":\"2\""));
  CHECK_THAT(hookd::test::read_file(dir / "all.jsonl.1"), !Catch::Contains("\"id\":\"2\""));
}
