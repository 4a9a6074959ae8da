#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <hookd/spool/spool.hpp>
#include <hookd/spool/sqlite.hpp>

#include "store_impl.hpp"  // to_ms: how the spool stores a time
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using hookd::spool::append_status;
using hookd::spool::delivery_state;
using hookd::spool::outcome;
using hookd::spool::record;
using hookd::spool::settle_status;
using hookd::spool::store;
using hookd::spool::time_point;

namespace {

/// A clock the test moves by hand.
struct test_clock {
  std::atomic<std::int64_t> ms{1'790'000'000'000};
  time_point now() const { return time_point{std::chrono::milliseconds{ms.load()}}; }
  void advance(std::chrono::milliseconds d) { ms += d.count(); }
  hookd::spool::clock_fn fn() {
    return [this] { return now(); };
  }
};

hookd::spool::options make_options(const hookd::test::temp_dir& dir, test_clock& clock,
                                   const std::string& name = "spool/hookd.db") {
  hookd::spool::options o;
  o.path = dir / name;
  o.clock = clock.fn();
  o.busy_timeout = 60s;  // generous: some tests hold the write lock on purpose
  return o;
}

hookd::spool::options client_options(const hookd::spool::options& daemon) {
  auto o = daemon;
  o.mode = hookd::spool::role::client;
  return o;
}

record make(const std::string& endpoint, const std::string& id,
            std::vector<std::string> handlers = {"audit"}, std::size_t body = 0) {
  hookd::event ev;
  ev.id = id;
  ev.endpoint = endpoint;
  ev.source = "hookd/" + endpoint;
  ev.provider = "altoviz";
  ev.type = "customer.created";
  ev.entity = "customer";
  ev.action = "created";
  ev.providertype = "CustomerCreated";
  ev.subject = "370";
  ev.time = time_point{std::chrono::milliseconds{1'790'000'000'123}};
  ev.data = hookd::json::object();
  ev.data["id"] = 370;
  if (body > 0) ev.data["pad"] = std::string(body, 'x');
  return hookd::spool::make_record(ev, std::move(handlers));
}

hookd::spool::claim_request req(std::size_t limit,
                                std::optional<std::string> handler = std::nullopt,
                                std::map<std::string, std::size_t> capacity = {}) {
  hookd::spool::claim_request r;
  r.limit = limit;
  r.handler = std::move(handler);
  r.capacity = std::move(capacity);
  return r;
}

hookd::spool::list_filter filter_state(delivery_state st) {
  hookd::spool::list_filter f;
  f.state = st;
  return f;
}
hookd::spool::list_filter filter_limit(std::size_t n) {
  hookd::spool::list_filter f;
  f.limit = n;
  return f;
}
hookd::spool::list_filter filter_endpoint(std::string e) {
  hookd::spool::list_filter f;
  f.endpoint = std::move(e);
  return f;
}
hookd::spool::list_filter filter_type(std::string g) {
  hookd::spool::list_filter f;
  f.type_glob = std::move(g);
  return f;
}

/// Appends and waits (bounded) for the completion.
append_status append_wait(store& s, record r) {
  auto p = std::make_shared<std::promise<append_status>>();
  auto f = p->get_future();
  s.append(std::move(r), [p](append_status st) { p->set_value(st); });
  REQUIRE(f.wait_for(60s) == std::future_status::ready);
  return f.get();
}

/// Hands an outcome to the writer; the future is its completion.
std::future<settle_status> settle_later(store& s, std::int64_t id, outcome o) {
  auto p = std::make_shared<std::promise<settle_status>>();
  auto f = p->get_future();
  s.settle_async(id, std::move(o), [p](settle_status st) { p->set_value(st); });
  return f;
}

settle_status wait(std::future<settle_status>& f) {
  REQUIRE(f.wait_for(60s) == std::future_status::ready);
  return f.get();
}

/// Polls `cond` until true or a generous deadline.
template <class F>
bool eventually(F cond) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

/// A raw connection to the spool file, as another process would have.
hookd::spool::sqlite::connection raw(const std::filesystem::path& file) {
  auto c = hookd::spool::sqlite::connection::open(file, SQLITE_OPEN_READWRITE);
  sqlite3_busy_timeout(c.get(), 60000);
  return c;
}

/// `count` events ev-1, ev-2... of `endpoint` received at `received_ms`, written as another
/// process would (one statement, however many).
void insert_events(hookd::spool::sqlite::connection& c, int count, std::int64_t received_ms,
                   const std::string& endpoint) {
  const auto sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                   std::to_string(count) +
                   ") INSERT INTO events(endpoint, event_id, type, provider, subject, received_at, "
                   "cloudevent) SELECT '" +
                   endpoint + "', 'ev-' || i, 't', 'altoviz', '', " + std::to_string(received_ms) +
                   ", '{}' FROM n";
  REQUIRE(c.exec(sql.c_str()) == SQLITE_OK);
}

/// A pending delivery to `handler`, due at arrival, for each of the first `count` events.
void insert_pending(hookd::spool::sqlite::connection& c, const std::string& handler, int count) {
  const auto sql =
      "INSERT INTO deliveries(event_seq, handler, state, next_attempt_at, "
      "updated_at) SELECT seq, '" +
      handler +
      "', 'pending', received_at, "
      "received_at FROM events WHERE seq <= " +
      std::to_string(count);
  REQUIRE(c.exec(sql.c_str()) == SQLITE_OK);
}

std::string integrity(const std::filesystem::path& file) {
  auto c = raw(file);
  auto s = c.prepare("PRAGMA integrity_check");
  REQUIRE(s.step() == SQLITE_ROW);
  return s.text(0);
}

/// The key columns of deliveries_claimable, comma-separated: the order a claim seeks in.
std::string claimable_index_columns(hookd::spool::sqlite::connection& c) {
  auto q = c.prepare("SELECT name FROM pragma_index_info('deliveries_claimable') ORDER BY seqno");
  std::string out;
  while (q.step() == SQLITE_ROW) {
    if (!out.empty()) out += ',';
    out += q.text(0);
  }
  return out;
}

/// Holds SQLite's write lock from another connection, so the writer's next batch waits and
/// appends pile up in the queue: makes group commit deterministic to observe.
struct write_lock {
  hookd::spool::sqlite::connection c;
  explicit write_lock(const std::filesystem::path& file) : c(raw(file)) {
    REQUIRE(c.exec("BEGIN IMMEDIATE") == SQLITE_OK);
  }
  void release() { c.exec("ROLLBACK"); }
};

}  // namespace

TEST_CASE("an appended event is stored and read back as given", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  const auto r = make("altoviz", "1233", {"audit", "console"});
  CHECK(append_wait(s, r) == append_status::accepted);

  const auto found = s.show("1233");
  REQUIRE(found.size() == 1);
  CHECK(found[0].cloudevent == r.cloudevent);
  CHECK(found[0].summary.endpoint == "altoviz");
  CHECK(found[0].summary.type == "customer.created");
  CHECK(found[0].summary.subject == "370");
  CHECK(found[0].summary.received == r.received);
  CHECK(found[0].summary.state == delivery_state::pending);
  REQUIRE(found[0].deliveries.size() == 2);
  CHECK(found[0].deliveries[0].handler == "audit");
  CHECK(found[0].deliveries[1].handler == "console");
  CHECK(found[0].deliveries[0].state == delivery_state::pending);
  CHECK(found[0].deliveries[0].next_attempt_at == clock.now());

  // By row number as well.
  const auto by_seq = s.show(std::to_string(found[0].summary.seq));
  REQUIRE(by_seq.size() == 1);
  CHECK(by_seq[0].summary.event_id == "1233");
  CHECK(s.show("nope").empty());

  // The file has the documented settings.
  auto c = raw(opts.path);
  CHECK(c.query_int("PRAGMA user_version") == hookd::spool::schema_version);
  auto jm = c.prepare("PRAGMA journal_mode");
  REQUIRE(jm.step() == SQLITE_ROW);
  CHECK(jm.text(0) == "wal");
}

TEST_CASE("SQLite's memory statistics are off in a process that opened a spool", "[spool]") {
  // They cost a global mutex around every allocation. sqlite3_config can only turn them off
  // before SQLite initializes: the spool opening its VFS first had made it fail unnoticed. Each
  // test case runs in a process of its own, so the store below is the first to call SQLite.
  hookd::test::temp_dir dir;
  test_clock clock;
  store s(make_options(dir, clock));
  CHECK(append_wait(s, make("altoviz", "1", {"audit"})) == append_status::accepted);
  CHECK(sqlite3_memory_used() == 0);  // nothing counted
}

