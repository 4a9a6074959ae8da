#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include <hookd/dispatch/durable_dispatcher.hpp>
#include <hookd/dispatch/retry.hpp>

namespace hookd::dispatch {

using steady = std::chrono::steady_clock;

// ---- wakeup ----------------------------------------------------------------------------------

void wakeup::notify() noexcept {
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
/// a claim runs handlers of the table it loaded, and both may run while a reload swaps it.
struct dispatch_table {
  route_table routes;
  durable_dispatcher::handler_map handlers;
  std::map<std::string, config::retry_policy> retry;
};

struct durable_dispatcher::state {
  spool::store* spool = nullptr;
  std::atomic<std::shared_ptr<const dispatch_table>> table;
  options opts;

  // Guards `spool_gone`: claims and settles hold it shared, stop() takes it exclusively once its
  // grace is over, so no worker still running a handler then can reach a destroyed spool.
  std::shared_mutex spool_mu;
  bool spool_gone = false;

  // Serializes "compute free slots, claim, count in flight" across workers: two workers must not
  // both see a concurrency-1 handler's one free slot.
  std::mutex claim_mu;

  mutable std::mutex mu;  // everything below
  std::condition_variable idle_cv;
  bool accepting = true;
  bool stopping = false;
  std::map<std::string, std::size_t, std::less<>> in_flight;  // per handler
  std::vector<bool> exited;                                   // per worker
  std::size_t running_workers = 0;
  dispatch_counters counters;

  spool::time_point now() const {
    return opts.clock ? opts.clock() : std::chrono::system_clock::now();
  }

  void worker(unsigned index) noexcept;
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
      std::optional<event> ev;
      try {
        ev = from_cloudevent(json::parse(d.cloudevent));
      } catch (const std::exception& e) {
        // The stored text cannot change: retrying cannot help.
        o = spool::outcome::dead(std::string("stored event cannot be read: ") + e.what());
        spdlog::error("dispatch: event {} from {}: stored event cannot be read: {}", d.event_id,
                      d.endpoint, e.what());
      }
      if (ev) {
        const auto r = h->second->deliver(handlers::delivery{*ev, d.cloudevent, d.attempt});
        if (r.ok) {
          o = spool::outcome::done();
          spdlog::debug("dispatch: {} delivered event {} ({} from {}), attempt {}", d.handler,
                        d.event_id, d.type, d.endpoint, d.attempt);
        } else {
          o = failed(t, d, r.error, rng);
        }
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
  if (o.state == spool::delivery_state::pending) {
    const auto in = std::chrono::duration_cast<duration>(o.retry_at - now());
    spdlog::warn("dispatch: {} failed on event {} ({} from {}), attempt {}: {}; next attempt in {}",
                 d.handler, d.event_id, d.type, d.endpoint, d.attempt, o.error,
                 format_duration(std::max(in, duration::zero())));
  } else if (o.state == spool::delivery_state::dead && configured.count(d.handler) != 0) {
    spdlog::error(
        "dispatch: {} failed on event {} ({} from {}), attempt {}: {}; no attempt left, "
        "delivery is dead (hookd events replay {} -c CONFIG)",
        d.handler, d.event_id, d.type, d.endpoint, d.attempt, o.error, d.event_seq);
  }
  settle(d, o);
  finished(d);
}

void durable_dispatcher::state::settle(const spool::claimed_delivery& d,
                                       const spool::outcome& o) noexcept {
  // A settle that cannot commit (the file locked beyond the busy timeout, disk trouble) is tried
  // a few times; after that the claim stays and the next start delivers again (at least once).
  for (int i = 0; i < 5; ++i) {
    {
      std::shared_lock lock(spool_mu);
      if (spool_gone) {
        spdlog::warn(
            "dispatch: {} finished event {} after the shutdown grace; its claim stays and "
            "it is delivered again at the next start",
            d.handler, d.event_id);
        return;
      }
      const auto st = spool->settle(d.delivery_id, o);
      if (st == spool::settle_status::settled) return;
      if (st == spool::settle_status::not_claimed) {
        spdlog::warn("dispatch: delivery {} of event {} to {} was no longer claimed when settled",
                     d.delivery_id, d.event_id, d.handler);
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * (i + 1)));
  }
  count(&dispatch_counters::settle_errors);
  spdlog::error(
      "dispatch: cannot record the result of {} on event {} in the spool; it stays "
      "claimed and is delivered again at the next start",
      d.handler, d.event_id);
}

void durable_dispatcher::state::finished(const spool::claimed_delivery& d) noexcept {
  {
    std::lock_guard lock(mu);
    if (auto it = in_flight.find(d.handler); it != in_flight.end() && it->second > 0) --it->second;
    --counters.in_flight;
  }
  idle_cv.notify_all();
  // A slot is free again, and the settle may have made something due: let idle workers look.
  opts.wake->notify();
}

void durable_dispatcher::state::worker(unsigned index) noexcept {
  std::mt19937_64 rng(opts.seed != 0
                          ? opts.seed + index
                          : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}());
  bool failing = false;  // log claim failures on transitions only
  for (;;) {
    const auto seen = opts.wake->generation();
    {
      std::lock_guard lock(mu);
      if (stopping) break;
    }
    const auto claim_time = now();
    // The handlers this claim is made for, and that the claimed delivery runs on.
    const std::shared_ptr<const dispatch_table> t = table.load();
    const auto& configured = t->handlers;
    std::optional<spool::claimed_delivery> claimed;
    bool claim_failed = false;
    try {
      std::lock_guard claim_lock(claim_mu);
      spool::claim_request req;
      req.limit = 1;
      bool any_free = configured.empty();
      {
        std::lock_guard lock(mu);
        for (const auto& [name, h] : configured) {
          const std::size_t slots = std::max(1U, h->concurrency());
          const auto it = in_flight.find(name);
          const std::size_t busy = it == in_flight.end() ? 0 : it->second;
          req.capacity[name] = slots > busy ? slots - busy : 0;
          any_free = any_free || slots > busy;
        }
      }
      spool::claim_result r;
      {
        std::shared_lock spool_lock(spool_mu);
        if (spool_gone) break;
        // Every handler busy: a claim could only take the write lock the writer thread needs
        // for nothing (deliveries to unconfigured handlers wait for a free slot).
        if (any_free) r = spool->claim(req);
      }
      if (!r.ok) {
        claim_failed = true;
        count(&dispatch_counters::claim_errors);
        if (!failing) spdlog::error("dispatch: cannot claim deliveries: {}", r.error);
        failing = true;
      } else {
        if (failing) spdlog::info("dispatch: claiming deliveries again");
        failing = false;
        if (!r.deliveries.empty()) {
          claimed = std::move(r.deliveries.front());
          std::lock_guard lock(mu);
          ++in_flight[claimed->handler];
          ++counters.in_flight;
        }
      }
    } catch (...) {  // bad_alloc building the request: try again after a pause
      claim_failed = true;
    }

    if (claimed) {
      bool stop_now = false;
      {
        std::lock_guard lock(mu);
        stop_now = stopping;
      }
      if (stop_now) {
        // Claimed but not started: give it back, due again at once (no attempt counted).
        std::shared_lock spool_lock(spool_mu);
        if (!spool_gone) spool->release(claimed->delivery_id);
        spool_lock.unlock();
        finished(*claimed);
        break;
      }
      run_one(*t, *claimed, rng);
      continue;
    }

    // Nothing to do now: sleep until woken, the next due time, or max_idle.
    auto deadline = steady::now() + opts.max_idle;
    if (!claim_failed) {
      std::optional<spool::time_point> due;
      {
        std::shared_lock spool_lock(spool_mu);
        if (spool_gone) break;
        due = spool->next_due_time();
      }
      // Due after our claim looked: wake then. Due before: it belongs to a handler with no free
      // slot, and the settle that frees one notifies us.
      if (due && *due > claim_time) {
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
  if (!s.opts.wake) s.opts.wake = std::make_shared<wakeup>();
  s.exited.assign(s.opts.workers, false);
  s.running_workers = s.opts.workers;
  workers_.reserve(s.opts.workers);
  for (unsigned i = 0; i < s.opts.workers; ++i) {
    // Each thread holds the state: one still running a handler after stop()'s grace may outlive
    // this object.
    workers_.emplace_back([st = state_, i] { st->worker(i); });
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
  state_->opts.wake->notify();
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
  try {
    {
      std::lock_guard lock(s.mu);
      if (!s.accepting) {
        if (done) done(submit_status::unavailable);
        return;
      }
      ++s.counters.submitted;
    }
    // No route: still stored (dedup, audit), with no delivery.
    auto record = spool::make_record(ev, s.table.load()->routes.match(ev));
    auto wake = s.opts.wake;
    spool_.append(std::move(record), [done = std::move(done), wake](spool::append_status st) {
      // The spool's on_commit hook normally wakes the workers; this covers a spool built
      // without it.
      if (st == spool::append_status::accepted) wake->notify();
      if (done) done(to_submit_status(st));
    });
  } catch (const std::exception& e) {  // bad_alloc: not stored
    spdlog::error("dispatch: event {} not stored: {}", ev.id, e.what());
    if (done) done(submit_status::unavailable);
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
  s.opts.wake->notify();
  std::size_t abandoned = 0;
  {
    std::unique_lock lock(s.mu);
    s.idle_cv.wait_until(lock, steady::now() + grace, [&] { return s.running_workers == 0; });
    abandoned = s.counters.in_flight;
  }
  {
    // Waits for a claim or settle in progress; afterwards no worker reaches the spool.
    std::unique_lock spool_lock(s.spool_mu);
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
  for (const auto& [name, h] : state_->table.load()->handlers)
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
