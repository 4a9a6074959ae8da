#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <hookd/http/server.hpp>
#include <hookd/metrics/metrics.hpp>
#include <hookd/spool/spool.hpp>

namespace hookd::cli {

/// How long the daemon waits after counting the backlog (store::backlog(), whose cost follows
/// the number of pending and dead deliveries) before it counts again: a second, or 20 times what
/// the count took when that is longer, so counting never takes more than 5 % of a core (a million
/// pending deliveries take about 0.1 s to count on a 2-core development VM).
std::chrono::steady_clock::duration backlog_pause(std::chrono::steady_clock::duration took);

/// The start-up time to ask the service manager for (EXTEND_TIMEOUT_USEC) while the spool's
/// schema migration reports progress (spool::options::on_migrating): next() answers at most once
/// a second, with 30 s or twice the time since the first report when that is longer, since the
/// parts of a migration that report nothing (dropping an index, the commit) grow with the rest.
/// nullopt: nothing to send now.
class migration_pace {
 public:
  std::optional<std::chrono::microseconds> next(std::chrono::steady_clock::time_point now);

 private:
  std::optional<std::chrono::steady_clock::time_point> started_;
  std::optional<std::chrono::steady_clock::time_point> last_;
};

/// Every metric `hookd run` exposes on /metrics, registered in one place (docs/operations.md
/// lists them), and the hooks the pipeline stages call to move them. The stages know nothing of
/// Prometheus: the server, the spool and the dispatcher each report through a callback of their
/// options, and this class turns the reports into series.
///
/// Thread-safety: every member function may be called from any thread. The hot path (one call
/// per request, per batch, per delivery) looks series up in a small cache under a mutex and then
/// only touches atomics.
class telemetry {
 public:
  explicit telemetry(metrics::registry& registry);
  telemetry(const telemetry&) = delete;
  telemetry& operator=(const telemetry&) = delete;

  /// The server's on_request hook.
  void request(const http::request_record& r);
  /// The spool's on_batch hook.
  void batch(const spool::batch_info& b);
  /// The dispatcher's hook: one attempt of `handler` ended with `outcome` ("done", "retry",
  /// "dead") after `seconds`.
  void delivery(std::string_view handler, std::string_view outcome, double seconds);
  /// The configured handlers: their pending and dead gauges exist (at 0) from now on, so a
  /// dashboard or an alert sees every handler before it first has a backlog.
  void handlers(const std::vector<std::string>& names);
  /// A reload ended.
  void reload(bool ok);
  /// The latest backlog read from the spool (the supervisor refreshes it every second or so, so
  /// a scrape never waits for SQLite on an io thread). `now` is the spool's clock.
  void backlog(const spool::backlog_info& b, std::chrono::system_clock::time_point now);

  /// Events accepted since start (STATUS=).
  std::uint64_t accepted() const noexcept { return accepted_total_.load(); }
  /// The last backlog given to backlog(): pending and dead deliveries in all (STATUS=).
  std::pair<std::size_t, std::size_t> pending_dead() const;

 private:
  /// A family's series by label values, looked up without building a label vector each time
  /// (the key is the values joined by a separator). Thread-safe.
  template <class Series>
  class cache {
   public:
    explicit cache(metrics::family<Series>& f) : family_(f) {}
    Series& with(std::initializer_list<std::string_view> values);

   private:
    metrics::family<Series>& family_;
    std::mutex mu_;
    std::unordered_map<std::string, Series*> series_;
  };

  cache<metrics::counter> requests_;
  cache<metrics::histogram> request_seconds_;
  cache<metrics::counter> accepted_;
  cache<metrics::counter> duplicates_;
  cache<metrics::counter> verification_failures_;
  cache<metrics::counter> deliveries_;
  cache<metrics::histogram> handler_seconds_;
  metrics::gauge_family& pending_;
  metrics::gauge_family& dead_;
  metrics::gauge& oldest_pending_age_;
  metrics::histogram& batch_size_;
  metrics::histogram& commit_seconds_;
  metrics::counter& commit_failures_;
  metrics::counter_family& reloads_;

  std::atomic<std::uint64_t> accepted_total_{0};

  mutable std::mutex backlog_mu_;  // guards what follows
  std::size_t pending_total_ = 0, dead_total_ = 0;
  std::map<std::string, std::size_t> last_pending_, last_dead_;  // to zero series that emptied
};

}  // namespace hookd::cli