TEST_CASE("a transaction is rolled back even when a progress handler interrupts BEGIN or ROLLBACK",
          "[spool][sqlite]") {
  hookd::test::temp_dir dir;
  auto c = hookd::spool::sqlite::connection::open(dir / "t.db",
                                                  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // As cancel_reads() does: every 1 000 virtual machine steps, interrupt while the flag is set.
  // A cached statement counts its steps across runs, so over 2 000 rounds BEGIN and ROLLBACK
  // each cross a multiple of 1 000 at every point of their short programs.
  bool interrupt = false;
  sqlite3_progress_handler(
      c.get(), 1000, [](void* flag) -> int { return *static_cast<bool*>(flag) ? 1 : 0; },
      &interrupt);
  int begins_interrupted = 0;
  for (int round = 0; round < 2000; ++round) {
    {
      interrupt = round % 2 == 1;  // every other BEGIN runs with the handler interrupting
      const hookd::spool::sqlite::transaction tx(c, "BEGIN");
      if (tx.begin_rc() == SQLITE_INTERRUPT) ++begins_interrupted;
      interrupt = true;  // the rollback at scope exit too
    }
    INFO("round " << round);
    REQUIRE(c.autocommit());  // nothing left open, whatever was interrupted
  }
  interrupt = false;
  CHECK(begins_interrupted > 0);  // the case was met
  CHECK(c.exec("BEGIN; CREATE TABLE t(x); COMMIT") == SQLITE_OK);
}

TEST_CASE("a record with invalid UTF-8 is stored as valid JSON", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  store s(make_options(dir, clock));
  auto r = make("weavy", "x");
  hookd::event ev = hookd::from_cloudevent(hookd::json::parse(r.cloudevent));
  ev.providertype = "New\xff";
  r = hookd::spool::make_record(ev, {"audit"});
  CHECK(hookd::json::accept(r.cloudevent));
  CHECK(append_wait(s, r) == append_status::accepted);
  const auto found = s.show("x");
  REQUIRE(found.size() == 1);
  CHECK(found[0].cloudevent == r.cloudevent);
}

TEST_CASE("the same endpoint and id is a duplicate, another endpoint is not", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  CHECK(append_wait(s, make("altoviz", "1")) == append_status::accepted);
  CHECK(append_wait(s, make("altoviz", "1")) == append_status::duplicate);
  CHECK(append_wait(s, make("offerte", "1")) == append_status::accepted);
  CHECK(append_wait(s, make("altoviz", "2")) == append_status::accepted);

  const auto st = s.stats();
  CHECK(st.events == 3);
  CHECK(st.dedup_keys == 3);
  {
    // Each stored event is its own key (events_by_key): an arrival writes no dedup_keys row and
    // no second index on the event id (schema_v5).
    auto conn = raw(opts.path);
    CHECK(conn.query_int("SELECT COUNT(*) FROM dedup_keys") == 0);
    CHECK(conn.query_int("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND "
                         "tbl_name = 'events' AND sql LIKE '%event_id%'") == 1);
  }
  REQUIRE(st.handlers.size() == 1);
  CHECK(st.handlers[0].pending == 3);  // the duplicate created no delivery
  const auto w = s.stats_writer();
  CHECK(w.accepted == 3);
  CHECK(w.duplicates == 1);
}

TEST_CASE("a repeat inside one batch is a duplicate", "[spool][group-commit]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  REQUIRE(append_wait(s, make("a", "warm-up")) == append_status::accepted);

  write_lock lock(opts.path);
  std::promise<append_status> first_p;
  s.append(make("a", "blocker"), [&](append_status st) { first_p.set_value(st); });
  REQUIRE(eventually([&] { return s.stats_writer().queued == 0; }));  // the writer took it
  std::promise<append_status> one_p;
  std::promise<append_status> two_p;
  s.append(make("a", "same"), [&](append_status st) { one_p.set_value(st); });
  s.append(make("a", "same"), [&](append_status st) { two_p.set_value(st); });
  REQUIRE(s.stats_writer().queued == 2);
  lock.release();

  auto f0 = first_p.get_future();
  auto f1 = one_p.get_future();
  auto f2 = two_p.get_future();
  REQUIRE(f2.wait_for(60s) == std::future_status::ready);
  CHECK(f0.get() == append_status::accepted);
  CHECK(f1.get() == append_status::accepted);
  CHECK(f2.get() == append_status::duplicate);
  const auto w = s.stats_writer();
  REQUIRE(!w.recent.empty());
  CHECK(w.recent.back().size == 2);  // both in one transaction
  CHECK(s.show("same").size() == 1);
}

TEST_CASE("concurrent appends are committed in fewer transactions, each answered once",
          "[spool][group-commit]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  constexpr int threads = 4;
  constexpr int per_thread = 50;
  constexpr int total = threads * per_thread;
  std::vector<std::atomic<int>> calls(total);
  std::vector<std::atomic<int>> accepted(total);

  auto append = [&](int n) {
    s.append(make("altoviz", "ev-" + std::to_string(n)), [&, n](append_status st) {
      ++calls[static_cast<std::size_t>(n)];
      if (st == append_status::accepted) ++accepted[static_cast<std::size_t>(n)];
    });
  };
  write_lock lock(opts.path);  // appends pile up while the first batch waits for the lock
  // The writer takes the first append and waits for the lock with it; only then do the others
  // come, so they are all still queued when the lock is released (however the threads run).
  append(0);
  REQUIRE(eventually([&] { return s.stats_writer().queued == 0; }));
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const int n = t * per_thread + i;
        if (n != 0) append(n);
      }
    });
  }
  for (auto& th : pool)
    th.join();
  CHECK(s.stats_writer().queued == static_cast<std::size_t>(total - 1));
  lock.release();

  REQUIRE(eventually([&] { return s.stats_writer().accepted == total; }));
  // Every completion ran exactly once, and said accepted.
  REQUIRE(eventually([&] {
    for (auto& c : calls)
      if (c.load() != 1) return false;
    return true;
  }));
  for (int n = 0; n < total; ++n) {
    INFO(n);
    CHECK(calls[static_cast<std::size_t>(n)].load() == 1);
    CHECK(accepted[static_cast<std::size_t>(n)].load() == 1);
  }
  const auto w = s.stats_writer();
  CHECK(w.batches < static_cast<std::uint64_t>(total));
  CHECK(w.max_batch_size > 1);
  CHECK(s.stats().events == static_cast<std::size_t>(total));
}

TEST_CASE("a full backlog answers unavailable at once", "[spool][group-commit]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  opts.max_backlog = 1;
  store s(opts);
  write_lock lock(opts.path);
  std::atomic<int> first{-1};
  s.append(make("a", "1"), [&](append_status st) { first = static_cast<int>(st); });
  REQUIRE(eventually([&] { return s.stats_writer().queued == 0; }));
  std::atomic<int> second{-1};
  s.append(make("a", "2"), [&](append_status st) { second = static_cast<int>(st); });
  std::atomic<int> third{-1};
  s.append(make("a", "3"), [&](append_status st) { third = static_cast<int>(st); });
  CHECK(third == static_cast<int>(append_status::unavailable));  // synchronously
  lock.release();
  REQUIRE(eventually([&] { return second.load() != -1; }));
  CHECK(first == static_cast<int>(append_status::accepted));
  CHECK(second == static_cast<int>(append_status::accepted));
  CHECK(s.stats_writer().backlog_rejected == 1);
  CHECK(s.show("3").empty());
}

TEST_CASE("one delivery per handler, repeats ignored, none without handlers", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  store s(make_options(dir, clock));
  CHECK(append_wait(s, make("a", "1", {"audit", "exec", "audit"})) == append_status::accepted);
  CHECK(append_wait(s, make("a", "2", {})) == append_status::accepted);
  auto one = s.show("1");
  REQUIRE(one.size() == 1);
  CHECK(one[0].deliveries.size() == 2);
  auto two = s.show("2");
  REQUIRE(two.size() == 1);
  CHECK(two[0].deliveries.empty());
  CHECK(two[0].summary.state == delivery_state::done);
}

