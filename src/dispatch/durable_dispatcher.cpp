#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include <hookd/core/thread_name.hpp>
#include <hookd/dispatch/durable_dispatcher.hpp>
#include <hookd/dispatch/retry.hpp>

namespace hookd::dispatch {

using steady = std::chrono::steady_clock;

namespace {
/// Deliveries claimed per handler slot at once: one claim transaction for that many deliveries
/// (at 1, every delivery was a write transaction of its own, serialized with the writer's group
/// commits). Bounds the claimed-but-not-started deliveries of a handler to this many per slot.
constexpr std::size_t claim_batch = 16;
}  // namespace

// ---- wakeup ----------------------------------------------------------------------------------

void wakeup::notify() noexcept {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  // One worker is enough: the one woken wakes another when it finds more than it can run.
  // Waking them all after every commit made more context switches than deliveries.
  cv_.notify_one();
}

void wakeup::notify_all() noexcept {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  cv_.notify_all();
}

std::uint64_t wakeup::generation() const noexcept {
  std::lock_guard lock(mutex_);
  return generation_;
}

void wakeup::wait(std::uint64_t seen, steady::time_point deadline) const {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] { return generation_ != seen; });
}

// ---- shared state ----------------------------------------------------------------------------

/// What a reload replaces, as one immutable snapshot: a submit routes with the table it loaded,
/// a delivery runs on the handlers of the table loaded when it starts, and both may run while a
/// reload swaps it.
struct dispatch_table {
  route_table routes;
  durable_dispatcher::handler_map handlers;
  std::map<std::string, config::retry_policy> retry;
};

struct durable_dispatcher::state : std::enable_shared_from_this<durable_dispatcher::state> {
  spool::store* spool = nullptr;
  std::atomic<std::shared_ptr<const dispatch_table>> table;
  options opts;
  bool spool_wakes = false;  // the spool's on_commit notifies opts.wake

  // Guards `spool_gone`: claims and settles hold it shared, stop() takes it exclusively once its
  // grace is over, so no worker still running a handler then can reach a destroyed spool.
  std::shared_mutex spool_mu;
  bool spool_gone = false;

  /// Per handler name: deliveries running, and claimed ones waiting in `ready`.
  struct load {
    std::size_t running = 0;
    std::size_t queued = 0;
  };

  mutable std::mutex mu;  // everything below
  std::condition_variable idle_cv;
  bool accepting = true;
  bool stopping = false;
  // One worker claims at a time: the capacities it asks for are computed from `loads`, which
  // only it changes upwards until its claim is in `ready`.
  bool claiming = false;
  // Claimed, not started yet, in the order claimed (arrival order for each handler).
  std::deque<spool::claimed_delivery> ready;
  std::map<std::string, load, std::less<>> loads;
  std::vector<bool> exited;  // per worker
  std::size_t running_workers = 0;
  std::size_t unsettled = 0;  // outcomes handed to the spool, not committed yet
  dispatch_counters counters;

  spool::time_point now() const {
    return opts.clock ? opts.clock() : std::chrono::system_clock::now();
  }

  void worker(unsigned index) noexcept;
  /// Under `mu`: removes and returns the first ready delivery whose handler has a free slot,
  /// counting it as running.
  std::optional<spool::claimed_delivery> take_runnable(const dispatch_table& t);
  /// Under `mu`: the claim that refills the handlers running short, or nullopt when none is.
  std::optional<spool::claim_request> refill_request(const dispatch_table& t);
  /// Under `mu`: ready deliveries that could start now (for waking other workers).
  std::size_t runnable(const dispatch_table& t) const;
  static std::size_t slots(const dispatch_table& t, const std::string& handler) noexcept;
  /// Claims (the caller set `claiming`) and queues what it got. True when it got something;
  /// `due` then stays unset, else it is the next due time if the spool knows one.
  bool claim(const spool::claim_request& req, bool& failing, bool& claim_failed,
             std::optional<spool::time_point>& due) noexcept;
  void run_one(const dispatch_table& t, const spool::claimed_delivery& d,
               std::mt19937_64& rng) noexcept;
  spool::outcome failed(const dispatch_table& t, const spool::claimed_delivery& d,
                        std::string error, std::mt19937_64& rng) const;
  void settle(const spool::claimed_delivery& d, const spool::outcome& o) noexcept;
  void finished(const spool::claimed_delivery& d) noexcept;
  void count(std::uint64_t dispatch_counters::*field) noexcept {
    std::lock_guard lock(mu);
    ++(counters.*field);
  }
};

