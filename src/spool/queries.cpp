// The operator's side of the spool: queries for the CLI, and retention.

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "store_impl.hpp"

namespace hookd::spool {

namespace {

[[noreturn]] void fail(const sqlite::connection& c, int rc, const char* what) {
  throw sqlite::error(rc, "spool " + c.file().string() + ": " + what + ": " + c.errmsg());
}

sqlite::statement& must(sqlite::connection& c, const char* sql, const char* what) {
  auto* s = c.cached(sql);
  if (s == nullptr) fail(c, c.extended_errcode(), what);
  return *s;
}

/// The derived state of an event from its delivery counts (see event_summary::state).
delivery_state summary_state(std::size_t pending, std::size_t dead) {
  if (pending > 0) return delivery_state::pending;
  if (dead > 0) return delivery_state::dead;
  return delivery_state::done;
}

// Columns 0..9 of an event summary row, shared by list() and show().
constexpr const char* summary_columns =
    "e.seq, e.event_id, e.endpoint, e.type, e.provider, e.subject, e.received_at, "
    "COALESCE(SUM(d.state = 'pending'), 0), COALESCE(SUM(d.state = 'done'), 0), "
    "COALESCE(SUM(d.state = 'dead'), 0)";

event_summary read_summary(const sqlite::statement& s) {
  event_summary e;
  e.seq = s.int64(0);
  e.event_id = s.text(1);
  e.endpoint = s.text(2);
  e.type = s.text(3);
  e.provider = s.text(4);
  e.subject = s.text(5);
  e.received = from_ms(s.int64(6));
  e.pending = static_cast<std::size_t>(s.int64(7));
  e.done = static_cast<std::size_t>(s.int64(8));
  e.dead = static_cast<std::size_t>(s.int64(9));
  e.state = summary_state(e.pending, e.dead);
  return e;
}

}  // namespace

std::vector<event_summary> store::list(const list_filter& f) {
  auto& m = *impl_;
  std::lock_guard lk(m.read_mu);
  auto& c = m.read;
  static const std::string sql =
      std::string("SELECT ") + summary_columns +
      " FROM events e LEFT JOIN deliveries d ON d.event_seq = e.seq"
      " WHERE (?1 IS NULL OR e.endpoint = ?1) AND (?2 IS NULL OR hookd_glob(?2, e.type))"
      " GROUP BY e.seq"
      " HAVING ?3 IS NULL OR ?3 = CASE WHEN SUM(d.state = 'pending') > 0 THEN 'pending'"
      "   WHEN SUM(d.state = 'dead') > 0 THEN 'dead' ELSE 'done' END"
      " ORDER BY e.seq DESC LIMIT ?4";
  sqlite::statement_use s(&must(c, sql.c_str(), "list"));
  s->bind(1, f.endpoint);
  s->bind(2, f.type_glob);
  if (f.state) {
    s->bind(3, to_string(*f.state));
  } else {
    s->bind(3, std::nullopt);
  }
  s->bind(4, static_cast<std::int64_t>(std::min<std::size_t>(f.limit, INT64_MAX)));
  std::vector<event_summary> out;
  for (;;) {
    const int rc = s->step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) fail(c, rc, "list");
    out.push_back(read_summary(*s.operator->()));
  }
  return out;
}