TEST_CASE("claim, settle done, retry and dead, with every attempt in the history", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  store s(make_options(dir, clock));
  REQUIRE(append_wait(s, make("a", "1", {"audit", "exec"})) == append_status::accepted);

  auto c1 = s.claim(req(10));
  REQUIRE(c1.ok);
  REQUIRE(c1.deliveries.size() == 2);
  CHECK(c1.deliveries[0].handler == "audit");
  CHECK(c1.deliveries[0].attempt == 1);
  CHECK(c1.deliveries[0].event_id == "1");
  CHECK(c1.deliveries[0].cloudevent == make("a", "1").cloudevent);
  CHECK(s.claim(req(10)).deliveries.empty());  // claimed ones are not claimed twice

  clock.advance(250ms);
  CHECK(s.settle(c1.deliveries[0].delivery_id, outcome::done()) == settle_status::settled);
  CHECK(s.settle(c1.deliveries[0].delivery_id, outcome::done()) == settle_status::not_claimed);
  const auto retry_at = clock.now() + 10s;
  CHECK(s.settle(c1.deliveries[1].delivery_id, outcome::retry(retry_at, "exit status 3")) ==
        settle_status::settled);
  CHECK(s.next_due_time() == retry_at);

  CHECK(s.claim(req(10)).deliveries.empty());  // not due yet
  clock.advance(10s);
  auto c2 = s.claim(req(10));
  REQUIRE(c2.deliveries.size() == 1);
  CHECK(c2.deliveries[0].handler == "exec");
  CHECK(c2.deliveries[0].attempt == 2);
  CHECK(c2.deliveries[0].round_attempt == 2);
  CHECK(s.settle(c2.deliveries[0].delivery_id, outcome::dead("exit status 4")) ==
        settle_status::settled);
  CHECK(!s.next_due_time());

  auto ev = s.show("1");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].summary.state == delivery_state::dead);
  const auto& audit = ev[0].deliveries[0];
  const auto& exec = ev[0].deliveries[1];
  CHECK(audit.state == delivery_state::done);
  CHECK(audit.attempts == 1);
  REQUIRE(audit.history.size() == 1);
  CHECK(audit.history[0].ok);
  CHECK(audit.history[0].finished - audit.history[0].started == 250ms);
  CHECK(exec.state == delivery_state::dead);
  CHECK(exec.attempts == 2);
  CHECK(exec.last_error == "exit status 4");
  REQUIRE(exec.history.size() == 2);
  CHECK(exec.history[0].number == 1);
  CHECK(!exec.history[0].ok);
  CHECK(exec.history[0].error == "exit status 3");
  CHECK(exec.history[1].error == "exit status 4");

  const auto st = s.stats();
  REQUIRE(st.handlers.size() == 2);
  CHECK(st.handlers[0].handler == "audit");
  CHECK(st.handlers[0].done == 1);
  CHECK(st.handlers[1].dead == 1);
  CHECK(!st.oldest_pending);
}

TEST_CASE("backlog counts pending (claimed or not) and dead per handler, from the oldest pending",
          "[spool][query]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  store s(make_options(dir, clock));
  const auto t0 = clock.now();
  const auto received = [&](const char* id, std::vector<std::string> handlers, int second) {
    auto r = make("a", id, std::move(handlers));
    r.received = t0 + std::chrono::seconds(second);
    return r;
  };
  REQUIRE(append_wait(s, received("1", {"audit", "exec"}, 0)) == append_status::accepted);
  REQUIRE(append_wait(s, received("2", {"audit", "exec"}, 1)) == append_status::accepted);
  REQUIRE(append_wait(s, received("3", {"audit"}, 2)) == append_status::accepted);
  CHECK(s.backlog().pending == std::map<std::string, std::size_t>{{"audit", 3}, {"exec", 2}});
  CHECK(s.backlog().oldest_pending == t0);

  // Event 1: audit done, exec dead. Event 2: audit claimed (still pending), exec retried.
  auto c = s.claim(req(10));
  REQUIRE(c.deliveries.size() == 5);
  for (const auto& d : c.deliveries) {
    if (d.event_id == "1") {
      const auto o = d.handler == "audit" ? outcome::done() : outcome::dead("x");
      REQUIRE(s.settle(d.delivery_id, o) == settle_status::settled);
    } else if (d.event_id == "2" && d.handler == "exec") {
      REQUIRE(s.settle(d.delivery_id, outcome::retry(clock.now() + 1h, "x")) ==
              settle_status::settled);
    } else if (d.event_id == "3") {
      REQUIRE(s.release(d.delivery_id));
    }
  }
  const auto b = s.backlog();
  CHECK(b.pending == std::map<std::string, std::size_t>{{"audit", 2}, {"exec", 1}});
  CHECK(b.dead == std::map<std::string, std::size_t>{{"exec", 1}});
  CHECK(b.oldest_pending == t0 + 1s);  // event 2: its audit delivery is claimed

  for (const auto& d : c.deliveries) {
    if (d.event_id == "2" && d.handler == "audit") {
      REQUIRE(s.settle(d.delivery_id, outcome::done()) == settle_status::settled);
    }
  }
  CHECK(s.backlog().oldest_pending == t0 + 1s);  // event 2: its exec delivery waits for a retry
}

TEST_CASE("cancel_reads: a backlog count is interrupted, appends and claims go on",
          "[spool][query]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  const auto opts = make_options(dir, clock);
  store s(opts);
  // 20 000 pending deliveries, written as another process would: counting them takes about
  // 80 000 of SQLite's virtual machine steps, many times the 1 000 between two looks at the flag.
  constexpr int events = 20000;
  {
    auto c = raw(opts.path);
    insert_events(c, events, clock.ms.load(), "a");
    insert_pending(c, "audit", events);
  }
  CHECK(s.backlog().pending == std::map<std::string, std::size_t>{{"audit", events}});

  s.cancel_reads();
  CHECK_THROWS_WITH(s.backlog(), Catch::Contains("backlog") && Catch::Contains("interrupted"));
  CHECK_THROWS_WITH(s.backlog(), Catch::Contains("interrupted"));  // for good
  // A listing that reads every event (none is dead) is interrupted the same way.
  CHECK_THROWS_WITH(s.list(filter_state(delivery_state::dead)), Catch::Contains("interrupted"));

  // The writer's and the dispatcher's connections are not the read connection's.
  CHECK(append_wait(s, make("a", "after")) == append_status::accepted);
  const auto claimed = s.claim(req(10));
  REQUIRE(claimed.ok);
  CHECK(claimed.deliveries.size() == 10);
  CHECK(s.settle(claimed.deliveries[0].delivery_id, outcome::done()) == settle_status::settled);
}