namespace {

submit_status to_submit_status(spool::append_status s) noexcept {
  switch (s) {
    case spool::append_status::accepted:
      return submit_status::accepted;
    case spool::append_status::duplicate:
      return submit_status::duplicate;
    case spool::append_status::unavailable:
      break;
  }
  return submit_status::unavailable;
}

}  // namespace

spool::outcome durable_dispatcher::state::failed(const dispatch_table& t,
                                                 const spool::claimed_delivery& d,
                                                 std::string error, std::mt19937_64& rng) const {
  const auto it = t.retry.find(d.handler);
  const auto& policy = it != t.retry.end() ? it->second : opts.default_retry;
  // The policy counts attempts since the last replay, so a replayed delivery gets a full schedule.
  if (exhausted(policy, d.round_attempt)) return spool::outcome::dead(std::move(error));
  return spool::outcome::retry(now() + next_delay(policy, d.round_attempt, rng), std::move(error));
}

void durable_dispatcher::state::run_one(const dispatch_table& t, const spool::claimed_delivery& d,
                                        std::mt19937_64& rng) noexcept {
  spool::outcome o;
  const auto started = steady::now();
  const auto& configured = t.handlers;
  try {
    const auto h = configured.find(d.handler);
    if (h == configured.end() || !h->second) {
      // The config changed between runs. Dead, not left pending: visible and replayable.
      o = spool::outcome::dead("handler " + d.handler + " is not configured");
      spdlog::error("dispatch: event {} from {}: handler {} is not configured; delivery is dead",
                    d.event_id, d.endpoint, d.handler);
    } else {
      // The stored text is the event: handlers get it as it is, with the attributes the spool
      // keeps beside it, so nothing is parsed again for each delivery.
      const handlers::event_attributes attrs(d.event_id, d.type, d.endpoint, d.provider, d.subject);
      const auto r = h->second->deliver(handlers::delivery{attrs, d.cloudevent, d.attempt});
      if (r.ok) {
        o = spool::outcome::done();
        spdlog::debug("dispatch: {} delivered event {} ({} from {}), attempt {}", d.handler,
                      d.event_id, d.type, d.endpoint, d.attempt);
      } else {
        o = failed(t, d, r.error, rng);
      }
    }
  } catch (const std::exception& e) {
    // The one catch-all of the dispatcher (STYLE.md 3): log, count, retry by the policy.
    count(&dispatch_counters::exceptions);
    spdlog::error("dispatch: {} on event {}: internal error: {}", d.handler, d.event_id, e.what());
    try {
      o = failed(t, d, std::string("internal error: ") + e.what(), rng);
    } catch (...) {
      o = spool::outcome::retry(now() + std::chrono::seconds(1), "internal error");
    }
  } catch (...) {
    count(&dispatch_counters::exceptions);
    spdlog::error("dispatch: {} on event {}: internal error", d.handler, d.event_id);
    o = spool::outcome::retry(now() + std::chrono::seconds(1), "internal error");
  }

  {
    std::lock_guard lock(mu);
    if (o.state == spool::delivery_state::done) {
      ++counters.delivered;
    } else if (configured.count(d.handler) != 0) {
      ++counters.failed;
    }
    if (o.state == spool::delivery_state::dead) ++counters.dead;
  }
  if (opts.on_attempt) {
    const char* outcome = o.state == spool::delivery_state::done      ? "done"
                          : o.state == spool::delivery_state::pending ? "retry"
                                                                      : "dead";
    try {
      opts.on_attempt(d.handler, outcome,
                      std::chrono::duration<double>(steady::now() - started).count());
    } catch (...) {  // documented as must-not-throw
    }
  }
  try {
    if (o.state == spool::delivery_state::pending) {
      const auto in = std::chrono::duration_cast<duration>(o.retry_at - now());
      spdlog::warn(
          "dispatch: {} failed on event {} ({} from {}), attempt {}: {}; next attempt in {}",
          d.handler, d.event_id, d.type, d.endpoint, d.attempt, o.error,
          format_duration(std::max(in, duration::zero())));
    } else if (o.state == spool::delivery_state::dead && configured.count(d.handler) != 0) {
      spdlog::error(
          "dispatch: {} failed on event {} ({} from {}), attempt {}: {}; no attempt left, "
          "delivery is dead (hookd events replay {} -c CONFIG)",
          d.handler, d.event_id, d.type, d.endpoint, d.attempt, o.error, d.event_seq);
    }
  } catch (...) {  // bad_alloc formatting the line: the outcome is still settled
  }
  settle(d, o);
  finished(d);
}

