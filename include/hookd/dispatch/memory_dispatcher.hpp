#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <hookd/config/config.hpp>
#include <hookd/core/units.hpp>
#include <hookd/dispatch/routes.hpp>
#include <hookd/dispatch/sink.hpp>
#include <hookd/handlers/handler.hpp>

namespace hookd::dispatch {

/// The first form of dispatch: a bounded in-memory queue and one worker thread delivering each
/// event to its routed handlers, in route order, one event after the other (so every handler sees
/// events in order of arrival, and concurrency() is trivially respected). Failures are logged,
/// not retried: the durable spool replaces this class, keeping the handler interface.
///
/// Thread-safety: submit(), stop() and reopen() may be called from any thread.
/// Ownership: owns its handlers (shared with whoever else holds them) and its worker thread.
class memory_dispatcher final : public event_sink {
 public:
  using handler_map = std::map<std::string, std::shared_ptr<handlers::handler>>;

  /// Starts the worker. Throws std::invalid_argument when a route names a handler that is not in
  /// `handlers`, or when `capacity` is 0.
  memory_dispatcher(route_table routes, handler_map handlers, std::size_t capacity);

  /// Builds every handler of `cfg` with make_handler (which throws on a handler that cannot be
  /// created), the route table from cfg.routes, and a queue of cfg.dispatch.queue events.
  explicit memory_dispatcher(const config::config& cfg);

  /// Stops with no grace: the event being delivered finishes, queued ones are dropped (logged).
  ~memory_dispatcher() override;

  memory_dispatcher(const memory_dispatcher&) = delete;
  memory_dispatcher& operator=(const memory_dispatcher&) = delete;

  /// Never blocks. Queue full or stopped: done(unavailable) at once; otherwise the event is
  /// queued and done(accepted) is called, both on the caller's thread, outside any lock.
  void submit(event ev, std::function<void(submit_status)> done) override;

  /// Stops accepting (later submits are unavailable), delivers what is queued for up to `grace`,
  /// drops (and logs the count of) what is left, and joins the worker. The delivery in progress
  /// at the deadline is not interrupted: its handler's own timeout bounds it. Idempotent.
  void stop(duration grace);

  /// Calls reopen() on every handler (SIGUSR1).
  void reopen() noexcept;

  /// False once stop() has begun (for readiness checks).
  bool accepting() const;

  /// Events waiting in the queue (not counting the one being delivered).
  std::size_t queued() const;

  /// Events delivered to all their handlers so far (whatever the results); for tests and metrics.
  std::uint64_t processed() const;

 private:
  void run() noexcept;
  void deliver(const event& ev) noexcept;

  route_table routes_;
  handler_map handlers_;
  std::size_t capacity_;

  std::mutex stop_mutex_;  // serializes stop() so the worker is joined once
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<event> queue_;
  bool accepting_ = true;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  std::uint64_t processed_ = 0;
  std::thread worker_;  // last: started once everything above is initialized
};

}  // namespace hookd::dispatch