std::vector<event_detail> store::show(const std::string& key) {
  auto& m = *impl_;
  std::lock_guard lk(m.read_mu);
  auto& c = m.read;
  // One read transaction, so the event, its deliveries and attempts are one consistent view.
  sqlite::transaction tx(c, "BEGIN");
  if (tx.begin_rc() != SQLITE_OK) fail(c, tx.begin_rc(), "show");

  std::int64_t seq = -1;
  if (!key.empty() &&
      std::all_of(key.begin(), key.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
      key.size() < 19) {
    seq = std::stoll(key);
  }
  static const std::string sql = std::string("SELECT ") + summary_columns +
                                 ", e.cloudevent FROM events e"
                                 " LEFT JOIN deliveries d ON d.event_seq = e.seq"
                                 " WHERE e.event_id = ?1 OR e.seq = ?2"
                                 " GROUP BY e.seq ORDER BY e.seq DESC";
  std::vector<event_detail> out;
  {
    sqlite::statement_use s(&must(c, sql.c_str(), "show"));
    s->bind_all(key, seq);
    for (;;) {
      const int rc = s->step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail(c, rc, "show");
      event_detail d;
      d.summary = read_summary(*s.operator->());
      d.cloudevent = s->text(10);
      out.push_back(std::move(d));
    }
  }
  for (auto& ev : out) {
    {
      sqlite::statement_use s(
          &must(c,
                "SELECT id, handler, state, attempts, round_attempts, next_attempt_at, last_error, "
                "claim IS NOT NULL, updated_at FROM deliveries WHERE event_seq = ?1 ORDER BY id",
                "show"));
      s->bind(1, ev.summary.seq);
      for (;;) {
        const int rc = s->step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) fail(c, rc, "show");
        delivery_info d;
        d.id = s->int64(0);
        d.handler = s->text(1);
        d.state = parse_delivery_state(s->text(2)).value_or(delivery_state::pending);
        d.attempts = static_cast<unsigned>(s->int64(3));
        d.round_attempts = static_cast<unsigned>(s->int64(4));
        d.next_attempt_at = from_ms(s->int64(5));
        d.last_error = s->text(6);
        d.claimed = s->int64(7) != 0;
        d.updated_at = from_ms(s->int64(8));
        ev.deliveries.push_back(std::move(d));
      }
    }
    for (auto& d : ev.deliveries) {
      sqlite::statement_use s(&must(c,
                                    "SELECT number, started_at, finished_at, ok, error FROM "
                                    "attempts WHERE delivery_id = ?1 ORDER BY number",
                                    "show"));
      s->bind(1, d.id);
      for (;;) {
        const int rc = s->step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) fail(c, rc, "show");
        attempt_info a;
        a.number = static_cast<unsigned>(s->int64(0));
        a.started = from_ms(s->int64(1));
        a.finished = from_ms(s->int64(2));
        a.ok = s->int64(3) != 0;
        a.error = s->text(4);
        d.history.push_back(std::move(a));
      }
    }
  }
  return out;
}

spool_stats store::stats() {
  auto& m = *impl_;
  std::lock_guard lk(m.read_mu);
  auto& c = m.read;
  sqlite::transaction tx(c, "BEGIN");
  if (tx.begin_rc() != SQLITE_OK) fail(c, tx.begin_rc(), "stats");
  spool_stats out;
  {
    // The keys remembered now: those of events stored that arrived within the window (each its
    // own key), and those kept in dedup_keys (purged events; from schema 4, also stored ones:
    // not counted twice).
    sqlite::statement_use s(
        &must(c,
              "SELECT (SELECT COUNT(*) FROM events), "
              "(SELECT COUNT(*) FROM events WHERE received_at >= ?1) + "
              "(SELECT COUNT(*) FROM dedup_keys k WHERE first_seen >= ?1 AND NOT EXISTS (SELECT 1 "
              "FROM events e WHERE e.event_id = k.event_id AND e.endpoint = k.endpoint "
              "AND e.received_at >= ?1))",
              "stats"));
    s->bind(1, m.keys_since(to_ms(m.now())));
    if (s->step() != SQLITE_ROW) fail(c, c.extended_errcode(), "stats");
    out.events = static_cast<std::size_t>(s->int64(0));
    out.dedup_keys = static_cast<std::size_t>(s->int64(1));
  }
  sqlite::statement_use s(&must(
      c,
      "SELECT d.handler, SUM(d.state = 'pending'), SUM(d.state = 'done'), SUM(d.state = 'dead'), "
      "SUM(d.claim IS NOT NULL), MIN(CASE WHEN d.state = 'pending' THEN e.received_at END) "
      "FROM deliveries d JOIN events e ON e.seq = d.event_seq GROUP BY d.handler ORDER BY "
      "d.handler",
      "stats"));
  for (;;) {
    const int rc = s->step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) fail(c, rc, "stats");
    handler_stats h;
    h.handler = s->text(0);
    h.pending = static_cast<std::size_t>(s->int64(1));
    h.done = static_cast<std::size_t>(s->int64(2));
    h.dead = static_cast<std::size_t>(s->int64(3));
    h.claimed = static_cast<std::size_t>(s->int64(4));
    if (!s->is_null(5)) {
      h.oldest_pending = from_ms(s->int64(5));
      if (!out.oldest_pending || *h.oldest_pending < *out.oldest_pending) {
        out.oldest_pending = h.oldest_pending;
      }
    }
    out.handlers.push_back(std::move(h));
  }
  return out;
}