void durable_dispatcher::state::settle(const spool::claimed_delivery& d,
                                       const spool::outcome& o) noexcept {
  try {
    std::shared_lock lock(spool_mu);
    if (spool_gone) {
      spdlog::warn(
          "dispatch: {} finished event {} after the shutdown grace; its claim stays and "
          "it is delivered again at the next start",
          d.handler, d.event_id);
      return;
    }
    // Recorded with the spool writer's next group commit; the slot is free at once (a crash
    // before that commit delivers it again: at least once). Errors are only reported here.
    std::function<void(spool::settle_status)> done = [self = shared_from_this(), id = d.delivery_id,
                                                      event_id = d.event_id, handler = d.handler](
                                                         spool::settle_status st) {
      if (st == spool::settle_status::not_claimed) {
        spdlog::warn("dispatch: delivery {} of event {} to {} was no longer claimed when settled",
                     id, event_id, handler);
      } else if (st == spool::settle_status::unavailable) {
        self->count(&dispatch_counters::settle_errors);
        spdlog::error(
            "dispatch: cannot record the result of {} on event {} in the spool; it stays "
            "claimed and is delivered again at the next start",
            handler, event_id);
      }
      bool stop_waits = false;
      {
        std::lock_guard state_lock(self->mu);
        --self->unsettled;
        stop_waits = self->stopping;
      }
      if (stop_waits) self->idle_cv.notify_all();
    };
    {
      std::lock_guard state_lock(mu);
      ++unsettled;
    }
    spool->settle_async(d.delivery_id, o, std::move(done));  // calls `done` exactly once
  } catch (...) {  // bad_alloc capturing the completion: the claim stays (at least once)
    count(&dispatch_counters::settle_errors);
  }
}

void durable_dispatcher::state::finished(const spool::claimed_delivery& d) noexcept {
  bool stop_waits = false;
  {
    std::lock_guard lock(mu);
    if (auto it = loads.find(d.handler); it != loads.end() && it->second.running > 0) {
      --it->second.running;
    }
    --counters.in_flight;
    stop_waits = stopping;
  }
  // No wake-up for the other workers: the slot freed here is this worker's next delivery (it
  // looks for one at once), and waking every idle worker after each delivery cost more context
  // switches than deliveries on a busy machine.
  if (stop_waits) idle_cv.notify_all();
}

std::size_t durable_dispatcher::state::slots(const dispatch_table& t,
                                             const std::string& handler) noexcept {
  const auto it = t.handlers.find(handler);
  // A handler no longer configured: its deliveries are only settled dead, any number at once.
  if (it == t.handlers.end() || !it->second) return std::numeric_limits<std::size_t>::max();
  return std::max(1U, it->second->concurrency());
}

std::optional<spool::claimed_delivery> durable_dispatcher::state::take_runnable(
    const dispatch_table& t) {
  for (auto it = ready.begin(); it != ready.end(); ++it) {
    auto& l = loads[it->handler];
    if (l.running >= slots(t, it->handler)) continue;
    // The first of its handler in `ready`: a concurrency-1 handler's deliveries start one after
    // the other, in the order they were claimed.
    ++l.running;
    --l.queued;
    ++counters.in_flight;
    std::optional<spool::claimed_delivery> d(std::move(*it));
    ready.erase(it);
    return d;
  }
  return std::nullopt;
}

std::size_t durable_dispatcher::state::runnable(const dispatch_table& t) const {
  std::map<std::string_view, std::size_t> starting;
  std::size_t n = 0;
  for (const auto& d : ready) {
    const auto l = loads.find(d.handler);
    const std::size_t running = (l != loads.end() ? l->second.running : 0) + starting[d.handler];
    if (running < slots(t, d.handler)) {
      ++starting[d.handler];
      ++n;
    }
  }
  return n;
}

