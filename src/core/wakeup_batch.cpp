#include <utility>

#include <hookd/core/wakeup_batch.hpp>

namespace hookd {

namespace {
thread_local wakeup_batch* current = nullptr;
}  // namespace

wakeup_batch::wakeup_batch() noexcept : outermost_(current == nullptr) {
  if (outermost_) current = this;
}

wakeup_batch::~wakeup_batch() {
  if (!outermost_) return;
  current = nullptr;  // a wake() that hands over again does it at once
  for (auto& w : deferred_)
    w->wake();
}

bool wakeup_batch::defer(std::shared_ptr<wakeable> w) noexcept {
  if (current == nullptr) return false;
  try {
    current->deferred_.push_back(std::move(w));
  } catch (...) {  // bad_alloc: the caller wakes now
    return false;
  }
  return true;
}

}  // namespace hookd
