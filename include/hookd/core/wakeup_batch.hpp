#pragma once

#include <memory>
#include <vector>

namespace hookd {

/// Something that wakes another thread to take what was handed to it (a completion_mailbox
/// posting its drain to an io thread).
class wakeable {
 public:
  /// Must not throw: it runs at the end of a wakeup_batch, where nobody could catch it.
  virtual void wake() noexcept = 0;

 protected:
  wakeable() = default;
  ~wakeable() = default;
  wakeable(const wakeable&) = default;
  wakeable& operator=(const wakeable&) = default;
};

/// Wake-ups deferred to the end of a scope, on the thread that opened it. A thread that hands
/// many results to other threads in a row (the spool writer answering every request of a group
/// commit) opens one around the hand-over; a receiver that would be woken (wakeable) is
/// registered here instead and woken once, when the scope ends. Without it, a receiver that
/// keeps up takes each result as it arrives: one wake-up (a futex or an epoll_ctl, and a
/// context switch) per result instead of one per batch.
///
/// A batch opened while another is open on the same thread defers to the outer one. Not
/// movable: the thread's current batch is a pointer to it.
class wakeup_batch {
 public:
  wakeup_batch() noexcept;
  /// Wakes every receiver deferred to it, in the order they were first deferred.
  ~wakeup_batch();
  wakeup_batch(const wakeup_batch&) = delete;
  wakeup_batch& operator=(const wakeup_batch&) = delete;

  /// Defers waking `w` to the end of the calling thread's open batch: true. False when no batch
  /// is open on this thread, or when it cannot be recorded (bad_alloc): then the caller wakes
  /// it now.
  static bool defer(std::shared_ptr<wakeable> w) noexcept;

 private:
  bool outermost_;
  std::vector<std::shared_ptr<wakeable>> deferred_;
};

}  // namespace hookd