std::optional<spool::claim_request> durable_dispatcher::state::refill_request(
    const dispatch_table& t) {
  spool::claim_request req;
  req.limit = 0;
  for (const auto& [name, h] : t.handlers) {
    const std::size_t n = slots(t, name);
    const auto& l = loads[name];
    std::size_t want = 0;
    // Refill when fewer deliveries wait than the handler has slots, up to claim_batch per slot:
    // one claim transaction for many deliveries, made while the last ones still run.
    if (l.queued < n) {
      const std::size_t target = n * claim_batch;
      const std::size_t have = l.queued + l.running;
      want = target > have ? target - have : 0;
    }
    req.capacity[name] = want;
    req.limit += want;
  }
  // No handler configured at all: deliveries named in the spool are only settled dead.
  if (t.handlers.empty()) req.limit = claim_batch;
  if (req.limit == 0) return std::nullopt;
  return req;
}

bool durable_dispatcher::state::claim(const spool::claim_request& req, bool& failing,
                                      bool& claim_failed,
                                      std::optional<spool::time_point>& due) noexcept {
  const auto claim_time = now();
  bool got = false;
  bool more_runnable = false;
  claim_failed = false;
  try {
    std::shared_lock spool_lock(spool_mu);
    if (spool_gone) {
      std::lock_guard lock(mu);
      claiming = false;
      return false;
    }
    auto r = spool->claim(req);
    if (!r.ok) {
      claim_failed = true;
      count(&dispatch_counters::claim_errors);
      if (!failing) spdlog::error("dispatch: cannot claim deliveries: {}", r.error);
      failing = true;
    } else {
      if (failing) spdlog::info("dispatch: claiming deliveries again");
      failing = false;
    }
    bool stop_now = false;
    std::size_t queued = 0;  // r.deliveries[0, queued) are in `ready`
    {
      std::lock_guard lock(mu);
      claiming = false;
      stop_now = stopping;
      if (!stop_now) {
        try {
          for (; queued < r.deliveries.size(); ++queued) {
            auto& d = r.deliveries[queued];
            auto& l = loads[d.handler];     // may throw: nothing changed yet
            ready.push_back(std::move(d));  // may throw: `d` is left whole
            ++l.queued;
          }
        } catch (...) {  // bad_alloc: the rest is given back below
        }
        got = queued > 0;
        try {
          more_runnable = runnable(*table.load()) > 1;
        } catch (...) {
          more_runnable = true;
        }
      }
    }
    // Claimed but not started (stopping, or no room to queue them): give them back, due again
    // at once (no attempt counted).
    for (std::size_t i = queued; i < r.deliveries.size(); ++i)
      spool->release(r.deliveries[i].delivery_id);
    if (stop_now) return false;
    if (!got && !claim_failed) {
      // Due after our claim looked: wake then. Due before: it belongs to a handler with no
      // capacity left, and the worker running it claims again when it needs more.
      const auto next = spool->next_due_time();
      if (next && *next > claim_time) due = next;
    }
  } catch (...) {  // bad_alloc: nothing was queued; try again after a pause
    std::lock_guard lock(mu);
    claiming = false;
    claim_failed = true;
  }
  // This worker runs one of them; the others are for idle workers.
  if (more_runnable) opts.wake->notify();
  return got;
}

