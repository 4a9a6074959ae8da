#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <hookd/config/config.hpp>
#include <hookd/core/units.hpp>
#include <hookd/dispatch/routes.hpp>
#include <hookd/dispatch/sink.hpp>
#include <hookd/handlers/handler.hpp>
#include <hookd/spool/spool.hpp>

namespace hookd::dispatch {

/// A wake-up signal shared by the spool's on_commit hook and the dispatcher's workers. It exists
/// on its own because the spool's options (and so its hook) are fixed before the store is built,
/// and the dispatcher is built after the store:
///
///     auto wake = std::make_shared<dispatch::wakeup>();
///     spool_opts.on_commit = [wake] { wake->notify(); };
///     spool::store spool(spool_opts);
///     durable_dispatcher d(spool, routes, handlers, {.wake = wake, ...});
///
/// A generation counter makes a notify() between a worker's look at the spool and its wait count:
/// no wake-up is lost. notify() wakes one waiting worker (it wakes another when there is more
/// than it can run); notify_all() wakes them all (stop). Thread-safe; neither blocks for long or
/// throws.
class wakeup {
 public:
  void notify() noexcept;
  void notify_all() noexcept;
  std::uint64_t generation() const noexcept;
  /// Returns when the generation differs from `seen` (a notify() since), or at `deadline`.
  void wait(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::uint64_t generation_ = 0;
};

/// The routes, handlers and retry policies in force (durable_dispatcher.cpp).
struct dispatch_table;

/// Counters since construction, for tests and metrics.
struct dispatch_counters {
  std::uint64_t submitted = 0;      ///< events handed to the spool
  std::uint64_t delivered = 0;      ///< attempts that succeeded
  std::uint64_t failed = 0;         ///< attempts that failed (retried or dead)
  std::uint64_t dead = 0;           ///< deliveries settled dead (failed, or unconfigured handler)
  std::uint64_t exceptions = 0;     ///< attempts ended by an exception caught by the worker loop
  std::uint64_t claim_errors = 0;   ///< claim() calls that failed (spool unavailable)
  std::uint64_t settle_errors = 0;  ///< outcomes the spool could not record (the claim stays)
  std::size_t in_flight = 0;        ///< deliveries running right now
};

/// The durable form of dispatch: the request path appends each event, with the names of the
/// handlers its routes select, to the spool (one delivery row per handler, committed before the
/// request is answered); a pool of worker threads claims due deliveries from the spool, runs the
/// handler, and settles the delivery: done, retried later with backoff (retry.hpp), or dead.
///
/// - Claims: one claim transaction takes up to 16 due deliveries per concurrency slot of each
///   handler running short (fewer waiting than it has slots), in order of arrival; they wait in
///   the process, claimed, until a worker starts them. One worker claims at a time.
/// - Order and concurrency: a worker starts the first waiting delivery whose handler has a free
///   slot, so a handler never runs more than concurrency() deliveries at once, and a
///   concurrency-1 handler gets due deliveries one at a time in order of arrival. A delivery
///   waiting for a retry does not hold back later events (no head-of-line blocking): order is
///   the order of first attempts.
/// - Outcomes: a worker hands each outcome to the spool (store::settle_async), which records it
///   in the writer's next group commit; the handler's slot is free at once.
/// - Handlers get the stored event text as it is, with the attributes the spool keeps beside it
///   (handlers::event_attributes): nothing is parsed again per delivery.
/// - A handler named in the spool but absent from `handlers` (the config changed between runs)
///   has its deliveries settled dead with "handler X is not configured": visible in
///   `hookd events list --state dead`, replayable once the handler is configured again.
/// - An exception escaping a handler (deliver() is noexcept, but just in case) or the worker's
///   own code is caught by one catch-all per attempt, logged, counted, and retried by the policy.
/// - Waiting: a worker that finishes a delivery looks for the next one itself; idle workers
///   sleep until the wakeup is notified (spool commit: one worker; a worker that found more
///   than it can run: one more; stop: all) or the next due delivery's time, at most `max_idle`
///   (1 s): retries come due, and replays made by another process (the CLI) are picked up
///   without a restart.
///
/// Thread-safety: submit(), wake(), stop(), reopen() and counters() may be called from any
/// thread. Ownership: shares its handlers; uses `spool`, which must outlive this object (or at
/// least the return of stop()). After stop() returns the spool is not touched again.
class durable_dispatcher final : public event_sink {
 public:
  using handler_map = std::map<std::string, std::shared_ptr<handlers::handler>>;

