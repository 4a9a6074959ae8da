// The dispatcher's side of the spool (claim, settle, release) and replay.

#include <charconv>
#include <map>

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

claim_result store::claim(const claim_request& req) noexcept {
  claim_result out;
  try {
    auto& m = *impl_;
    std::lock_guard lk(m.delivery_mu);
    auto& c = m.delivery;
    const std::int64_t now_ms = to_ms(m.now());
    {
      // Idle polls must not take the write lock the writer thread needs for group commits.
      sqlite::statement_use any(
          c.cached("SELECT 1 FROM deliveries WHERE state = 'pending' AND claim IS NULL "
                   "AND next_attempt_at <= ?1 LIMIT 1"));
      if (any) {
        any->bind(1, now_ms);
        if (any->step() == SQLITE_DONE) return out;
      }
    }
    sqlite::transaction tx(c, "BEGIN IMMEDIATE");
    if (tx.begin_rc() != SQLITE_OK) {
      out.ok = false;
      out.error = describe(c, "claim: begin");
      return out;
    }
    {
      // Arrival order: delivery ids grow with the event's arrival; a retry keeps its place.
      sqlite::statement_use sel(
          c.cached("SELECT d.handler, d.id, d.event_seq, d.attempts, d.round_attempts, e.endpoint, "
                   "e.event_id, e.type, e.received_at, e.cloudevent "
                   "FROM deliveries d JOIN events e ON e.seq = d.event_seq "
                   "WHERE d.state = 'pending' AND d.claim IS NULL AND d.next_attempt_at <= ?1 "
                   "AND (?2 IS NULL OR d.handler = ?2) ORDER BY d.id"));
      if (!sel) {
        out.ok = false;
        out.error = describe(c, "claim: prepare");
        return out;
      }
      sel->bind(1, now_ms);
      sel->bind(2, req.handler);
      std::map<std::string, std::size_t, std::less<>> taken;
      while (out.deliveries.size() < req.limit) {
        const int rc = sel->step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
          out.ok = false;
          out.error = describe(c, "claim: select");
          out.deliveries.clear();
          return out;
        }
        std::string handler = sel->text(0);
        if (auto cap = req.capacity.find(handler); cap != req.capacity.end()) {
          auto& n = taken[handler];
          if (n >= cap->second) continue;  // this handler has no free slot: keep its order
          ++n;
        }
        claimed_delivery d;
        d.handler = std::move(handler);
        d.delivery_id = sel->int64(1);
        d.event_seq = sel->int64(2);
        d.attempt = static_cast<unsigned>(sel->int64(3)) + 1;
        d.round_attempt = static_cast<unsigned>(sel->int64(4)) + 1;
        d.endpoint = sel->text(5);
        d.event_id = sel->text(6);
        d.type = sel->text(7);
        d.received = from_ms(sel->int64(8));
        d.cloudevent = sel->text(9);
        out.deliveries.push_back(std::move(d));
      }
    }
    sqlite::statement_use upd(c.cached(
        "UPDATE deliveries SET claim = ?1, claimed_at = ?2 WHERE id = ?3 AND claim IS NULL"));
    if (!upd) {
      out.ok = false;
      out.error = describe(c, "claim: prepare");
      out.deliveries.clear();
      return out;
    }
    for (const auto& d : out.deliveries) {
      upd->reset();
      upd->bind_all(m.claim_token, now_ms, d.delivery_id);
      if (upd->step() != SQLITE_DONE) {
        out.ok = false;
        out.error = describe(c, "claim: update");
        out.deliveries.clear();
        return out;
      }
    }
    if (tx.commit() != SQLITE_OK) {
      out.ok = false;
      out.error = describe(c, "claim: commit");
      out.deliveries.clear();
    }
  } catch (const std::exception& e) {  // bad_alloc: nothing was claimed (rolled back)
    out.ok = false;
    out.error = e.what();
    out.deliveries.clear();
  }
  return out;
}

settle_status store::settle(std::int64_t delivery_id, const outcome& o) noexcept {
  try {
    auto& m = *impl_;
    std::lock_guard lk(m.delivery_mu);
    auto& c = m.delivery;
    const std::int64_t now_ms = to_ms(m.now());
    sqlite::transaction tx(c, "BEGIN IMMEDIATE");
    if (tx.begin_rc() != SQLITE_OK) return settle_status::unavailable;
    std::int64_t attempts = 0;
    std::int64_t started = now_ms;
    {
      sqlite::statement_use sel(
          c.cached("SELECT attempts, claimed_at FROM deliveries WHERE id = ?1 AND claim = ?2"));
      if (!sel) return settle_status::unavailable;
      sel->bind_all(delivery_id, m.claim_token);
      const int rc = sel->step();
      if (rc == SQLITE_DONE) return settle_status::not_claimed;
      if (rc != SQLITE_ROW) return settle_status::unavailable;
      attempts = sel->int64(0);
      if (!sel->is_null(1)) started = sel->int64(1);
    }
    const bool ok = o.state == delivery_state::done;
    {
      sqlite::statement_use ins(
          c.cached("INSERT INTO attempts(delivery_id, number, started_at, finished_at, ok, error) "
                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
      if (!ins) return settle_status::unavailable;
      ins->bind_all(delivery_id, attempts + 1, started, now_ms, std::int64_t{ok ? 1 : 0},
                    ok ? std::string() : o.error);
      if (ins->step() != SQLITE_DONE) return settle_status::unavailable;
    }
    {
      sqlite::statement_use upd(
          c.cached("UPDATE deliveries SET state = ?2, attempts = attempts + 1, "
                   "round_attempts = round_attempts + 1, next_attempt_at = ?3, last_error = ?4, "
                   "claim = NULL, claimed_at = NULL, updated_at = ?5 WHERE id = ?1"));
      if (!upd) return settle_status::unavailable;
      const std::int64_t next = o.state == delivery_state::pending ? to_ms(o.retry_at) : now_ms;
      upd->bind_all(delivery_id, to_string(o.state), next, ok ? std::string() : o.error, now_ms);
      if (upd->step() != SQLITE_DONE) return settle_status::unavailable;
    }
    return tx.commit() == SQLITE_OK ? settle_status::settled : settle_status::unavailable;
  } catch (...) {  // bad_alloc: rolled back, the claim stays
    return settle_status::unavailable;
  }
}

bool store::release(std::int64_t delivery_id) noexcept {
  try {
    auto& m = *impl_;
    std::lock_guard lk(m.delivery_mu);
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
    sqlite::statement_use sel(m.delivery.cached(
        "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending' AND claim IS NULL"));
    if (!sel || sel->step() != SQLITE_ROW || sel->is_null(0)) return std::nullopt;
    return from_ms(sel->int64(0));
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
  sqlite::transaction tx(c, "BEGIN IMMEDIATE");
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