purge_result store::maintain() {
  return impl_->maintain_impl();
}

purge_result store::impl::maintain_impl() {
  std::lock_guard lk(maint_mu);
  auto& c = maint;
  const std::int64_t now_ms = to_ms(now());
  const std::int64_t keep_events_after = now_ms - opts.retention.count();
  const std::int64_t keep_keys_after = keys_since(now_ms);
  const auto batch = static_cast<std::int64_t>(opts.purge_batch);
  purge_result out;
  out.complete = false;

  auto keep_key = [&](const std::string& endpoint, const std::string& event_id,
                      std::int64_t received_at) {
    sqlite::statement_use k(
        &must(c,
              "INSERT INTO dedup_keys(endpoint, event_id, first_seen) VALUES(?1, ?2, ?3) "
              "ON CONFLICT(endpoint, event_id) DO UPDATE SET "
              "first_seen = max(first_seen, excluded.first_seen)",
              "purge"));
    k->bind_all(endpoint, event_id, received_at);
    if (const int rc = k->step(); rc != SQLITE_DONE) fail(c, rc, "purge");
  };

  // An event goes only when every delivery is done and nothing about it changed within the
  // retention (so an event delivered late is still kept that long); pending or dead: never.
  // The sweep reads without the write lock, from where the last batch stopped, and deletes what
  // it found in a short transaction that checks again (a replay may have come in between).
  // Events kept are passed over, not read again by every run: a spool holding many dead
  // events costs each run at most purge_batch * purge_batches_per_run rows.
  auto sweep = [&]() -> bool {
    std::vector<std::int64_t> seqs;
    std::size_t examined = 0;
    {
      sqlite::statement_use s(
          &must(c,
                "SELECT e.seq, e.received_at, NOT EXISTS (SELECT 1 FROM deliveries d "
                "WHERE d.event_seq = e.seq AND (d.state <> 'done' OR d.updated_at >= ?1)) "
                "FROM events e WHERE e.received_at < ?1 AND (e.received_at, e.seq) > (?2, ?3) "
                "ORDER BY e.received_at, e.seq LIMIT ?4",
                "purge"));
      const auto after = sweep_after.value_or(
          std::pair{std::numeric_limits<std::int64_t>::min(), std::int64_t{0}});
      s->bind_all(keep_events_after, after.first, after.second, batch);
      for (;;) {
        const int rc = s->step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) fail(c, rc, "purge");
        ++examined;
        sweep_after = std::pair{s->int64(1), s->int64(0)};
        if (s->int64(2) != 0) seqs.push_back(s->int64(0));
      }
    }
    if (!seqs.empty()) {
      write_transaction tx(write_mu, c);
      if (tx.begin_rc() != SQLITE_OK) fail(c, tx.begin_rc(), "purge");
      for (const auto seq : seqs) {
        sqlite::statement_use s(&must(c,
                                      "DELETE FROM events WHERE seq = ?1 AND NOT EXISTS "
                                      "(SELECT 1 FROM deliveries d WHERE d.event_seq = ?1 "
                                      "AND (d.state <> 'done' OR d.updated_at >= ?2)) "
                                      "RETURNING endpoint, event_id, received_at",
                                      "purge"));
        s->bind_all(seq, keep_events_after);
        int rc = s->step();
        if (rc == SQLITE_ROW) {
          ++out.events;
          // A stored event is its own dedup key (schema_v5); one purged within the window
          // leaves its key behind, so a provider's late retry is still a duplicate.
          if (s->int64(2) >= keep_keys_after) keep_key(s->text(0), s->text(1), s->int64(2));
          rc = s->step();
        }
        if (rc != SQLITE_DONE) fail(c, rc, "purge");
      }
      if (const int rc = tx.commit(); rc != SQLITE_OK) fail(c, rc, "purge: commit");
    }
    if (examined < static_cast<std::size_t>(batch)) {
      sweep_after.reset();  // reached the cut-off: the next run starts from the oldest again
      return true;
    }
    return false;
  };
  // Small transactions, so the writer thread and the workers never wait long for the lock.
  auto run = [&](const char* sql, std::int64_t cutoff, std::size_t& counter) -> bool {
    write_transaction tx(write_mu, c);
    if (tx.begin_rc() != SQLITE_OK) fail(c, tx.begin_rc(), "purge");
    std::int64_t n = 0;
    {
      sqlite::statement_use s(&must(c, sql, "purge"));
      s->bind_all(cutoff, batch);
      if (const int rc = s->step(); rc != SQLITE_DONE) fail(c, rc, "purge");
      n = c.changes();
    }
    if (const int rc = tx.commit(); rc != SQLITE_OK) fail(c, rc, "purge: commit");
    counter += static_cast<std::size_t>(n);
    return n < batch;  // true: nothing more to delete
  };
  bool events_done = false;
  bool keys_done = false;
  for (std::size_t i = 0; i < opts.purge_batches_per_run && !(events_done && keys_done); ++i) {
    if (!events_done) events_done = sweep();
    if (!keys_done) {
      keys_done =
          run("DELETE FROM dedup_keys WHERE rowid IN (SELECT rowid FROM dedup_keys "
              "WHERE first_seen < ?1 ORDER BY first_seen LIMIT ?2)",
              keep_keys_after, out.dedup_keys);
    }
  }
  out.complete = events_done && keys_done;
  // PASSIVE never waits for readers or writers; journal_size_limit then bounds the file.
  c.exec("PRAGMA wal_checkpoint(PASSIVE)");
  return out;
}