  struct options {
    unsigned workers = 4;  ///< threads running handlers (dispatch.workers); at least 1
    /// Retry policy per handler name; a handler not listed gets `default_retry`. Replaced by
    /// reconfigure().
    std::map<std::string, config::retry_policy> retry;
    config::retry_policy default_retry;
    /// The time retries are scheduled from; must be the spool's clock (options::clock). Empty:
    /// std::chrono::system_clock::now.
    spool::clock_fn clock;
    /// Bound on a worker's sleep when nothing wakes it (polls for other processes' replays).
    duration max_idle = std::chrono::seconds(1);
    /// Shared with the spool's on_commit hook, which must notify it; null: the dispatcher makes
    /// its own (then its own submits' completions, wake() and max_idle wake workers).
    std::shared_ptr<wakeup> wake;
    /// Seed for the retry jitter (each worker adds its index); 0: from std::random_device.
    std::uint64_t seed = 0;
    /// Called on the worker thread after each attempt: the handler, the outcome ("done", "retry"
    /// or "dead") and the attempt's duration in seconds (metrics). Must not block or throw.
    std::function<void(std::string_view handler, std::string_view outcome, double seconds)>
        on_attempt;
  };

  /// Starts `opts.workers` threads. Throws std::invalid_argument when a route names a handler
  /// that is not in `handlers`.
  durable_dispatcher(spool::store& spool, route_table routes, handler_map handlers, options opts);

  /// The options `cfg` asks for: dispatch.workers, each handler's retry policy. `wake` and
  /// `clock` as given.
  static options options_from(const config::config& cfg, std::shared_ptr<wakeup> wake = nullptr,
                              spool::clock_fn clock = {});

  /// stop(0) if not stopped yet.
  ~durable_dispatcher() override;

  durable_dispatcher(const durable_dispatcher&) = delete;
  durable_dispatcher& operator=(const durable_dispatcher&) = delete;

  /// Never blocks: matches the routes and appends the event with its handler names to the spool.
  /// An event no route matches is stored too (dedup, audit), with no delivery. `done` runs once,
  /// on the spool's writer thread (or on the caller's thread when the spool refuses at once):
  /// accepted only once committed, duplicate for a known (endpoint, id), unavailable otherwise
  /// (including after stop()).
  void submit(event ev, std::function<void(submit_status)> done) override;

  /// Makes the workers look at the spool now (after a replay in this process, a moved test
  /// clock, ...). Never blocks.
  void wake() noexcept;

  /// Stops claiming and accepting; waits up to `grace` for the deliveries in flight to finish and
  /// their outcomes to be committed; claimed deliveries not yet started are released (due again
  /// at once, no attempt counted). A delivery
  /// still running at the deadline keeps its claim in the spool (the next daemon start releases
  /// it, and it runs again: at least once); its thread is left to finish on its own and never
  /// touches the spool again. Idempotent.
  void stop(duration grace);

  /// Replaces the routes, the handlers and their retry policies as one snapshot (a reload):
  /// events submitted from now on are routed by `routes`, deliveries claimed from now on run on
  /// `handlers`; deliveries in flight finish on the handler they started with. A handler that is
  /// gone gets its later deliveries settled dead ("not configured"), replayable once it is back.
  /// Throws std::invalid_argument, as the constructor does, and then changes nothing.
  void reconfigure(route_table routes, handler_map handlers,
                   std::map<std::string, config::retry_policy> retry);

  /// Calls reopen() on every handler (SIGUSR1).
  void reopen() noexcept;

  /// False once stop() has begun (readiness).
  bool accepting() const noexcept;

  dispatch_counters counters() const;

  struct state;  ///< shared with the worker threads (they may outlive this object after stop)

 private:
  static std::shared_ptr<const dispatch_table> make_table(
      route_table routes, handler_map handlers, std::map<std::string, config::retry_policy> retry);

  spool::store& spool_;
  std::shared_ptr<state> state_;
  std::mutex stop_mu_;  // serializes stop(): threads are joined or detached once
  std::vector<std::thread> workers_;
};

}  // namespace hookd::dispatch
