// The durable dispatcher against a real spool file, real file and exec handlers, and small
// /bin/sh scripts written by the tests. Time is the spool's injected clock: the tests move it
// instead of sleeping through retry delays.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/dispatch/durable_dispatcher.hpp>
#include <hookd/handlers/handler.hpp>
#include <hookd/spool/spool.hpp>

#include "../handlers/sample_event.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using hookd::config::route_spec;
using hookd::dispatch::durable_dispatcher;
using hookd::dispatch::route_table;
using hookd::dispatch::submit_status;
using hookd::spool::delivery_state;
using hookd::spool::time_point;

namespace {

/// A clock the test moves by hand, shared by the spool and the dispatcher.
struct test_clock {
  std::atomic<std::int64_t> ms{1'790'000'000'000};
  time_point now() const { return time_point{std::chrono::milliseconds{ms.load()}}; }
  void set(time_point t) {
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  }
  void advance(std::chrono::milliseconds d) { ms += d.count(); }
  hookd::spool::clock_fn fn() {
    return [this] { return now(); };
  }
};

/// Polls `cond` until true or a generous deadline.
bool eventually(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::vector<std::string> out;
  std::istringstream in(hookd::test::read_file(file));
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

/// Writes an executable /bin/sh script.
std::string script(const hookd::test::temp_dir& dir, const std::string& name,
                   const std::string& body) {
  const auto path = dir.write(name, "#!/bin/sh\n" + body);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path.string();
}

std::shared_ptr<hookd::handlers::handler> file_handler(const std::string& name,
                                                       const std::filesystem::path& path) {
  return hookd::handlers::make_handler(
      {name, hookd::config::file_handler{path.string(), false}, {}});
}

std::shared_ptr<hookd::handlers::handler> exec_handler(const std::string& name,
                                                       const std::string& program,
                                                       unsigned concurrency = 1,
                                                       hookd::duration timeout = 30s) {
  hookd::config::exec_handler e;
  e.command = {program};
  e.timeout = timeout;
  e.concurrency = concurrency;
  return hookd::handlers::make_handler({name, e, {}});
}

hookd::event event_with(std::string id, std::string type = "customer.created",
                        std::string endpoint = "altoviz") {
  auto ev = hookd::test::sample_event(std::move(id));
  ev.type = std::move(type);
  ev.endpoint = endpoint;
  ev.source = "hookd/" + endpoint;
  return ev;
}

/// Stores `ev` for `handlers` straight into `spool`, as a daemon did before this one started.
void store_event(hookd::spool::store& spool, hookd::event ev, std::vector<std::string> handlers) {
  auto p = std::make_shared<std::promise<hookd::spool::append_status>>();
  auto fut = p->get_future();
  spool.append(hookd::spool::make_record(ev, std::move(handlers)),
               [p](hookd::spool::append_status s) { p->set_value(s); });
  REQUIRE(fut.wait_for(60s) == std::future_status::ready);
  REQUIRE(fut.get() == hookd::spool::append_status::accepted);
}

/// A spool file in a temp dir, its clock and wake-up, and a dispatcher over it.
struct fixture {
  hookd::test::temp_dir dir;
  test_clock clock;
  std::shared_ptr<hookd::dispatch::wakeup> wake = std::make_shared<hookd::dispatch::wakeup>();
  std::unique_ptr<hookd::spool::store> spool;
  std::unique_ptr<durable_dispatcher> dispatcher;

  hookd::spool::options spool_options(hookd::spool::role mode = hookd::spool::role::daemon) {
    hookd::spool::options o;
    o.path = dir / "var/hookd.db";
    o.mode = mode;
    o.clock = clock.fn();
    o.busy_timeout = 60s;
    if (mode == hookd::spool::role::daemon) o.on_commit = [w = wake] { w->notify(); };
    return o;
  }

  void open_spool() { spool = std::make_unique<hookd::spool::store>(spool_options()); }

  void start(std::vector<route_spec> routes, durable_dispatcher::handler_map handlers,
             hookd::config::retry_policy retry = {}, unsigned workers = 4,
             hookd::duration max_idle = 1s) {
    if (!spool) open_spool();
    durable_dispatcher::options o;
    o.workers = workers;
    o.default_retry = retry;
    o.clock = clock.fn();
    o.wake = wake;
    o.max_idle = max_idle;
    o.seed = 42;
    dispatcher = std::make_unique<durable_dispatcher>(*spool, route_table(std::move(routes)),
                                                      std::move(handlers), std::move(o));
  }

  submit_status submit(hookd::event ev) {
    auto p = std::make_shared<std::promise<submit_status>>();
    auto f = p->get_future();
    dispatcher->submit(std::move(ev), [p](submit_status s) { p->set_value(s); });
    REQUIRE(f.wait_for(60s) == std::future_status::ready);
    return f.get();
  }

  /// The one event with this id.
  hookd::spool::event_detail show(const std::string& id) {
    auto found = spool->show(id);
    REQUIRE(found.size() == 1);
    return found.front();
  }
};

route_spec to(std::vector<std::string> handlers, std::string type = "", std::string endpoint = "") {
  return route_spec{std::move(endpoint), "", std::move(type), std::move(handlers)};
}

}  // namespace

TEST_CASE("events reach the file and exec handlers their routes name", "[durable]") {
  fixture f;
  const auto audit = f.dir / "audit.jsonl";
  const auto seen = f.dir / "seen.txt";
  const auto prog = script(f.dir, "on-invoice.sh",
                           "cat > /dev/null\necho \"$HOOKD_EVENT_ID $HOOKD_EVENT_TYPE "
                           "$HOOKD_ATTEMPT\" >> " +
                               seen.string() + "\n");
  f.start({to({"audit"}, "", "altoviz"), to({"script"}, "invoice.*")},
          {{"audit", file_handler("audit", audit)}, {"script", exec_handler("script", prog)}});

  REQUIRE(f.submit(event_with("c1", "customer.created")) == submit_status::accepted);
  REQUIRE(f.submit(event_with("i1", "invoice.created")) == submit_status::accepted);
  // No route matches: stored (dedup, audit), delivered nowhere.
  REQUIRE(f.submit(event_with("x1", "customer.created", "other")) == submit_status::accepted);

  REQUIRE(eventually([&] { return lines_of(audit).size() == 2 && lines_of(seen).size() == 1; }));
  REQUIRE(eventually([&] {
    return f.spool->stats().handlers.size() == 2 && f.spool->stats().handlers[0].done == 2 &&
           f.spool->stats().handlers[1].done == 1;
  }));
  const auto audit_lines = lines_of(audit);
  CHECK(hookd::json::parse(audit_lines[0])["id"] == "c1");
  CHECK(hookd::json::parse(audit_lines[1])["id"] == "i1");
  CHECK(lines_of(seen) == std::vector<std::string>{"i1 invoice.created 1"});

  const auto unrouted = f.show("x1");
  CHECK(unrouted.deliveries.empty());
  CHECK(unrouted.summary.endpoint == "other");
  // Submitting it again is still a duplicate: it was stored.
  CHECK(f.submit(event_with("x1", "customer.created", "other")) == submit_status::duplicate);

  f.dispatcher->stop(10s);
  CHECK(f.dispatcher->counters().delivered == 3);
  CHECK(f.submit(event_with("late")) == submit_status::unavailable);
}

TEST_CASE("a failing exec handler is retried on schedule, goes dead, and replay delivers it",
          "[durable]") {
  fixture f;
  const auto attempts = f.dir / "attempts.txt";
  const auto prog = script(f.dir, "hook.sh",
                           "cat > /dev/null\necho \"$HOOKD_ATTEMPT\" >> " + attempts.string() +
                               "\necho 'database down' >&2\nexit 3\n");
  hookd::config::retry_policy policy;
  policy.attempts = 3;
  policy.initial = 10s;
  policy.max = 1h;
  // A short max_idle: the replay below comes from another store (as `hookd events replay` does)
  // and is found by the workers' bounded poll, not by a notification.
  f.start({to({"hook"})}, {{"hook", exec_handler("hook", prog)}}, policy, 4, 50ms);

  REQUIRE(f.submit(event_with("e1")) == submit_status::accepted);
  const auto t0 = f.clock.now();
  auto settled_attempts = [&](unsigned n) {
    return eventually([&] {
      const auto d = f.show("e1").deliveries;
      return d.size() == 1 && d[0].attempts == n && !d[0].claimed;
    });
  };

  // Attempt 1 fails: the retry is scheduled 5..10 s later (10 s with equal jitter).
  REQUIRE(settled_attempts(1));
  auto d = f.show("e1").deliveries.at(0);
  CHECK(d.state == delivery_state::pending);
  CHECK(d.last_error.find("exit status 3") != std::string::npos);
  CHECK(d.last_error.find("database down") != std::string::npos);
  CHECK(d.next_attempt_at >= t0 + 5s);
  CHECK(d.next_attempt_at <= t0 + 10s);

  // Not due yet: one millisecond before the scheduled time nothing runs.
  f.clock.set(d.next_attempt_at - 1ms);
  f.dispatcher->wake();
  std::this_thread::sleep_for(200ms);
  CHECK(lines_of(attempts) == std::vector<std::string>{"1"});

  // Due: attempt 2 runs and fails; the next delay doubles (10..20 s).
  const auto t1 = d.next_attempt_at;
  f.clock.set(t1);
  f.dispatcher->wake();
  REQUIRE(settled_attempts(2));
  d = f.show("e1").deliveries.at(0);
  CHECK(d.state == delivery_state::pending);
  CHECK(d.next_attempt_at >= t1 + 10s);
  CHECK(d.next_attempt_at <= t1 + 20s);

  // Attempt 3 is the last the policy allows: dead, with every attempt in the history.
  f.clock.set(d.next_attempt_at);
  f.dispatcher->wake();
  REQUIRE(settled_attempts(3));
  d = f.show("e1").deliveries.at(0);
  CHECK(d.state == delivery_state::dead);
  REQUIRE(d.history.size() == 3);
  for (const auto& a : d.history) {
    CHECK_FALSE(a.ok);
    CHECK(a.error.find("exit status 3") != std::string::npos);
  }
  CHECK(lines_of(attempts) == std::vector<std::string>{"1", "2", "3"});
  hookd::spool::list_filter dead;
  dead.state = delivery_state::dead;
  CHECK(f.spool->list(dead).size() == 1);

  // Fixed script, replayed from another store on the same file (as the CLI does): delivered,
  // with the next attempt number.
  script(f.dir, "hook.sh",
         "cat > /dev/null\necho \"$HOOKD_ATTEMPT ok\" >> " + attempts.string() + "\nexit 0\n");
  {
    hookd::spool::store client(f.spool_options(hookd::spool::role::client));
    CHECK(client.replay({"e1"}) == 1);
  }
  REQUIRE(eventually([&] { return f.show("e1").deliveries.at(0).state == delivery_state::done; }));
  d = f.show("e1").deliveries.at(0);
  CHECK(d.attempts == 4);
  CHECK(d.round_attempts == 1);
  CHECK(lines_of(attempts) == std::vector<std::string>{"1", "2", "3", "4 ok"});
}

TEST_CASE("a duplicate submit creates no delivery: the handler runs once", "[durable]") {
  fixture f;
  const auto out = f.dir / "out.txt";
  const auto prog = script(f.dir, "once.sh",
                           "cat > /dev/null\necho \"$HOOKD_EVENT_ID\" >> " + out.string() + "\n");
  f.start({to({"once"})}, {{"once", exec_handler("once", prog)}});
  REQUIRE(f.submit(event_with("dup")) == submit_status::accepted);
  REQUIRE(f.submit(event_with("dup")) == submit_status::duplicate);
  REQUIRE(eventually([&] { return lines_of(out).size() == 1; }));
  f.dispatcher->stop(10s);
  const auto st = f.spool->stats();
  REQUIRE(st.handlers.size() == 1);
  CHECK(st.handlers[0].done == 1);
  CHECK(st.handlers[0].pending == 0);
  CHECK(st.events == 1);
  CHECK(lines_of(out) == std::vector<std::string>{"dup"});
}

TEST_CASE("a concurrency-1 handler gets events one at a time in order of arrival", "[durable]") {
  fixture f;
  const auto out = f.dir / "order.txt";
  // Start and end lines: overlapping runs or a wrong order show in the file.
  const auto prog =
      script(f.dir, "ordered.sh",
             "cat > /dev/null\necho \"start $HOOKD_EVENT_ID\" >> " + out.string() +
                 "\nsleep 0.02\necho \"end $HOOKD_EVENT_ID\" >> " + out.string() + "\n");
  f.start({to({"ordered"})}, {{"ordered", exec_handler("ordered", prog, 1)}}, {}, 4);
  constexpr int n = 8;
  std::vector<std::future<submit_status>> results;
  for (int i = 0; i < n; ++i) {
    auto p = std::make_shared<std::promise<submit_status>>();
    results.push_back(p->get_future());
    f.dispatcher->submit(event_with("ev" + std::to_string(i)),
                         [p](submit_status s) { p->set_value(s); });
  }
  for (auto& r : results) {
    REQUIRE(r.wait_for(60s) == std::future_status::ready);
    REQUIRE(r.get() == submit_status::accepted);
  }
  REQUIRE(eventually([&] { return lines_of(out).size() == 2 * n; }));
  std::vector<std::string> expected;
  for (int i = 0; i < n; ++i) {
    expected.push_back("start ev" + std::to_string(i));
    expected.push_back("end ev" + std::to_string(i));
  }
  CHECK(lines_of(out) == expected);
}

TEST_CASE("a higher concurrency lets runs of one handler overlap", "[durable]") {
  fixture f;
  const auto dir = f.dir / "running";
  std::filesystem::create_directories(dir);
  // Each run waits (bounded) until three runs are in progress at once.
  const auto prog =
      script(f.dir, "wide.sh",
             "cat > /dev/null\ntouch " + dir.string() + "/$HOOKD_EVENT_ID\ni=0\nwhile [ $(ls " +
                 dir.string() +
                 " | wc -l) -lt 3 ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done\n"
                 "[ $(ls " +
                 dir.string() + " | wc -l) -ge 3 ]\n");
  f.start({to({"wide"})}, {{"wide", exec_handler("wide", prog, 3)}}, {}, 4);
  for (int i = 0; i < 3; ++i)
    REQUIRE(f.submit(event_with("w" + std::to_string(i))) == submit_status::accepted);
  REQUIRE(eventually([&] {
    const auto st = f.spool->stats();
    return st.handlers.size() == 1 && st.handlers[0].done == 3;
  }));
  CHECK(f.dispatcher->counters().failed == 0);
}

TEST_CASE("deliveries claimed by a process that died are delivered after restart", "[durable]") {
  fixture f;
  const auto audit = f.dir / "audit.jsonl";
  {
    // The "crashed" daemon: it stored the event and claimed its delivery, then vanished.
    hookd::spool::store crashed(f.spool_options());
    store_event(crashed, event_with("c1"), {"audit"});
    hookd::spool::claim_request req;
    req.limit = 10;
    const auto claimed = crashed.claim(req);
    REQUIRE(claimed.ok);
    REQUIRE(claimed.deliveries.size() == 1);
  }
  f.start({to({"audit"})}, {{"audit", file_handler("audit", audit)}});
  REQUIRE(eventually([&] { return lines_of(audit).size() == 1; }));
  REQUIRE(eventually([&] { return f.show("c1").deliveries.at(0).state == delivery_state::done; }));
  CHECK(f.show("c1").deliveries.at(0).attempts == 1);
}

TEST_CASE("a delivery to a handler no longer configured is dead, saying so", "[durable]") {
  fixture f;
  f.open_spool();
  store_event(*f.spool, event_with("g1"), {"gone"});
  f.start({to({"audit"})}, {{"audit", file_handler("audit", f.dir / "audit.jsonl")}});
  REQUIRE(eventually([&] { return f.show("g1").deliveries.at(0).state == delivery_state::dead; }));
  CHECK(f.show("g1").deliveries.at(0).last_error == "handler gone is not configured");
}

TEST_CASE("stop(grace) returns while a handler is still running, its claim stays", "[durable]") {
  fixture f;
  const auto started = f.dir / "started";
  const auto prog =
      script(f.dir, "slow.sh", "cat > /dev/null\ntouch " + started.string() + "\nsleep 3\n");
  f.start({to({"slow"})}, {{"slow", exec_handler("slow", prog)}});
  REQUIRE(f.submit(event_with("s1")) == submit_status::accepted);
  REQUIRE(eventually([&] { return std::filesystem::exists(started); }));

  auto stopped = std::async(std::launch::async, [&] { f.dispatcher->stop(100ms); });
  REQUIRE(stopped.wait_for(30s) == std::future_status::ready);
  CHECK_FALSE(f.dispatcher->accepting());
  const auto d = f.show("s1").deliveries.at(0);
  CHECK(d.claimed);
  CHECK(d.state == delivery_state::pending);
  CHECK(d.attempts == 0);
}

TEST_CASE("stop(grace) lets a delivery in flight finish and records it", "[durable]") {
  fixture f;
  const auto started = f.dir / "started";
  const auto done = f.dir / "done";
  const auto prog = script(
      f.dir, "short.sh",
      "cat > /dev/null\ntouch " + started.string() + "\nsleep 0.3\ntouch " + done.string() + "\n");
  f.start({to({"short"})}, {{"short", exec_handler("short", prog)}});
  REQUIRE(f.submit(event_with("s2")) == submit_status::accepted);
  REQUIRE(eventually([&] { return std::filesystem::exists(started); }));
  f.dispatcher->stop(60s);
  CHECK(std::filesystem::exists(done));
  const auto d = f.show("s2").deliveries.at(0);
  CHECK(d.state == delivery_state::done);
  CHECK_FALSE(d.claimed);
}

TEST_CASE(
    "deliveries claimed together and not started are given back by stop, then delivered "
    "in order after a restart",
    "[durable]") {
  fixture f;
  const auto started = f.dir / "started.txt";
  const auto go = f.dir / "go";
  // Every run records its event, then waits (bounded) until the test lets it end.
  const auto prog = script(f.dir, "gated.sh",
                           "cat > /dev/null\necho \"$HOOKD_EVENT_ID\" >> " + started.string() +
                               "\ni=0\nwhile [ ! -e " + go.string() +
                               " ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n");
  const auto handlers = [&] {
    return durable_dispatcher::handler_map{{"gated", exec_handler("gated", prog, 1)}};
  };
  // Stored before the dispatcher starts, so its first claim finds them all: one claim takes
  // them together, and only the first starts while the concurrency-1 handler is busy.
  constexpr int n = 5;
  f.open_spool();
  for (int i = 0; i < n; ++i)
    store_event(*f.spool, event_with("g" + std::to_string(i)), {"gated"});
  f.start({to({"gated"})}, handlers());
  REQUIRE(eventually([&] {
    const auto st = f.spool->stats();
    return lines_of(started).size() == 1 && st.handlers.size() == 1 &&
           st.handlers[0].claimed == static_cast<std::size_t>(n);
  }));
  CHECK(lines_of(started) == std::vector<std::string>{"g0"});

  // No grace: the run at the gate keeps its claim; the four not started are given back.
  f.dispatcher->stop(0s);
  {
    const auto st = f.spool->stats();
    REQUIRE(st.handlers.size() == 1);
    CHECK(st.handlers[0].claimed == 1);
    CHECK(st.handlers[0].pending == static_cast<std::size_t>(n));
  }
  for (int i = 1; i < n; ++i) {
    const auto d = f.show("g" + std::to_string(i)).deliveries.at(0);
    CHECK_FALSE(d.claimed);
    CHECK(d.attempts == 0);
  }

  // Restart, as after a crash: the first delivery runs again (at least once), then the others,
  // in order of arrival.
  std::ofstream(go.string()).put('\n');
  f.dispatcher.reset();
  f.spool.reset();
  f.start({to({"gated"})}, handlers());
  REQUIRE(eventually([&] {
    const auto st = f.spool->stats();
    return st.handlers.size() == 1 && st.handlers[0].done == static_cast<std::size_t>(n);
  }));
  CHECK(lines_of(started) == std::vector<std::string>{"g0", "g0", "g1", "g2", "g3", "g4"});
  for (int i = 0; i < n; ++i)
    CHECK(f.show("g" + std::to_string(i)).deliveries.at(0).attempts == 1);
}

TEST_CASE("a handler never runs more deliveries at once than its concurrency", "[durable]") {
  fixture f;
  const auto running = f.dir / "running";
  const auto seen = f.dir / "seen.txt";
  std::filesystem::create_directories(running);
  // Each run notes how many runs are in progress with it, and stays a moment so runs overlap.
  const auto prog = script(f.dir, "counted.sh",
                           "cat > /dev/null\ntouch " + running.string() + "/$HOOKD_EVENT_ID\nls " +
                               running.string() + " | wc -l >> " + seen.string() +
                               "\nsleep 0.05\nrm " + running.string() + "/$HOOKD_EVENT_ID\n");
  f.start({to({"counted"})}, {{"counted", exec_handler("counted", prog, 2)}}, {}, 4);
  constexpr int n = 12;
  for (int i = 0; i < n; ++i)
    REQUIRE(f.submit(event_with("c" + std::to_string(i))) == submit_status::accepted);
  REQUIRE(eventually([&] {
    const auto st = f.spool->stats();
    return st.handlers.size() == 1 && st.handlers[0].done == static_cast<std::size_t>(n);
  }));
  const auto counts = lines_of(seen);
  REQUIRE(counts.size() == static_cast<std::size_t>(n));
  for (const auto& c : counts) {
    INFO(c);
    CHECK(std::stoi(c) >= 1);
    CHECK(std::stoi(c) <= 2);
  }
}

TEST_CASE("routes naming an unknown handler are refused", "[durable]") {
  fixture f;
  f.open_spool();
  CHECK_THROWS_WITH(durable_dispatcher(*f.spool, route_table({to({"missing"})}), {}, {}),
                    Catch::Contains("unknown handler missing"));
}