void durable_dispatcher::state::worker(unsigned index) noexcept {
  std::mt19937_64 rng(opts.seed != 0
                          ? opts.seed + index
                          : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}());
  bool failing = false;  // log claim failures on transitions only
  for (;;) {
    const auto seen = opts.wake->generation();
    // The handlers the next delivery runs on, and the claim is made for.
    const std::shared_ptr<const dispatch_table> t = table.load();
    std::optional<spool::claimed_delivery> next;
    std::optional<spool::claim_request> req;
    bool more = false;
    {
      std::lock_guard lock(mu);
      if (stopping) break;
      try {
        next = take_runnable(*t);
        if (next) {
          // `next` is counted as running now: it must run whatever happens here.
          try {
            more = runnable(*t) > 0;
          } catch (...) {  // bad_alloc: wake another worker, which looks for itself
            more = true;
          }
        }
        if (!next && !claiming) {
          req = refill_request(*t);
          claiming = req.has_value();
        }
      } catch (...) {  // bad_alloc: nothing claimed; look again after a pause
        req.reset();
      }
    }
    if (next) {
      // More than this worker can start: pass the wake-up on to an idle one.
      if (more) opts.wake->notify();
      run_one(*t, *next, rng);
      continue;
    }

    // Nothing to start now: refill, or sleep until woken (a commit, a claim with more than one
    // worker's share, stop), the next due time, or max_idle.
    auto deadline = steady::now() + opts.max_idle;
    if (req) {
      bool claim_failed = false;
      std::optional<spool::time_point> due;
      if (claim(*req, failing, claim_failed, due)) continue;
      {
        std::shared_lock spool_lock(spool_mu);
        if (spool_gone) break;
      }
      if (due) {
        const auto in = std::max(*due - now(), spool::time_point::duration::zero());
        deadline =
            std::min(deadline, steady::now() + std::chrono::duration_cast<steady::duration>(in));
      }
    }
    opts.wake->wait(seen, deadline);
  }
  {
    std::lock_guard lock(mu);
    exited[index] = true;
    --running_workers;
  }
  idle_cv.notify_all();
}

// ---- durable_dispatcher ------------------------------------------------------------------------

durable_dispatcher::durable_dispatcher(spool::store& spool, route_table routes,
                                       handler_map handlers, options opts)
    : spool_(spool), state_(std::make_shared<state>()) {
  auto& s = *state_;
  s.spool = &spool;
  s.table = make_table(std::move(routes), std::move(handlers), opts.retry);
  s.opts = std::move(opts);
  s.opts.workers = std::max(1U, s.opts.workers);
  if (s.opts.max_idle <= duration::zero()) s.opts.max_idle = std::chrono::seconds(1);
  // The spool's on_commit hook is expected to notify a wakeup given here (as the runtime and
  // wakeup's example do); with one made here, only the appends' completions can.
  s.spool_wakes = s.opts.wake && spool.config().on_commit;
  if (!s.opts.wake) s.opts.wake = std::make_shared<wakeup>();
  s.exited.assign(s.opts.workers, false);
  s.running_workers = s.opts.workers;
  workers_.reserve(s.opts.workers);
  try {
    for (unsigned i = 0; i < s.opts.workers; ++i) {
      // Each thread holds the state: one still running a handler after stop()'s grace may
      // outlive this object.
      workers_.emplace_back([st = state_, i] {
        set_thread_name("hookd-worker");
        st->worker(i);
      });
    }
  } catch (...) {  // a thread could not start: stop those that did, then fail
    {
      std::lock_guard lock(s.mu);
      s.accepting = false;
      s.stopping = true;
    }
    s.opts.wake->notify_all();
    for (auto& t : workers_)
      t.join();
    throw;
  }
}

std::shared_ptr<const dispatch_table> durable_dispatcher::make_table(
    route_table routes, handler_map handlers, std::map<std::string, config::retry_policy> retry) {
  for (const auto& name : routes.handler_names()) {
    const auto it = handlers.find(name);
    if (it == handlers.end() || !it->second) {
      throw std::invalid_argument("routes: unknown handler " + name);
    }
  }
  for (const auto& [name, h] : handlers) {
    if (!h) throw std::invalid_argument("handlers." + name + ": no handler");
  }
  return std::make_shared<const dispatch_table>(
      dispatch_table{std::move(routes), std::move(handlers), std::move(retry)});
}

void durable_dispatcher::reconfigure(route_table routes, handler_map handlers,
                                     std::map<std::string, config::retry_policy> retry) {
  auto t = make_table(std::move(routes), std::move(handlers), std::move(retry));
  state_->table.store(std::move(t));
  // Deliveries of a handler added by the reload may be due already.
  state_->opts.wake->notify_all();
}

durable_dispatcher::options durable_dispatcher::options_from(const config::config& cfg,
                                                             std::shared_ptr<wakeup> wake,
                                                             spool::clock_fn clock) {
  options o;
  o.workers = cfg.dispatch.workers;
  for (const auto& h : cfg.handlers)
    o.retry.emplace(h.name, h.retry);
  o.wake = std::move(wake);
  o.clock = std::move(clock);
  return o;
}

