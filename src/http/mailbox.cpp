#include "mailbox.hpp"

#include <utility>

#include <boost/asio/post.hpp>

namespace hookd::http::detail {

void* completion_mailbox::handler_memory::allocate(std::size_t size) {
  if (!in_use_ && size <= sizeof(storage_)) {
    in_use_ = true;
    return storage_;
  }
  return ::operator new(size);  // not expected: a handler larger than the storage
}

void completion_mailbox::handler_memory::deallocate(void* p) noexcept {
  if (p == storage_) {
    in_use_ = false;
  } else {
    ::operator delete(p);
  }
}

template <class T>
struct completion_mailbox::handler_allocator {
  using value_type = T;
  handler_memory* memory;

  explicit handler_allocator(handler_memory* m) noexcept : memory(m) {}
  template <class U>
  handler_allocator(const handler_allocator<U>& other) noexcept : memory(other.memory) {}
  T* allocate(std::size_t n) { return static_cast<T*>(memory->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t) noexcept { memory->deallocate(p); }
  template <class U>
  bool operator==(const handler_allocator<U>& other) const noexcept {
    return memory == other.memory;
  }
};

struct completion_mailbox::drain_handler {
  std::shared_ptr<completion_mailbox> self;

  using allocator_type = handler_allocator<drain_handler>;
  allocator_type get_allocator() const noexcept { return allocator_type(&self->memory_); }
  void operator()() const { self->drain(); }
};

void completion_mailbox::post(std::function<void()> fn) {
  std::size_t mine = 0;
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(fn));  // may throw: then nothing changed
    if (scheduled_) return;             // the drain already posted takes this one too
    scheduled_ = true;
    mine = pending_.size() - 1;
  }
  if (wakeup_batch::defer(shared_from_this())) return;  // posted when the batch ends
  try {
    post_drain();
  } catch (...) {
    // Only if the handler did not fit in memory_ and allocating failed. `fn` is taken back
    // (the caller learns it will not run); what others queued meanwhile stays, and the next
    // post() schedules a drain for it. Nothing but a drain removes entries, and none is
    // scheduled: `fn` is still at `mine`.
    std::lock_guard lock(mutex_);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(mine));
    scheduled_ = false;
    throw;
  }
}

void completion_mailbox::wake() noexcept {
  try {
    post_drain();
  } catch (...) {
    // As in post(), only if the handler did not fit in memory_; here the callers have returned
    // and cannot be told. What is queued waits for the next post(), which schedules the drain.
    std::lock_guard lock(mutex_);
    scheduled_ = false;
  }
}

void completion_mailbox::post_drain() {
  boost::asio::post(executor_, drain_handler{shared_from_this()});
}

void completion_mailbox::discard() noexcept {
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(pending_);
  }
}  // destroyed here, outside the lock

void completion_mailbox::drain() noexcept {
  std::vector<std::function<void()>> run;
  {
    std::lock_guard lock(mutex_);
    run.swap(pending_);
    scheduled_ = false;
  }
  for (auto& fn : run) {
    try {
      fn();
    } catch (...) {  // documented as must-not-throw: the others still run
    }
  }
  run.clear();
  std::lock_guard lock(mutex_);
  if (pending_.empty()) pending_.swap(run);  // keeps the capacity for the next batch
}

}  // namespace hookd::http::detail