TEST_CASE("outcomes handed to settle_async are recorded with the writer's next group commit",
          "[spool][group-commit]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  std::atomic<int> wakes{0};
  opts.on_commit = [&] { ++wakes; };
  auto s = std::make_unique<store>(opts);
  for (const char* id : {"1", "2", "3", "4"})
    REQUIRE(append_wait(*s, make("a", id)) == append_status::accepted);
  const auto c = s->claim(req(10));
  REQUIRE(c.deliveries.size() == 4);

  // The writer takes one append and waits for the lock with it; the outcomes and the next
  // append queue meanwhile and go together in the following transaction.
  write_lock lock(opts.path);
  auto first = std::make_shared<std::promise<append_status>>();
  s->append(make("a", "5"), [first](append_status st) { first->set_value(st); });
  REQUIRE(eventually([&] { return s->stats_writer().queued == 0; }));
  const auto retry_at = clock.now() + 10s;
  auto done = settle_later(*s, c.deliveries[0].delivery_id, outcome::done());
  auto retry = settle_later(*s, c.deliveries[1].delivery_id, outcome::retry(retry_at, "later"));
  auto dead = settle_later(*s, c.deliveries[2].delivery_id, outcome::dead("no"));
  auto second = std::make_shared<std::promise<append_status>>();
  s->append(make("a", "6"), [second](append_status st) { second->set_value(st); });
  lock.release();
  CHECK(wait(done) == settle_status::settled);
  CHECK(wait(retry) == settle_status::settled);
  CHECK(wait(dead) == settle_status::settled);
  CHECK(second->get_future().get() == append_status::accepted);
  {
    const auto w = s->stats_writer();
    REQUIRE(!w.recent.empty());
    CHECK(w.recent.back().size == 1);
    CHECK(w.recent.back().settles == 3);
    CHECK(w.settled == 3);
  }
  CHECK(s->show("1").at(0).deliveries.at(0).state == delivery_state::done);
  CHECK(s->show("1").at(0).deliveries.at(0).history.size() == 1);
  CHECK(s->show("2").at(0).deliveries.at(0).state == delivery_state::pending);
  CHECK(s->show("2").at(0).deliveries.at(0).next_attempt_at == retry_at);
  CHECK(s->show("3").at(0).deliveries.at(0).last_error == "no");
  CHECK(s->next_due_time() == clock.now());  // "5" and "6"

  // A retry wakes the dispatcher (its due time is new), a delivery done does not.
  auto again = settle_later(*s, c.deliveries[0].delivery_id, outcome::done());
  CHECK(wait(again) == settle_status::not_claimed);
  const int before = wakes;
  const auto more = s->claim(req(10));
  REQUIRE(more.deliveries.size() == 2);
  auto quiet = settle_later(*s, more.deliveries[0].delivery_id, outcome::done());
  REQUIRE(wait(quiet) == settle_status::settled);
  CHECK(wakes == before);
  auto loud = settle_later(*s, more.deliveries[1].delivery_id, outcome::retry(retry_at, "x"));
  REQUIRE(wait(loud) == settle_status::settled);
  CHECK(eventually([&] { return wakes == before + 1; }));

  // What is still queued when the store closes is committed first.
  const std::int64_t last = c.deliveries[3].delivery_id;
  std::atomic<int> completed{0};
  s->settle_async(last, outcome::done(), [&](settle_status st) {
    if (st == settle_status::settled) ++completed;
  });
  s.reset();
  CHECK(completed == 1);
  store reopened(opts);
  CHECK(reopened.show("4").at(0).deliveries.at(0).state == delivery_state::done);
}

TEST_CASE("an event that fails on its own fails alone, the rest of its batch is stored",
          "[spool][group-commit]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  REQUIRE(append_wait(s, make("a", "claimed")) == append_status::accepted);
  const auto c = s.claim(req(1));
  REQUIRE(c.deliveries.size() == 1);
  {
    // A reason of the event's own, not of the environment (like SQLITE_TOOBIG would be).
    auto conn = raw(opts.path);
    REQUIRE(conn.exec("CREATE TRIGGER refuse_bad BEFORE INSERT ON events "
                      "WHEN NEW.event_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END") ==
            SQLITE_OK);
  }
  write_lock lock(opts.path);
  s.append(make("a", "first"), [](append_status) {});
  REQUIRE(eventually([&] { return s.stats_writer().queued == 0; }));
  std::vector<std::future<append_status>> answers;
  // "a1" twice: the batch runs again item by item (savepoints), and the second copy still
  // finds the first, inserted earlier in the same transaction.
  for (const char* id : {"a1", "bad", "a2", "a1"}) {
    auto p = std::make_shared<std::promise<append_status>>();
    answers.push_back(p->get_future());
    s.append(make("a", id), [p](append_status st) { p->set_value(st); });
  }
  auto outcome_done = settle_later(s, c.deliveries[0].delivery_id, outcome::done());
  lock.release();
  for (auto& a : answers)
    REQUIRE(a.wait_for(60s) == std::future_status::ready);
  CHECK(answers[0].get() == append_status::accepted);
  CHECK(answers[1].get() == append_status::unavailable);
  CHECK(answers[2].get() == append_status::accepted);
  CHECK(answers[3].get() == append_status::duplicate);
  CHECK(wait(outcome_done) == settle_status::settled);
  CHECK(s.show("a1").size() == 1);
  CHECK(s.show("bad").empty());
  CHECK(s.show("a2").size() == 1);
  CHECK(s.stats_writer().failed_batches == 0);
  // Not a duplicate: "bad" was not stored, its dedup key neither.
  {
    auto conn = raw(opts.path);
    REQUIRE(conn.exec("DROP TRIGGER refuse_bad") == SQLITE_OK);
  }
  CHECK(append_wait(s, make("a", "bad")) == append_status::accepted);
}

TEST_CASE("an outcome goes with the next batches until one commits, and is given up after five",
          "[spool][failure]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  REQUIRE(append_wait(s, make("a", "1")) == append_status::accepted);
  REQUIRE(append_wait(s, make("a", "2")) == append_status::accepted);
  const auto c = s.claim(req(10));
  REQUIRE(c.deliveries.size() == 2);
  // No more pages than the file has now: a large event cannot be stored (like a full disk),
  // and the whole transaction it is in fails.
  s.set_max_size(1);
  auto big = [n = 0]() mutable { return make("a", "big-" + std::to_string(n++), {}, 64 << 10); };

  // With the lock held, the outcome and a large event wait together for the same batch.
  auto with_failing_batch = [&](std::int64_t id, outcome o) {
    write_lock lock(opts.path);
    auto first = std::make_shared<std::promise<append_status>>();
    s.append(make("a", "small-" + std::to_string(id)), [first](append_status) {});
    REQUIRE(eventually([&] { return s.stats_writer().queued == 0; }));
    auto f = settle_later(s, id, std::move(o));
    auto p = std::make_shared<std::promise<append_status>>();
    auto failed = p->get_future();
    s.append(big(), [p](append_status st) { p->set_value(st); });
    lock.release();
    REQUIRE(failed.wait_for(60s) == std::future_status::ready);
    REQUIRE(failed.get() == append_status::unavailable);
    return f;
  };

  // Given up after the fifth failed batch: the claim stays, for the next start.
  auto given_up = with_failing_batch(c.deliveries[0].delivery_id, outcome::done());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(given_up.wait_for(0s) == std::future_status::timeout);
    REQUIRE(append_wait(s, big()) == append_status::unavailable);
  }
  REQUIRE(given_up.wait_for(0s) == std::future_status::timeout);
  REQUIRE(append_wait(s, big()) == append_status::unavailable);
  CHECK(wait(given_up) == settle_status::unavailable);
  CHECK(s.show("1").at(0).deliveries.at(0).claimed);
  CHECK(s.stats_writer().settled == 0);

  // Recorded by the first batch that commits once there is room again.
  auto recovered = with_failing_batch(c.deliveries[1].delivery_id, outcome::done());
  s.set_max_size(0);
  REQUIRE(append_wait(s, make("a", "3")) == append_status::accepted);
  CHECK(wait(recovered) == settle_status::settled);
  CHECK(s.show("2").at(0).deliveries.at(0).state == delivery_state::done);
  CHECK(integrity(opts.path) == "ok");
}

TEST_CASE("claims come in order of arrival and respect handler capacity", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  store s(make_options(dir, clock));
  for (int i = 1; i <= 5; ++i) {
    REQUIRE(append_wait(s, make("a", std::to_string(i), {"exec", "audit"})) ==
            append_status::accepted);
  }
  auto c = s.claim(req(3, "exec"));
  REQUIRE(c.deliveries.size() == 3);
  CHECK(c.deliveries[0].event_id == "1");
  CHECK(c.deliveries[1].event_id == "2");
  CHECK(c.deliveries[2].event_id == "3");
  CHECK(c.deliveries[0].event_seq < c.deliveries[1].event_seq);

  // exec has one free slot: one exec delivery (the oldest left), then audit's in order.
  auto d = s.claim(req(4, std::nullopt, {{"exec", 1}}));
  REQUIRE(d.deliveries.size() == 4);
  CHECK(d.deliveries[0].handler == "audit");
  CHECK(d.deliveries[0].event_id == "1");
  CHECK(d.deliveries[1].handler == "audit");
  CHECK(d.deliveries[2].handler == "audit");
  CHECK(d.deliveries[3].handler == "exec");
  CHECK(d.deliveries[3].event_id == "4");
  auto e = s.claim(req(10, std::nullopt, {{"exec", 0}}));
  REQUIRE(e.deliveries.size() == 2);
  CHECK(e.deliveries[0].handler == "audit");
  CHECK(e.deliveries[1].handler == "audit");

  // A retry keeps its place in the order.
  REQUIRE(s.settle(c.deliveries[0].delivery_id, outcome::retry(clock.now(), "again")) ==
          settle_status::settled);
  auto f = s.claim(req(10));
  REQUIRE(f.deliveries.size() == 2);
  CHECK(f.deliveries[0].event_id == "1");
  CHECK(f.deliveries[1].event_id == "5");
}