durable_dispatcher::~durable_dispatcher() {
  stop(duration::zero());
}

void durable_dispatcher::submit(event ev, std::function<void(submit_status)> done) {
  auto& s = *state_;
  const auto answer = [](const std::function<void(submit_status)>& fn, submit_status st) {
    try {
      if (fn) fn(st);
    } catch (...) {  // a completion must not throw
    }
  };
  bool accepting = false;
  {
    std::lock_guard lock(s.mu);
    accepting = s.accepting;
    if (accepting) ++s.counters.submitted;
  }
  if (!accepting) {
    answer(done, submit_status::unavailable);
    return;
  }
  // `done` moves into `holder` only once the allocation for it succeeded: whatever throws
  // (bad_alloc) before the append, one of the two still answers the request.
  std::shared_ptr<std::function<void(submit_status)>> holder;
  try {
    holder = std::make_shared<std::function<void(submit_status)>>(std::move(done));
    // No route: still stored (dedup, audit), with no delivery.
    auto record = spool::make_record(ev, s.table.load()->routes.match(ev));
    std::function<void(spool::append_status)> completion =
        [holder, wake = s.opts.wake, spool_wakes = s.spool_wakes, answer](spool::append_status st) {
          // The spool's on_commit hook normally wakes the workers (once per commit); this
          // covers a spool built without it, or wired to another wakeup.
          if (st == spool::append_status::accepted && !spool_wakes) wake->notify();
          answer(*holder, to_submit_status(st));
        };
    // noexcept: calls `completion` exactly once.
    spool_.append(std::move(record), std::move(completion));
  } catch (const std::exception& e) {  // bad_alloc: not stored
    spdlog::error("dispatch: event {} not stored: {}", ev.id, e.what());
    answer(holder ? *holder : done, submit_status::unavailable);
  }
}

void durable_dispatcher::wake() noexcept {
  state_->opts.wake->notify();
}

void durable_dispatcher::stop(duration grace) {
  std::lock_guard stop_lock(stop_mu_);
  auto& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.stopping && workers_.empty()) return;
    s.accepting = false;
    s.stopping = true;
  }
  s.opts.wake->notify_all();
  std::size_t abandoned = 0;
  {
    std::unique_lock lock(s.mu);
    // Finished means settled: the outcomes handed to the spool are committed too.
    s.idle_cv.wait_until(lock, steady::now() + grace,
                         [&] { return s.running_workers == 0 && s.unsettled == 0; });
    abandoned = s.counters.in_flight;
  }
  {
    // Waits for a claim or settle in progress; afterwards no worker reaches the spool.
    std::unique_lock spool_lock(s.spool_mu);
    // Claimed but not started: give them back, due again at the next start (no attempt
    // counted). No worker adds to `ready` once `stopping` is set.
    std::deque<spool::claimed_delivery> unstarted;
    {
      std::lock_guard lock(s.mu);
      unstarted.swap(s.ready);
      s.loads.clear();
    }
    for (const auto& d : unstarted)
      s.spool->release(d.delivery_id);
    s.spool_gone = true;
  }
  std::vector<bool> exited;
  {
    std::lock_guard lock(s.mu);
    exited = s.exited;
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!workers_[i].joinable()) continue;
    if (exited[i]) {
      workers_[i].join();
    } else {
      workers_[i].detach();  // still in a handler: it finishes on its own, spool untouched
    }
  }
  workers_.clear();
  if (abandoned > 0) {
    spdlog::warn(
        "dispatch: {} delivery(ies) still running after the grace of {}; they keep "
        "their claim and run again at the next start",
        abandoned, format_duration(grace));
  }
}

void durable_dispatcher::reopen() noexcept {
  // Held for the loop: a reload (reconfigure) may swap the table meanwhile.
  const std::shared_ptr<const dispatch_table> t = state_->table.load();
  for (const auto& [name, h] : t->handlers)
    h->reopen();
}

bool durable_dispatcher::accepting() const noexcept {
  std::lock_guard lock(state_->mu);
  return state_->accepting;
}

dispatch_counters durable_dispatcher::counters() const {
  std::lock_guard lock(state_->mu);
  return state_->counters;
}

}  // namespace hookd::dispatch