backlog_info store::backlog() {
  auto& m = *impl_;
  std::lock_guard lk(m.read_mu);
  auto& c = m.read;
  // One read transaction: both answers describe the same moment.
  sqlite::transaction tx(c, "BEGIN");
  if (tx.begin_rc() != SQLITE_OK) fail(c, tx.begin_rc(), "backlog");
  backlog_info out;
  // Each count reads one partial index, so the cost follows the backlog, never the done
  // deliveries, which are most of a spool: pending and free (deliveries_claimable), pending and
  // claimed (deliveries_claimed), dead (deliveries_dead).
  std::int64_t oldest_id = 0;
  const auto count = [&](const char* sql, std::map<std::string, std::size_t>& into,
                         bool track_oldest) {
    sqlite::statement_use s(&must(c, sql, "backlog"));
    for (;;) {
      const int rc = s->step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail(c, rc, "backlog");
      into[s->text(0)] += static_cast<std::size_t>(s->int64(1));
      if (track_oldest && (oldest_id == 0 || s->int64(2) < oldest_id)) oldest_id = s->int64(2);
    }
  };
  count(
      "SELECT handler, COUNT(*), MIN(id) FROM deliveries "
      "WHERE state = 'pending' AND claim IS NULL GROUP BY handler",
      out.pending, true);
  count(
      "SELECT handler, COUNT(*), MIN(id) FROM deliveries "
      "WHERE claim IS NOT NULL AND state = 'pending' GROUP BY handler",
      out.pending, true);
  count("SELECT handler, COUNT(*), 0 FROM deliveries WHERE state = 'dead' GROUP BY handler",
        out.dead, false);
  if (oldest_id == 0) return out;
  // A delivery is inserted with its event, so the lowest pending id is a delivery of the oldest
  // event with one pending (ids and seqs both follow arrival; a replay changes only the state).
  sqlite::statement_use s(&must(c,
                                "SELECT e.received_at FROM deliveries d "
                                "JOIN events e ON e.seq = d.event_seq WHERE d.id = ?1",
                                "backlog"));
  s->bind_all(oldest_id);
  const int rc = s->step();
  if (rc == SQLITE_ROW && !s->is_null(0)) {
    out.oldest_pending = from_ms(s->int64(0));
  } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    fail(c, rc, "backlog");
  }
  return out;
}

}  // namespace hookd::spool