TEST_CASE("a claim reads only due deliveries: those waiting for a retry do not hold it up",
          "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  for (int i = 0; i < 50; ++i) {
    REQUIRE(append_wait(s, make("a", "old-" + std::to_string(i), {"exec"})) ==
            append_status::accepted);
  }
  auto first = s.claim(req(100));
  REQUIRE(first.deliveries.size() == 50);
  for (const auto& d : first.deliveries) {
    REQUIRE(s.settle(d.delivery_id, outcome::retry(clock.now() + 1h, "endpoint down")) ==
            settle_status::settled);
  }
  clock.advance(1s);
  for (const char* id : {"new-1", "new-2", "new-3"}) {
    REQUIRE(append_wait(s, make("a", id, {"exec"})) == append_status::accepted);
    clock.advance(1ms);
  }
  // The 50 older deliveries have lower ids and are not due: the claim takes the new ones, in
  // order of arrival, from an index range that starts at the handler's due rows.
  auto c = s.claim(req(2));
  REQUIRE(c.deliveries.size() == 2);
  CHECK(c.deliveries[0].event_id == "new-1");
  CHECK(c.deliveries[1].event_id == "new-2");
  auto conn = raw(opts.path);
  CHECK(claimable_index_columns(conn) == "handler,next_attempt_at,id");

  clock.advance(1h);  // the retries are due too: all of them, handed over in order of arrival
  auto later = s.claim(req(100));
  REQUIRE(later.deliveries.size() == 51);
  CHECK(later.deliveries[0].event_id == "old-0");
  CHECK(later.deliveries[50].event_id == "new-3");
}

TEST_CASE("a claim that finds nothing to take does not wait for the write lock", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  REQUIRE(append_wait(s, make("a", "1", {"busy", "later"})) == append_status::accepted);
  const auto later = s.claim(req(1, "later"));
  REQUIRE(later.deliveries.size() == 1);
  REQUIRE(s.settle(later.deliveries[0].delivery_id, outcome::retry(clock.now() + 1h, "again")) ==
          settle_status::settled);

  // Another connection holds the write lock (as the writer does during a group commit): claims
  // with nothing to take (nothing due, or no capacity) only read, and return at once.
  write_lock lock(opts.path);
  const auto none = s.claim(req(10, std::nullopt, {{"busy", 0}}));
  CHECK(none.ok);
  CHECK(none.deliveries.empty());
  CHECK(s.claim(req(10, "later")).deliveries.empty());
  CHECK(s.next_due_time() == clock.now());
  lock.release();
  const auto busy = s.claim(req(10));
  REQUIRE(busy.deliveries.size() == 1);
  CHECK(busy.deliveries[0].handler == "busy");
}

TEST_CASE("a daemon's claim is made in the writer's batches, a client's on its own connection",
          "[spool][group-commit]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  REQUIRE(append_wait(s, make("a", "1")) == append_status::accepted);

  // The writer waits for the lock with one append; the claim waits for the writer.
  write_lock lock(opts.path);
  s.append(make("a", "2"), [](append_status) {});
  REQUIRE(eventually([&] { return s.stats_writer().queued == 0; }));
  auto claimed = std::async(std::launch::async, [&] { return s.claim(req(10)); });
  auto p = std::make_shared<std::promise<append_status>>();
  auto third = p->get_future();
  s.append(make("a", "3"), [p](append_status st) { p->set_value(st); });
  lock.release();
  REQUIRE(claimed.wait_for(60s) == std::future_status::ready);
  const auto c = claimed.get();
  REQUIRE(c.ok);
  REQUIRE(third.wait_for(60s) == std::future_status::ready);
  CHECK(third.get() == append_status::accepted);
  // "1" and "2" (committed before the claim's transaction); "3" maybe, if in the same batch.
  REQUIRE(c.deliveries.size() >= 2);
  CHECK(c.deliveries[0].event_id == "1");
  CHECK(c.deliveries[1].event_id == "2");
  std::size_t claims_in_batches = 0;
  for (const auto& b : s.stats_writer().recent)
    claims_in_batches += b.claims;
  CHECK(claims_in_batches == 1);

  // A client (the CLI) claims on its own connection, in a transaction of its own.
  store client(client_options(opts));
  REQUIRE(s.release_all() == c.deliveries.size());
  const auto mine = client.claim(req(1));
  REQUIRE(mine.deliveries.size() == 1);
  CHECK(mine.deliveries[0].event_id == "1");
  CHECK(s.claim(req(10)).deliveries.size() == 2);
}

TEST_CASE("claims left by a crashed process are claimable after reopening", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  std::int64_t id = 0;
  {
    store s(opts);
    REQUIRE(append_wait(s, make("a", "1")) == append_status::accepted);
    auto c = s.claim(req(1));
    REQUIRE(c.deliveries.size() == 1);
    id = c.deliveries[0].delivery_id;
    // Destroyed without settle or release: what kill -9 leaves behind.
  }
  {
    auto c = raw(opts.path);
    CHECK(c.query_int("SELECT COUNT(*) FROM deliveries WHERE claim IS NOT NULL") == 1);
  }
  store again(opts);
  auto c = again.claim(req(1));
  REQUIRE(c.deliveries.size() == 1);
  CHECK(c.deliveries[0].delivery_id == id);
  CHECK(c.deliveries[0].attempt == 1);

  // release() makes it due again at once, without counting an attempt.
  CHECK(again.release(id));
  CHECK(!again.release(id));
  auto d = again.claim(req(1));
  REQUIRE(d.deliveries.size() == 1);
  CHECK(d.deliveries[0].attempt == 1);
  CHECK(again.release_all() == 1u);
}

TEST_CASE("a second daemon on the same spool is refused, a client needs the file", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  CHECK_THROWS_WITH(store(opts), Catch::Contains("in use by another hookd"));
  CHECK_NOTHROW(store(client_options(opts)));
  auto missing = client_options(make_options(dir, clock, "other/none.db"));
  CHECK_THROWS_WITH(store(missing), Catch::Contains("none.db") && Catch::Contains("no such file"));
}

