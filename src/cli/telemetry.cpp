#include "telemetry.hpp"

#include <algorithm>
#include <charconv>

namespace hookd::cli {

namespace {

/// Batch sizes: 1 (one request at a time) to the spool's max_batch (1000).
std::vector<double> batch_size_buckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000};
}

/// Commit durations (an fsync): 100 µs … 1 s.
std::vector<double> commit_buckets() {
  return metrics::exponential_buckets(0.0001, 2.5, 11);
}

/// Handler durations: 1 ms (log, file) … 60 s (an exec handler at its timeout).
std::vector<double> handler_buckets() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60};
}

}  // namespace

template <class Series>
Series& telemetry::cache<Series>::with(std::initializer_list<std::string_view> values) {
  std::string key;
  for (const auto v : values) {
    key += v;
    key += '\x1f';
  }
  std::lock_guard lock(mu_);
  if (auto it = series_.find(key); it != series_.end()) return *it->second;
  Series& s = family_.with(values);
  series_.emplace(std::move(key), &s);
  return s;
}

telemetry::telemetry(metrics::registry& r)
    : requests_(
          r.counter("hookd_http_requests_total",
                    "HTTP requests answered on the public listeners, by endpoint (empty: none "
                    "reached) and status code",
                    {"endpoint", "status"})),
      request_seconds_(r.histogram(
          "hookd_http_request_duration_seconds",
          "Time from a request's first byte to its answer (the spool commit included), by endpoint",
          {"endpoint"})),
      accepted_(r.counter("hookd_events_accepted_total",
                          "Events committed to the spool and answered 200 accepted, by endpoint",
                          {"endpoint"})),
      duplicates_(r.counter("hookd_events_duplicate_total",
                            "Events answered 200 duplicate (already accepted within the dedup "
                            "window), by endpoint",
                            {"endpoint"})),
      verification_failures_(r.counter(
          "hookd_verification_failures_total",
          "Requests refused with 401 (missing or bad signature, token or api key), by endpoint "
          "and reason",
          {"endpoint", "reason"})),
      deliveries_(r.counter("hookd_deliveries_total",
                            "Delivery attempts that ended, by handler and outcome (done; retry: "
                            "failed, to be retried; dead: failed, no attempt left)",
                            {"handler", "outcome"})),
      handler_seconds_(r.histogram("hookd_handler_duration_seconds",
                                   "Time a handler took for one delivery attempt, by handler",
                                   {"handler"}, handler_buckets())),
      pending_(r.gauge("hookd_deliveries_pending",
                       "Deliveries waiting for their first attempt or a retry (claimed ones "
                       "included), by handler",
                       {"handler"})),
      dead_(r.gauge("hookd_deliveries_dead",
                    "Deliveries that failed every attempt (hookd events replay --dead), by handler",
                    {"handler"})),
      oldest_pending_age_(r.gauge("hookd_oldest_pending_age_seconds",
                                  "Age of the oldest event with a pending delivery; 0 when none")
                              .get()),
      batch_size_(r.histogram("hookd_spool_commit_batch_size",
                              "Events committed together in one spool transaction (group commit)",
                              {}, batch_size_buckets())
                      .get()),
      commit_seconds_(r.histogram("hookd_spool_commit_duration_seconds",
                                  "Time of one spool transaction carrying events, fsync included",
                                  {}, commit_buckets())
                          .get()),
      commit_failures_(r.counter("hookd_spool_commit_failures_total",
                                 "Spool transactions that could not commit (disk full, read-only, "
                                 "locked): their requests were answered 503")
                           .get()),
      reloads_(r.counter("hookd_reloads_total", "Config reloads (SIGHUP), by result (ok, failed)",
                         {"result"})) {
  r.gauge("hookd_build_info", "hookd's version, as a label; always 1", {"version"})
      .with({HOOKD_VERSION})
      .set(1);
  // Both results exist from the start, so a rate() over them needs no first failure.
  reloads_.with({"ok"});
  reloads_.with({"failed"});
}

