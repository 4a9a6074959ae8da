#include <stdexcept>

#include <spdlog/spdlog.h>

#include <hookd/dispatch/memory_dispatcher.hpp>

namespace hookd::dispatch {

namespace {

memory_dispatcher::handler_map build_handlers(const config::config& cfg) {
  memory_dispatcher::handler_map map;
  for (const auto& spec : cfg.handlers)
    map.emplace(spec.name, handlers::make_handler(spec));
  return map;
}

}  // namespace

memory_dispatcher::memory_dispatcher(route_table routes, handler_map handlers, std::size_t capacity)
    : routes_(std::move(routes)), handlers_(std::move(handlers)), capacity_(capacity) {
  if (capacity_ == 0) throw std::invalid_argument("dispatch.queue: must be at least 1");
  for (const auto& name : routes_.handler_names()) {
    const auto it = handlers_.find(name);
    if (it == handlers_.end() || !it->second) {
      throw std::invalid_argument("routes: unknown handler " + name);
    }
  }
  worker_ = std::thread([this] { run(); });
}

memory_dispatcher::memory_dispatcher(const config::config& cfg)
    : memory_dispatcher(route_table(cfg.routes), build_handlers(cfg), cfg.dispatch.queue) {}

memory_dispatcher::~memory_dispatcher() {
  stop(duration::zero());
}

void memory_dispatcher::submit(event ev, std::function<void(submit_status)> done) {
  bool queued = false;
  {
    std::lock_guard lock(mutex_);
    if (accepting_ && queue_.size() < capacity_) {
      queue_.push_back(std::move(ev));
      queued = true;
    }
  }
  if (queued) wake_.notify_one();
  // The completion runs outside the lock: it may post work, log, or even submit again.
  if (done) done(queued ? submit_status::accepted : submit_status::unavailable);
}

void memory_dispatcher::stop(duration grace) {
  std::lock_guard stop_lock(stop_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    accepting_ = false;
    stopping_ = true;
    drain_deadline_ = std::chrono::steady_clock::now() + grace;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void memory_dispatcher::reopen() noexcept {
  for (const auto& [name, h] : handlers_)
    h->reopen();
}

bool memory_dispatcher::accepting() const {
  std::lock_guard lock(mutex_);
  return accepting_;
}

std::size_t memory_dispatcher::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t memory_dispatcher::processed() const {
  std::lock_guard lock(mutex_);
  return processed_;
}

void memory_dispatcher::run() noexcept {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and nothing left
    if (stopping_ && std::chrono::steady_clock::now() >= drain_deadline_) {
      spdlog::warn("dispatch: stopped with {} queued event(s) not delivered", queue_.size());
      queue_.clear();
      break;
    }
    event ev = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    deliver(ev);
    lock.lock();
    ++processed_;
  }
}

void memory_dispatcher::deliver(const event& ev) noexcept {
  try {
    const auto names = routes_.match(ev);
    if (names.empty()) {
      spdlog::debug("dispatch: event {} ({}) matches no route", ev.id, ev.type);
      return;
    }
    // Serialized once for every handler. Invalid UTF-8 is replaced rather than thrown on.
    const std::string text = to_cloudevent(ev).dump(-1, ' ', false, json::error_handler_t::replace);
    const handlers::delivery d{ev, text, 1};
    for (const auto& name : names) {
      const auto& h = handlers_.at(name);  // checked at construction
      const auto r = h->deliver(d);
      if (!r.ok) {
        spdlog::error("dispatch: handler {} failed on event {} ({} from {}): {}", name, ev.id,
                      ev.type, ev.endpoint, r.error);
      }
    }
  } catch (const std::exception& e) {
    // The one catch-all of the data path at the dispatcher: log and move on to the next event.
    spdlog::error("dispatch: event {} not delivered: {}", ev.id, e.what());
  }
}

}  // namespace hookd::dispatch