TEST_CASE("a client never migrates: another schema version is refused, the file unchanged",
          "[spool][schema]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  std::filesystem::create_directories(opts.path.parent_path());
  // An SQLite file without hookd's schema (version 0), e.g. an older spool's stand-in: a daemon
  // would migrate it; a client, possibly newer than the daemon running on it, must not.
  {
    auto c = hookd::spool::sqlite::connection::open(opts.path,
                                                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  }
  for (const bool read_only : {false, true}) {
    CAPTURE(read_only);
    auto client = client_options(opts);
    client.read_only = read_only;
    CHECK_THROWS_WITH(store(client),
                      Catch::Contains(opts.path.string()) &&
                          Catch::Contains("schema version 0, this hookd reads version " +
                                          std::to_string(hookd::spool::schema_version)) &&
                          Catch::Contains("start the daemon of this version first"));
    auto c = raw(opts.path);
    CHECK(c.query_int("PRAGMA user_version") == 0);
    CHECK(c.query_int("SELECT count(*) FROM sqlite_master") == 0);  // no table created
  }

  // A spool of a newer version: refused the same way, naming both versions.
  std::filesystem::remove(opts.path);
  { store s(opts); }
  REQUIRE(raw(opts.path).exec("PRAGMA user_version = 99") == SQLITE_OK);
  CHECK_THROWS_WITH(store(client_options(opts)),
                    Catch::Contains("schema version 99, this hookd reads version") &&
                        Catch::Contains("use the hookd binary the daemon runs"));
  CHECK(raw(opts.path).query_int("PRAGMA user_version") == 99);
}

TEST_CASE("a read-only client queries while the daemon runs, and cannot write", "[spool]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store daemon(opts);
  REQUIRE(append_wait(daemon, make("a", "1")) == append_status::accepted);

  auto o = client_options(opts);
  o.read_only = true;
  store reader(o);
  CHECK(reader.list(hookd::spool::list_filter{}).size() == 1);
  CHECK(reader.show("1").size() == 1);
  CHECK(reader.stats().events == 1);
  // Opened with SQLITE_OPEN_READONLY: a write fails instead of taking the write lock.
  CHECK_THROWS_WITH(reader.replay({"1"}), Catch::Contains("readonly"));
  // Later commits of the daemon are visible to it.
  REQUIRE(append_wait(daemon, make("a", "2")) == append_status::accepted);
  CHECK(reader.list(hookd::spool::list_filter{}).size() == 2);
}

TEST_CASE("replay by id and replay of dead deliveries from another store, as the CLI does",
          "[spool][replay]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store daemon(opts);
  for (const char* id : {"1", "2", "3"}) {
    REQUIRE(append_wait(daemon, make("a", id, {"exec", "audit"})) == append_status::accepted);
  }
  auto c = daemon.claim(req(10));
  REQUIRE(c.deliveries.size() == 6);
  for (const auto& d : c.deliveries) {
    const bool fail = d.handler == "exec" && d.event_id != "3";
    REQUIRE(daemon.settle(d.delivery_id, fail ? outcome::dead("boom") : outcome::done()) ==
            settle_status::settled);
  }
  CHECK(!daemon.next_due_time());
  clock.advance(1h);

  store cli(client_options(opts));
  CHECK(cli.list(filter_state(delivery_state::dead)).size() == 2);
  // Replaying the dead deliveries of one handler only touches those.
  CHECK(cli.replay_dead(std::string("audit")) == 0u);
  CHECK(cli.replay_dead(std::string("exec")) == 2u);

  // The daemon sees the change without reopening.
  CHECK(daemon.next_due_time() == clock.now());
  auto again = daemon.claim(req(10));
  REQUIRE(again.deliveries.size() == 2);
  CHECK(again.deliveries[0].event_id == "1");
  CHECK(again.deliveries[0].attempt == 2);        // total attempts are kept
  CHECK(again.deliveries[0].round_attempt == 1);  // the retry schedule starts over
  // In-flight deliveries are left alone by a replay.
  CHECK(cli.replay({"1"}, std::string("exec")) == 0u);
  for (const auto& d : again.deliveries) {
    REQUIRE(daemon.settle(d.delivery_id, outcome::done()) == settle_status::settled);
  }

  // Replay by event id (done deliveries too), limited to one handler or not.
  CHECK(cli.replay({"3"}, std::string("audit")) == 1u);
  CHECK(cli.replay({"3", "unknown"}) == 2u);
  auto third = daemon.claim(req(10));
  REQUIRE(third.deliveries.size() == 2);
  CHECK(third.deliveries[0].event_id == "3");
  const auto shown = cli.show("1");
  REQUIRE(shown.size() == 1);
  CHECK(shown[0].summary.state == delivery_state::done);
  CHECK(shown[0].deliveries[0].history.size() == 2);
  CHECK(integrity(opts.path) == "ok");
}

TEST_CASE("list filters by state, endpoint and type glob, newest first", "[spool][query]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  store s(make_options(dir, clock));
  for (int i = 1; i <= 4; ++i) {
    auto r = make(i % 2 ? "altoviz" : "offerte", std::to_string(i));
    if (i == 4) r.type = "lead.sold";
    const auto stored = append_wait(s, std::move(r));
    REQUIRE(stored == append_status::accepted);
  }
  auto c = s.claim(req(1));
  REQUIRE(c.deliveries.size() == 1);
  REQUIRE(s.settle(c.deliveries[0].delivery_id, outcome::done()) == settle_status::settled);

  auto all = s.list(hookd::spool::list_filter{});
  REQUIRE(all.size() == 4);
  CHECK(all[0].event_id == "4");
  CHECK(all[3].event_id == "1");
  CHECK(s.list(filter_limit(2)).size() == 2);
  auto done = s.list(filter_state(delivery_state::done));
  REQUIRE(done.size() == 1);
  CHECK(done[0].event_id == "1");
  CHECK(s.list(filter_state(delivery_state::pending)).size() == 3);
  CHECK(s.list(filter_endpoint("offerte")).size() == 2);
  auto leads = s.list(filter_type("lead.*"));
  REQUIRE(leads.size() == 1);
  CHECK(leads[0].event_id == "4");
  CHECK(s.list(filter_type("[c]*")).empty());  // no SQL GLOB classes
  const auto st = s.stats();
  REQUIRE(st.oldest_pending.has_value());
}

TEST_CASE("purge keeps pending and dead events and dedup keys within the window",
          "[spool][retention]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  opts.retention = 1h;
  opts.dedup_window = 2h;
  opts.purge_batch = 2;  // several small transactions
  store s(opts);
  for (const char* id : {"done1", "done2", "done3", "pending", "dead", "retry"}) {
    REQUIRE(append_wait(s, make("a", id)) == append_status::accepted);
  }
  auto c = s.claim(req(10));
  REQUIRE(c.deliveries.size() == 6);
  for (const auto& d : c.deliveries) {
    if (d.event_id == "pending") {
      REQUIRE(s.release(d.delivery_id));
    } else if (d.event_id == "dead") {
      REQUIRE(s.settle(d.delivery_id, outcome::dead("x")) == settle_status::settled);
    } else if (d.event_id == "retry") {
      REQUIRE(s.settle(d.delivery_id, outcome::retry(clock.now() + 1s, "x")) ==
              settle_status::settled);
    } else {
      REQUIRE(s.settle(d.delivery_id, outcome::done()) == settle_status::settled);
    }
  }
  auto early = s.maintain();
  CHECK(early.events == 0);  // within the retention

  clock.advance(1h + 1s);
  auto r = s.maintain();
  CHECK(r.events == 3);
  CHECK(r.dedup_keys == 0);
  CHECK(r.complete);
  CHECK(s.show("done1").empty());
  CHECK(s.show("pending").size() == 1);
  CHECK(s.show("dead").size() == 1);
  CHECK(s.show("retry").size() == 1);
  {
    auto conn = raw(opts.path);
    CHECK(conn.query_int("SELECT COUNT(*) FROM deliveries") == 3);  // cascaded
    CHECK(conn.query_int("SELECT COUNT(*) FROM attempts") == 2);    // dead + retry
  }
  // The key outlives the event: a provider's late retry is still a duplicate.
  CHECK(append_wait(s, make("a", "done1")) == append_status::duplicate);

  // Kept keys: only those of the purged events. The other events are their own keys.
  CHECK(s.stats().dedup_keys == 6);
  {
    auto conn = raw(opts.path);
    CHECK(conn.query_int("SELECT COUNT(*) FROM dedup_keys") == 3);
  }

  clock.advance(1h);
  CHECK(s.stats().dedup_keys == 0);
  // The stored events' keys expired with the window, as the kept ones did.
  auto again = make("a", "retry");
  again.received = clock.now();
  CHECK(append_wait(s, again) == append_status::accepted);
  auto later = s.maintain();
  CHECK(later.dedup_keys == 3);
  again = make("a", "done1");
  again.received = clock.now();
  CHECK(append_wait(s, again) == append_status::accepted);
  CHECK(append_wait(s, again) == append_status::duplicate);
  CHECK(s.stats().dedup_keys == 2);
  CHECK(s.show("retry").size() == 2);  // the old one, kept (a retry pending), and the new one
  CHECK(integrity(opts.path) == "ok");
}

TEST_CASE("an event purged after the dedup window leaves no key behind", "[spool][retention]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  opts.retention = 1h;
  opts.dedup_window = 30min;
  store s(opts);
  REQUIRE(append_wait(s, make("a", "old")) == append_status::accepted);
  REQUIRE(append_wait(s, make("a", "kept", {})) == append_status::accepted);  // no delivery
  auto c = s.claim(req(10));
  REQUIRE(c.deliveries.size() == 1);
  REQUIRE(s.settle(c.deliveries[0].delivery_id, outcome::done()) == settle_status::settled);
  clock.advance(31min);
  // Past the window, the stored events no longer count as keys: a repeat is a new event.
  auto again = make("a", "kept", {});
  again.received = clock.now();
  CHECK(append_wait(s, again) == append_status::accepted);
  clock.advance(30min + 1s);
  const auto r = s.maintain();
  CHECK(r.events == 2);  // "old" and the first "kept"; the second is within the retention
  CHECK(r.dedup_keys == 0);
  CHECK(raw(opts.path).query_int("SELECT COUNT(*) FROM dedup_keys") == 0);
  CHECK(s.stats().dedup_keys == 0);  // the second "kept" arrived just over 30 min ago
  const auto left = s.show("kept");
  REQUIRE(left.size() == 1);
  CHECK(left[0].summary.received == again.received);
  again = make("a", "old");
  again.received = clock.now();
  CHECK(append_wait(s, again) == append_status::accepted);
  CHECK(append_wait(s, again) == append_status::duplicate);
  CHECK(integrity(opts.path) == "ok");
}

TEST_CASE(
    "the key of an event purged within the window outlives a restart, and keeps its latest time",
    "[spool][retention]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  opts.retention = 1h;
  opts.dedup_window = 2h;
  auto first = make("a", "x");
  first.received = clock.now();
  {
    store s(opts);
    REQUIRE(append_wait(s, first) == append_status::accepted);
    auto c = s.claim(req(1));
    REQUIRE(c.deliveries.size() == 1);
    REQUIRE(s.settle(c.deliveries[0].delivery_id, outcome::done()) == settle_status::settled);
    // A key kept from before schema 5 for the same pair, seen later than the event arrived
    // (its time was the writer's): the purge keeps the later of the two.
    const auto sql = "INSERT INTO dedup_keys VALUES('a', 'x', " +
                     std::to_string(hookd::spool::to_ms(clock.now()) + 5) + ")";
    REQUIRE(raw(opts.path).exec(sql.c_str()) == SQLITE_OK);
    clock.advance(1h + 1s);
    CHECK(s.maintain().events == 1);
  }
  CHECK(raw(opts.path).query_int("SELECT first_seen FROM dedup_keys WHERE event_id = 'x'") ==
        hookd::spool::to_ms(first.received) + 5);
  store s(opts);
  CHECK(s.show("x").empty());
  auto again = make("a", "x");
  again.received = clock.now();
  CHECK(append_wait(s, again) == append_status::duplicate);
  clock.advance(1h);
  again.received = clock.now();
  CHECK(append_wait(s, again) == append_status::accepted);
}

TEST_CASE("a purge run reads a bounded number of events and goes on where the last one stopped",
          "[spool][retention]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  opts.retention = 1h;
  opts.purge_batch = 2;
  opts.purge_batches_per_run = 2;  // at most 4 events read per run
  store s(opts);
  // Six dead events, the oldest, then two delivered ones: a sweep that started from the oldest
  // every run would read the dead ones again each time.
  for (int i = 0; i < 8; ++i) {
    auto r = make("a", "ev-" + std::to_string(i));
    r.received = clock.now() + std::chrono::seconds(i);
    const auto stored = append_wait(s, std::move(r));
    REQUIRE(stored == append_status::accepted);
  }
  auto c = s.claim(req(10));
  REQUIRE(c.deliveries.size() == 8);
  for (const auto& d : c.deliveries) {
    const bool dead = d.event_id < "ev-6";
    REQUIRE(s.settle(d.delivery_id, dead ? outcome::dead("x") : outcome::done()) ==
            settle_status::settled);
  }
  clock.advance(2h);

  const auto first = s.maintain();  // ev-0 .. ev-3, all dead
  CHECK(first.events == 0);
  CHECK_FALSE(first.complete);
  const auto second = s.maintain();  // ev-4, ev-5 (dead), ev-6, ev-7 (done)
  CHECK(second.events == 2);
  CHECK_FALSE(second.complete);
  const auto third = s.maintain();  // nothing further: the pass is over
  CHECK(third.events == 0);
  CHECK(third.complete);
  CHECK(s.show("ev-7").empty());
  CHECK(s.show("ev-0").size() == 1);
  CHECK(s.stats().events == 6);
  CHECK(integrity(opts.path) == "ok");
}

TEST_CASE("the schema version is set and a newer one is refused", "[spool][schema]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  { store s(opts); }
  {
    auto c = raw(opts.path);
    CHECK(c.query_int("PRAGMA user_version") == hookd::spool::schema_version);
    REQUIRE(c.exec("PRAGMA user_version = 99") == SQLITE_OK);
  }
  CHECK_THROWS_WITH(store(opts), Catch::Contains(opts.path.string()) &&
                                     Catch::Contains("schema version 99 is newer"));
}

TEST_CASE("a spool written by schema version 1 is migrated and keeps working", "[spool][schema]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  {
    // A real v1 file, as hookd 827245c left it after kill -9 (see the dump's header).
    std::filesystem::create_directories(opts.path.parent_path());
    auto c = hookd::spool::sqlite::connection::open(opts.path,
                                                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    const auto dump = hookd::test::read_file(std::filesystem::path(HOOKD_SOURCE_DIR) /
                                             "tests/spool/data/spool_v1.sql");
    REQUIRE(!dump.empty());
    REQUIRE(c.exec(dump.c_str()) == SQLITE_OK);
    REQUIRE(c.query_int("PRAGMA user_version") == 1);
  }
  // After the dump's events came due, before its retries are due.
  clock.ms = 1'796'039'448'000;
  int migrating = 0;
  opts.on_migrating = [&migrating] { ++migrating; };
  store s(opts);
  CHECK(migrating >= 1);  // told as the migration started
  {
    auto c = raw(opts.path);
    CHECK(c.query_int("PRAGMA user_version") == 5);
    auto index_exists = [&c](const char* name) {
      auto q = c.prepare(std::string("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' "
                                     "AND name = '") +
                         name + "'");
      REQUIRE(q.step() == SQLITE_ROW);
      return q.int64(0) == 1;
    };
    CHECK(index_exists("deliveries_claimable"));
    CHECK(claimable_index_columns(c) == "handler,next_attempt_at,id");  // version 3
    CHECK(index_exists("deliveries_dead"));
    CHECK_FALSE(index_exists("deliveries_by_state"));
    CHECK_FALSE(index_exists("deliveries_due"));  // version 4
    CHECK(index_exists("events_by_key"));         // version 5
    CHECK_FALSE(index_exists("events_by_event_id"));
    // hookd's connections skip the state's CHECK; other writers still meet it.
    CHECK(c.exec("UPDATE deliveries SET state = 'bogus' WHERE id = 1") == SQLITE_CONSTRAINT_CHECK);
    CHECK(c.query_int("SELECT COUNT(*) FROM events") == 3);
    CHECK(c.query_int("SELECT COUNT(*) FROM deliveries") == 12);
    CHECK(c.query_int("SELECT COUNT(*) FROM attempts") == 9);
    CHECK(c.query_int("SELECT COUNT(*) FROM deliveries WHERE claim IS NOT NULL") == 0);
  }
  CHECK(integrity(opts.path) == "ok");

  // The claim left by the killed process is free again; "slow" is the only handler with due
  // deliveries, taken one at a time (capacity 1) in order of arrival.
  auto first = s.claim(req(10, std::nullopt, {{"slow", 1}}));
  REQUIRE(first.ok);
  REQUIRE(first.deliveries.size() == 1);
  CHECK(first.deliveries[0].delivery_id == 4);
  CHECK(first.deliveries[0].event_id == "v1-0");
  CHECK(first.deliveries[0].provider == "altoviz");
  CHECK(first.deliveries[0].subject == "0");
  CHECK(first.deliveries[0].attempt == 1);
  auto rest = s.claim(req(10));
  REQUIRE(rest.deliveries.size() == 2);
  CHECK(rest.deliveries[0].delivery_id == 8);
  CHECK(rest.deliveries[1].delivery_id == 12);
  // What is left: "broken"'s retries, the earliest first.
  CHECK(s.next_due_time() == time_point{std::chrono::milliseconds{1'796'041'595'745}});
  CHECK(s.settle(4, outcome::done()) == settle_status::settled);

  // Dead deliveries replay; the dedup keys still hold; new events come after the old ones.
  CHECK(s.replay_dead() == 3);
  CHECK(append_wait(s, make("altoviz", "v1-1")) == append_status::duplicate);
  // Schema 1's keys stay until they expire; without one, the stored event is its own key.
  REQUIRE(raw(opts.path).exec("DELETE FROM dedup_keys WHERE event_id = 'v1-2'") == SQLITE_OK);
  CHECK(append_wait(s, make("altoviz", "v1-2")) == append_status::duplicate);
  CHECK(s.stats().dedup_keys == 3);  // not counted twice
  REQUIRE(append_wait(s, make("altoviz", "v2-0", {"hopeless"})) == append_status::accepted);
  auto hopeless = s.claim(req(10, "hopeless"));
  REQUIRE(hopeless.deliveries.size() == 4);
  CHECK(hopeless.deliveries[0].event_id == "v1-0");
  CHECK(hopeless.deliveries[0].attempt == 2);
  CHECK(hopeless.deliveries[0].round_attempt == 1);
  CHECK(hopeless.deliveries[3].event_id == "v2-0");
  CHECK(s.stats().events == 4);
}

TEST_CASE("a long migration reports its progress until it commits, other openings never do",
          "[spool][schema]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  int calls = 0;
  opts.on_migrating = [&calls] { ++calls; };
  { store s(opts); }  // a new file: its schema is created, not migrated
  CHECK(calls == 0);
  { store s(opts); }  // already at schema_version
  CHECK(calls == 0);

  // Back to version 4 with 200 000 events, as a spool of hookd before 5 was: migrating builds
  // events_by_key over every row, about two million of SQLite's virtual machine steps.
  constexpr int events = 200000;
  {
    auto c = raw(opts.path);
    // Received now (the test clock's): within the retention, so no purge takes any.
    insert_events(c, events, clock.ms.load(), "altoviz");
    REQUIRE(c.exec("CREATE INDEX events_by_event_id ON events(event_id); "
                   "DROP INDEX events_by_key; PRAGMA user_version = 4") == SQLITE_OK);
  }
  {
    store s(opts);
    // As it started, from SQLite's progress handler, and before the commit.
    CHECK(calls > 2);
    const int after_open = calls;
    CHECK(append_wait(s, make("altoviz", "after")) == append_status::accepted);
    CHECK(s.show("ev-1").size() == 1);  // found through the new index
    // The migration's connection is now the writer's, and its progress handler went with the
    // commit: a claim of 20 000 deliveries, far more than 100 000 steps on it, reports nothing.
    {
      auto c = raw(opts.path);
      insert_pending(c, "audit", 20000);
    }
    const auto claimed = s.claim(req(20000));
    REQUIRE(claimed.ok);
    CHECK(claimed.deliveries.size() == 20000);
    CHECK(calls == after_open);
  }
  auto c = raw(opts.path);
  CHECK(c.query_int("PRAGMA user_version") == hookd::spool::schema_version);
  CHECK(c.query_int("SELECT COUNT(*) FROM events") == events + 1);
  CHECK(integrity(opts.path) == "ok");
}

TEST_CASE("a full spool answers unavailable, keeps what it committed, and recovers",
          "[spool][failure]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  REQUIRE(append_wait(s, make("a", "before")) == append_status::accepted);
  // No more pages than the file has now: like a full disk (SQLITE_FULL) for the writer.
  s.set_max_size(1);
  int refused = 0;
  for (int i = 0; i < 50 && refused == 0; ++i) {
    if (append_wait(s, make("a", "big-" + std::to_string(i), {"audit"}, 64 << 10)) ==
        append_status::unavailable) {
      refused = i + 1;
    }
  }
  REQUIRE(refused > 0);
  CHECK(s.show("big-" + std::to_string(refused - 1)).empty());  // not acknowledged, not stored
  CHECK(s.stats_writer().failed_batches >= 1);
  // It stays unavailable while the cause lasts, and never acknowledges.
  CHECK(append_wait(s, make("a", "during", {"audit"}, 64 << 10)) == append_status::unavailable);

  s.set_max_size(0);  // space is back
  CHECK(append_wait(s, make("a", "during", {"audit"}, 64 << 10)) == append_status::accepted);
  CHECK(s.show("before").size() == 1);
  CHECK(s.show("during").size() == 1);
  CHECK(integrity(opts.path) == "ok");
}

TEST_CASE("a spool on a filesystem that fills up answers unavailable and recovers",
          "[spool][failure]") {
  hookd::test::temp_dir dir;
  const auto mnt = dir / "tmpfs";
  std::filesystem::create_directories(mnt);
  if (::geteuid() != 0 || ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    WARN("cannot mount a tmpfs here (needs root and permission): real ENOSPC not exercised");
    return;
  }
  struct unmount {
    std::filesystem::path p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } guard{mnt};
  test_clock clock;
  auto opts = make_options(dir, clock, "tmpfs/hookd.db");
  {
    store s(opts);
    REQUIRE(append_wait(s, make("a", "before")) == append_status::accepted);
    const auto filler = mnt / "filler";
    {
      std::ofstream out(filler, std::ios::binary);
      const std::string chunk(64 << 10, 'f');
      for (int i = 0; i < 64 && out; ++i)
        out << chunk;  // up to 4 MiB: more than there is
    }
    int refused = 0;
    for (int i = 0; i < 100 && refused == 0; ++i) {
      if (append_wait(s, make("a", "big-" + std::to_string(i), {"audit"}, 64 << 10)) ==
          append_status::unavailable) {
        refused = i + 1;
      }
    }
    REQUIRE(refused > 0);
    std::filesystem::remove(filler);
    CHECK(append_wait(s, make("a", "after", {"audit"}, 64 << 10)) == append_status::accepted);
    CHECK(s.show("before").size() == 1);
    CHECK(s.show("after").size() == 1);
  }
  CHECK(integrity(opts.path) == "ok");
}

TEST_CASE("opening a spool in a read-only directory fails with the path", "[spool][failure]") {
  if (::geteuid() == 0) {
    WARN("running as root: permissions do not restrict, read-only directory not exercised");
    return;
  }
  hookd::test::temp_dir dir;
  test_clock clock;
  std::filesystem::create_directories(dir / "ro");
  std::filesystem::permissions(
      dir / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  auto opts = make_options(dir, clock, "ro/hookd.db");
  CHECK_THROWS_WITH(store(opts), Catch::Contains((dir / "ro").string()));
}

TEST_CASE("a spool file that cannot be written is refused at start with the path",
          "[spool][failure]") {
  if (::geteuid() == 0) {
    WARN("running as root: permissions do not restrict, read-only file not exercised");
    return;
  }
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  { store s(opts); }
  std::filesystem::permissions(opts.path, std::filesystem::perms::owner_read);
  CHECK_THROWS_WITH(store(opts),
                    Catch::Contains(opts.path.string()) && Catch::Contains("read-only"));
}

TEST_CASE("the writer wakes the dispatcher after commits and purges by itself",
          "[spool][retention]") {
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  opts.retention = 1h;
  opts.dedup_window = 1h;
  opts.maintenance_interval = 20ms;
  std::atomic<int> wakes{0};
  opts.on_commit = [&] { ++wakes; };
  store s(opts);
  REQUIRE(append_wait(s, make("a", "1")) == append_status::accepted);
  CHECK(eventually([&] { return wakes == 1; }));  // called right after the completions
  REQUIRE(append_wait(s, make("a", "1")) == append_status::duplicate);
  REQUIRE(append_wait(s, make("a", "2", {})) == append_status::accepted);
  CHECK(wakes == 1);  // nothing new to deliver

  auto c = s.claim(req(1));
  REQUIRE(c.deliveries.size() == 1);
  REQUIRE(s.settle(c.deliveries[0].delivery_id, outcome::done()) == settle_status::settled);
  clock.advance(2h);
  CHECK(eventually([&] { return s.stats().events == 0 && s.stats().dedup_keys == 0; }));
}

TEST_CASE("the writer checkpoints the WAL every 500 pages, not SQLite's 1 000", "[spool][wal]") {
  // A checkpoint runs inside the commit that passes the limit and that batch waits for it:
  // half the pages each time halves the longest waits (store.cpp). The WAL file starts over
  // after each checkpoint, so its size is the most it held between two.
  hookd::test::temp_dir dir;
  test_clock clock;
  auto opts = make_options(dir, clock);
  store s(opts);
  for (int i = 0; i < 600; ++i)  // ~16 KiB each: some 3 000 WAL pages in all
    REQUIRE(append_wait(s, make("a", "big-" + std::to_string(i), {"audit"}, 16 << 10)) ==
            append_status::accepted);
  const auto wal = std::filesystem::file_size(opts.path.string() + "-wal");
  const std::uintmax_t frame = 4096 + 24;
  CHECK(wal > 400 * frame);  // it did grow to the limit
  CHECK(wal < 700 * frame);  // and no further: 1 000 pages would be ~4 MiB
  CHECK(integrity(opts.path) == "ok");
}