void telemetry::request(const http::request_record& r) {
  // Only configured endpoints become label values: an attacker probing random /hooks/<name>
  // paths gets endpoint="" and cannot grow the series without bound.
  const std::string_view endpoint = r.endpoint;
  char status[12];
  const auto [end, ec] = std::to_chars(status, status + sizeof status, r.status);
  requests_.with({endpoint, std::string_view(status, ec == std::errc{} ? end - status : 0)}).inc();
  request_seconds_.with({endpoint}).observe(r.seconds);
  if (r.route != "hooks" || endpoint.empty()) return;
  if (r.status == 200 && r.reason == "accepted") {
    accepted_.with({endpoint}).inc();
    accepted_total_.fetch_add(1, std::memory_order_relaxed);
  } else if (r.status == 200 && r.reason == "duplicate") {
    duplicates_.with({endpoint}).inc();
  } else if (r.status == 401) {
    verification_failures_.with({endpoint, r.reason}).inc();
  }
}

void telemetry::batch(const spool::batch_info& b) {
  if (!b.ok) {
    commit_failures_.inc();
    return;
  }
  // Transactions of outcomes and claims only commit without an fsync: they would blur both
  // series, which are about what a request waits for.
  if (b.size == 0) return;
  batch_size_.observe(static_cast<double>(b.size));
  commit_seconds_.observe(std::chrono::duration<double>(b.commit_time).count());
}

void telemetry::delivery(std::string_view handler, std::string_view outcome, double seconds) {
  deliveries_.with({handler, outcome}).inc();
  handler_seconds_.with({handler}).observe(seconds);
}

void telemetry::handlers(const std::vector<std::string>& names) {
  std::lock_guard lock(backlog_mu_);
  for (const auto& name : names) {
    // with() creates the series at 0; an existing one keeps its value.
    pending_.with({name});
    dead_.with({name});
    last_pending_.try_emplace(name, 0);
    last_dead_.try_emplace(name, 0);
  }
}

void telemetry::reload(bool ok) {
  reloads_.with({ok ? "ok" : "failed"}).inc();
}

void telemetry::backlog(const spool::backlog_info& b, std::chrono::system_clock::time_point now) {
  std::lock_guard lock(backlog_mu_);
  const auto publish = [](metrics::gauge_family& family,
                          const std::map<std::string, std::size_t>& now_counts,
                          std::map<std::string, std::size_t>& last) {
    std::size_t total = 0;
    for (const auto& [handler, n] : now_counts) {
      family.with({handler}).set(static_cast<double>(n));
      total += n;
    }
    // A handler whose backlog emptied has no row any more: its series goes back to 0.
    for (const auto& [handler, n] : last) {
      if (now_counts.count(handler) == 0) family.with({handler}).set(0);
    }
    last = now_counts;
    return total;
  };
  pending_total_ = publish(pending_, b.pending, last_pending_);
  dead_total_ = publish(dead_, b.dead, last_dead_);
  const double age =
      b.oldest_pending ? std::chrono::duration<double>(now - *b.oldest_pending).count() : 0.0;
  oldest_pending_age_.set(std::max(0.0, age));
}

std::pair<std::size_t, std::size_t> telemetry::pending_dead() const {
  std::lock_guard lock(backlog_mu_);
  return {pending_total_, dead_total_};
}

std::chrono::steady_clock::duration backlog_pause(std::chrono::steady_clock::duration took) {
  const std::chrono::steady_clock::duration floor = std::chrono::seconds(1);
  return std::max(floor, took * 20);
}

std::optional<std::chrono::microseconds> migration_pace::next(
    std::chrono::steady_clock::time_point now) {
  if (!started_) started_ = now;
  if (last_ && now - *last_ < std::chrono::seconds(1)) return std::nullopt;
  last_ = now;
  const std::chrono::microseconds floor = std::chrono::seconds(30);
  return std::max(floor,
                  std::chrono::duration_cast<std::chrono::microseconds>(2 * (now - *started_)));
}

}  // namespace hookd::cli
