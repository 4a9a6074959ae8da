// The dispatcher's side of the spool (claim, settle, release) and replay.

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include <sqlite3.h>

#include "store_impl.hpp"

namespace hookd::spool {

namespace {

std::string describe(const sqlite::connection& c, const char* what) {
  return std::string(what) + ": " + c.errmsg();
}

/// The row number a CLI argument names, or -1 (no row has it) when it is not a number.
std::int64_t as_seq(const std::string& key) noexcept {
  std::int64_t v = -1;
  const auto* end = key.data() + key.size();
  const auto [p, ec] = std::from_chars(key.data(), end, v);
  return ec == std::errc{} && p == end && !key.empty() ? v : -1;
}

}  // namespace

namespace {

/// A claimable delivery chosen by choose_claimable().
struct candidate {
  std::int64_t id = 0;
  std::string handler;
};

// The due rows of one handler, the earliest due first (first attempts: in order of arrival),
// read from deliveries_claimable alone: a range of (handler, next_attempt_at), so the rows
// waiting for a retry are never read.
constexpr const char* claimable_of_handler =
    "SELECT id FROM deliveries INDEXED BY deliveries_claimable "
    "WHERE state = 'pending' AND claim IS NULL AND handler = ?1 AND next_attempt_at <= ?2 "
    "ORDER BY next_attempt_at, id LIMIT ?3";
// The handlers that have claimable rows, one index seek each (SQLite has no skip-scan without
// statistics): the first, then the next after ?1.
constexpr const char* first_claimable_handler =
    "SELECT handler FROM deliveries INDEXED BY deliveries_claimable "
    "WHERE state = 'pending' AND claim IS NULL ORDER BY handler LIMIT 1";
constexpr const char* next_claimable_handler =
    "SELECT handler FROM deliveries INDEXED BY deliveries_claimable "
    "WHERE state = 'pending' AND claim IS NULL AND handler > ?1 ORDER BY handler LIMIT 1";
// The earliest due time of one handler's claimable rows: the first of its range.
constexpr const char* earliest_due_of_handler =
    "SELECT next_attempt_at FROM deliveries INDEXED BY deliveries_claimable "
    "WHERE state = 'pending' AND claim IS NULL AND handler = ?1 ORDER BY next_attempt_at LIMIT 1";

/// Appends up to `limit` claimable deliveries of `handler` to `out`.
int claimable(sqlite::connection& c, const std::string& handler, std::int64_t now_ms,
              std::size_t limit, std::vector<candidate>& out) {
  sqlite::statement_use sel(c.cached(claimable_of_handler));
  if (!sel) return c.extended_errcode();
  sel->bind_all(handler, now_ms, static_cast<std::int64_t>(limit));
  for (;;) {
    const int rc = sel->step();
    if (rc == SQLITE_DONE) return SQLITE_OK;
    if (rc != SQLITE_ROW) return rc;
    out.push_back(candidate{sel->int64(0), handler});
  }
}

/// Calls `fn(handler)` for each handler with claimable rows, in name order, one index seek
/// each; stops at the first result of `fn` that is not SQLITE_OK and returns it.
template <class Fn>
int each_claimable_handler(sqlite::connection& c, Fn&& fn) {
  std::optional<std::string> after;
  for (;;) {
    std::string handler;
    {
      sqlite::statement_use sel(c.cached(after ? next_claimable_handler : first_claimable_handler));
      if (!sel) return c.extended_errcode();
      if (after) sel->bind(1, *after);
      const int rc = sel->step();
      if (rc == SQLITE_DONE) return SQLITE_OK;
      if (rc != SQLITE_ROW) return rc;
      handler = sel->text(0);
    }
    if (const int rc = fn(handler); rc != SQLITE_OK) return rc;
    after = std::move(handler);
  }
}

/// What a claim would take: each handler's first due deliveries, at most its capacity, then
/// the oldest `limit` of them all. Order of arrival is delivery id order: ids grow with the
/// event's arrival, and a retry keeps its id. Reads only.
int choose_claimable(sqlite::connection& c, const claim_request& req, std::int64_t now_ms,
                     std::vector<candidate>& chosen) {
  auto wanted = [&req](const std::string& handler) {
    const auto cap = req.capacity.find(handler);
    return cap == req.capacity.end() ? req.limit : std::min(req.limit, cap->second);
  };
  if (req.handler) return claimable(c, *req.handler, now_ms, wanted(*req.handler), chosen);
  const int rc = each_claimable_handler(c, [&](const std::string& handler) {
    const std::size_t n = wanted(handler);
    return n == 0 ? SQLITE_OK : claimable(c, handler, now_ms, n, chosen);
  });
  if (rc != SQLITE_OK) return rc;
  std::sort(chosen.begin(), chosen.end(),
            [](const candidate& a, const candidate& b) { return a.id < b.id; });
  if (chosen.size() > req.limit) chosen.resize(req.limit);
  return SQLITE_OK;
}

/// Marks `chosen` claimed and reads them into `out`, inside the caller's write transaction.
/// Each row is read again: one chosen outside the transaction may have changed since (another
/// process's replay); one no longer claimable is skipped.
int take_claimed(sqlite::connection& c, std::int64_t claim_token, std::int64_t now_ms,
                 const std::vector<candidate>& chosen, std::vector<claimed_delivery>& out) {
  sqlite::statement_use sel(
      c.cached("SELECT d.handler, d.event_seq, d.attempts, d.round_attempts, e.endpoint, "
               "e.event_id, e.type, e.provider, e.subject, e.received_at, e.cloudevent "
               "FROM deliveries d JOIN events e ON e.seq = d.event_seq "
               "WHERE d.id = ?1 AND d.state = 'pending' AND d.claim IS NULL "
               "AND d.next_attempt_at <= ?2"));
  if (!sel) return c.extended_errcode();
  sqlite::statement_use upd(
      c.cached("UPDATE deliveries SET claim = ?1, claimed_at = ?2 WHERE id = ?3"));
  if (!upd) return c.extended_errcode();
  out.reserve(out.size() + chosen.size());
  for (const auto& cand : chosen) {
    sel->reset();
    sel->bind_all(cand.id, now_ms);
    const int rc = sel->step();
    if (rc == SQLITE_DONE) continue;  // no longer claimable
    if (rc != SQLITE_ROW) return rc;
    claimed_delivery d;
    d.delivery_id = cand.id;
    d.handler = sel->text(0);
    d.event_seq = sel->int64(1);
    d.attempt = static_cast<unsigned>(sel->int64(2)) + 1;
    d.round_attempt = static_cast<unsigned>(sel->int64(3)) + 1;
    d.endpoint = sel->text(4);
    d.event_id = sel->text(5);
    d.type = sel->text(6);
    d.provider = sel->text(7);
    d.subject = sel->text(8);
    d.received = from_ms(sel->int64(9));
    d.cloudevent = sel->text(10);
    upd->reset();
    upd->bind_all(claim_token, now_ms, cand.id);
    if (const int urc = upd->step(); urc != SQLITE_DONE) return urc;
    out.push_back(std::move(d));
  }
  return SQLITE_OK;
}

}  // namespace

bool any_claimable(sqlite::connection& c, const claim_request& req, std::int64_t now_ms) {
  std::vector<candidate> chosen;
  // On an error, say yes: the claim in the transaction reports it.
  return choose_claimable(c, req, now_ms, chosen) != SQLITE_OK || !chosen.empty();
}

int claim_in(sqlite::connection& c, std::int64_t claim_token, const claim_request& req,
             std::int64_t now_ms, std::vector<claimed_delivery>& out) {
  std::vector<candidate> chosen;
  if (const int rc = choose_claimable(c, req, now_ms, chosen); rc != SQLITE_OK) return rc;
  return take_claimed(c, claim_token, now_ms, chosen, out);
}

claim_result store::claim(const claim_request& req) noexcept {
  claim_result out;
  auto fail = [&out](std::string why) {
    out.ok = false;
    out.error = std::move(why);
    out.deliveries.clear();
    return out;
  };
  try {
    auto& m = *impl_;
    // The daemon claims in the writer thread, on the writer's connection: a write on another
    // connection of the process makes every other connection drop its whole page cache at its
    // next transaction (SQLite sees the WAL changed), and the writer then read its pages again
    // from disk after every claim (a pread per page). See store::impl::commit_batch.
    if (auto f = m.enqueue_claim(req)) return f->get();

    // A client (no writer thread): choose without the write lock, then claim in a write
    // transaction of the delivery connection.
    std::lock_guard lk(m.delivery_mu);
    auto& c = m.delivery;
    const std::int64_t now_ms = to_ms(m.now());
    std::vector<candidate> chosen;
    if (choose_claimable(c, req, now_ms, chosen) != SQLITE_OK) {
      return fail(describe(c, "claim: select"));
    }
    if (chosen.empty()) return out;
    write_transaction tx(m.write_mu, c);
    if (tx.begin_rc() != SQLITE_OK) return fail(describe(c, "claim: begin"));
    if (take_claimed(c, m.claim_token, now_ms, chosen, out.deliveries) != SQLITE_OK) {
      return fail(describe(c, "claim"));
    }
    if (tx.commit() != SQLITE_OK) return fail(describe(c, "claim: commit"));
  } catch (const std::exception& e) {  // bad_alloc: nothing was claimed (rolled back)
    return fail(e.what());
  }
  return out;
}

int settle_in(sqlite::connection& c, std::int64_t claim_token, std::int64_t delivery_id,
              const outcome& o, std::int64_t now_ms, settle_status& status) {
  status = settle_status::unavailable;
  const bool ok = o.state == delivery_state::done;
  {
    // The attempt's row, numbered and timed from the delivery's row, which must still hold
    // this process's claim: one statement reads and writes (no row: not claimed by us).
    sqlite::statement_use ins(
        c.cached("INSERT INTO attempts(delivery_id, number, started_at, finished_at, ok, error) "
                 "SELECT id, attempts + 1, coalesce(claimed_at, ?3), ?3, ?4, ?5 "
                 "FROM deliveries WHERE id = ?1 AND claim = ?2"));
    if (!ins) return c.extended_errcode();
    ins->bind_all(delivery_id, claim_token, now_ms, std::int64_t{ok ? 1 : 0},
                  sqlite::unowned{ok ? std::string_view() : std::string_view(o.error)});
    if (const int rc = ins->step(); rc != SQLITE_DONE) return rc;
    if (c.changes() == 0) {
      status = settle_status::not_claimed;
      return SQLITE_OK;
    }
  }
  {
    sqlite::statement_use upd(
        c.cached("UPDATE deliveries SET state = ?2, attempts = attempts + 1, "
                 "round_attempts = round_attempts + 1, next_attempt_at = ?3, last_error = ?4, "
                 "claim = NULL, claimed_at = NULL, updated_at = ?5 WHERE id = ?1"));
    if (!upd) return c.extended_errcode();
    const std::int64_t next = o.state == delivery_state::pending ? to_ms(o.retry_at) : now_ms;
    upd->bind_all(delivery_id, sqlite::unowned{to_string(o.state)}, next,
                  sqlite::unowned{ok ? std::string_view() : std::string_view(o.error)}, now_ms);
    if (const int rc = upd->step(); rc != SQLITE_DONE) return rc;
  }
  status = settle_status::settled;
  return SQLITE_OK;
}

settle_status store::settle(std::int64_t delivery_id, const outcome& o) noexcept {
  try {
    auto& m = *impl_;
    std::lock_guard lk(m.delivery_mu);
    write_transaction tx(m.write_mu, m.delivery);
    if (tx.begin_rc() != SQLITE_OK) return settle_status::unavailable;
    settle_status status = settle_status::unavailable;
    if (settle_in(m.delivery, m.claim_token, delivery_id, o, to_ms(m.now()), status) != SQLITE_OK) {
      return settle_status::unavailable;
    }
    if (status == settle_status::not_claimed) return status;
    return tx.commit() == SQLITE_OK ? settle_status::settled : settle_status::unavailable;
  } catch (...) {  // bad_alloc: rolled back, the claim stays
    return settle_status::unavailable;
  }
}

void store::settle_async(std::int64_t delivery_id, outcome o,
                         std::function<void(settle_status)> done) noexcept {
  auto& m = *impl_;
  // Built first: if push_back throws (bad_alloc), deque's strong guarantee leaves `item` whole,
  // so it is settled below and its completion still runs.
  queued_settle item{delivery_id, std::move(o), std::move(done), 0};
  try {
    std::unique_lock lk(m.queue_mu);
    // Once stopping, the writer may have taken its last batch: settle on this thread.
    if (!m.stopping && m.writer_thread.joinable()) {
      m.settles.push_back(std::move(item));
      lk.unlock();
      m.queue_cv.notify_one();
      return;
    }
  } catch (...) {  // bad_alloc while queueing: settled at once below
  }
  // No writer thread (a client, or the writer is stopping): settle here.
  run_once(item.done, settle(item.delivery_id, item.result));
}

bool store::release(std::int64_t delivery_id) noexcept {
  try {
    auto& m = *impl_;
    std::lock_guard lk(m.delivery_mu);
    std::lock_guard wl(m.write_mu);
    sqlite::statement_use upd(m.delivery.cached(
        "UPDATE deliveries SET claim = NULL, claimed_at = NULL WHERE id = ?1 AND claim = ?2"));
    if (!upd) return false;
    upd->bind_all(delivery_id, m.claim_token);
    return upd->step() == SQLITE_DONE && m.delivery.changes() > 0;
  } catch (...) {
    return false;
  }
}

std::optional<std::size_t> store::release_all() noexcept {
  try {
    auto& m = *impl_;
    std::lock_guard lk(m.delivery_mu);
    std::lock_guard wl(m.write_mu);
    sqlite::statement_use upd(m.delivery.cached(
        "UPDATE deliveries SET claim = NULL, claimed_at = NULL WHERE claim = ?1"));
    if (!upd) return std::nullopt;
    upd->bind(1, m.claim_token);
    if (upd->step() != SQLITE_DONE) return std::nullopt;
    return static_cast<std::size_t>(m.delivery.changes());
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<time_point> store::next_due_time() noexcept {
  try {
    auto& m = *impl_;
    std::lock_guard lk(m.delivery_mu);
    auto& c = m.delivery;
    // Two seeks per handler with claimable rows in deliveries_claimable: the handler, then its
    // earliest due time. One read transaction, so every handler is seen at the same moment.
    sqlite::transaction tx(c, "BEGIN");
    if (tx.begin_rc() != SQLITE_OK) return std::nullopt;
    std::optional<std::int64_t> earliest;
    const int rc = each_claimable_handler(c, [&](const std::string& handler) {
      sqlite::statement_use sel(c.cached(earliest_due_of_handler));
      if (!sel) return c.extended_errcode();
      sel->bind(1, handler);
      const int step = sel->step();
      if (step == SQLITE_ROW && (!earliest || sel->int64(0) < *earliest)) earliest = sel->int64(0);
      return step == SQLITE_ROW || step == SQLITE_DONE ? SQLITE_OK : step;
    });
    if (rc != SQLITE_OK || !earliest) return std::nullopt;
    return from_ms(*earliest);
  } catch (...) {
    return std::nullopt;
  }
}

std::size_t store::replay(const std::vector<std::string>& ids,
                          const std::optional<std::string>& handler) {
  auto& m = *impl_;
  std::lock_guard lk(m.delivery_mu);
  auto& c = m.delivery;
  const std::int64_t now_ms = to_ms(m.now());
  write_transaction tx(m.write_mu, c);
  if (tx.begin_rc() != SQLITE_OK) throw sqlite::error(tx.begin_rc(), describe(c, "replay"));
  std::size_t changed = 0;
  {
    // In-flight (claimed) deliveries are left to finish; the rest are due now, with a fresh
    // retry schedule (round_attempts = 0). History and the total attempt count are kept.
    sqlite::statement_use upd(
        c.cached("UPDATE deliveries SET state = 'pending', next_attempt_at = ?1, "
                 "round_attempts = 0, updated_at = ?1 "
                 "WHERE claim IS NULL AND (?4 IS NULL OR handler = ?4) AND event_seq IN "
                 "(SELECT seq FROM events WHERE event_id = ?2 OR seq = ?3)"));
    if (!upd) throw sqlite::error(c.extended_errcode(), describe(c, "replay"));
    for (const auto& id : ids) {
      upd->reset();
      upd->bind_all(now_ms, id, as_seq(id), handler);
      const int rc = upd->step();
      if (rc != SQLITE_DONE) throw sqlite::error(rc, describe(c, "replay"));
      changed += static_cast<std::size_t>(c.changes());
    }
  }
  if (const int rc = tx.commit(); rc != SQLITE_OK) {
    throw sqlite::error(rc, describe(c, "replay: commit"));
  }
  return changed;
}

std::size_t store::replay_dead(const std::optional<std::string>& handler) {
  auto& m = *impl_;
  std::lock_guard lk(m.delivery_mu);
  std::lock_guard wl(m.write_mu);
  auto& c = m.delivery;
  sqlite::statement_use upd(
      c.cached("UPDATE deliveries SET state = 'pending', next_attempt_at = ?1, "
               "round_attempts = 0, updated_at = ?1 "
               "WHERE state = 'dead' AND claim IS NULL AND (?2 IS NULL OR handler = ?2)"));
  if (!upd) throw sqlite::error(c.extended_errcode(), describe(c, "replay"));
  upd->bind_all(to_ms(m.now()), handler);
  if (const int rc = upd->step(); rc != SQLITE_DONE) {
    throw sqlite::error(rc, describe(c, "replay"));
  }
  return static_cast<std::size_t>(c.changes());
}

}  // namespace hookd::spool
