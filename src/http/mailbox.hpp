#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <hookd/core/wakeup_batch.hpp>

namespace hookd::http::detail {

/// Hands work from other threads to the io threads, everything handed over before an io thread
/// gets to it in one handler. The spool writer answers the requests of a group commit one
/// after the other, from its own thread: each answer posted on its own woke an io thread (an
/// epoll_ctl on Asio's interrupter or a futex, and a context switch, per request). Through the
/// mailbox a commit of any size costs one wake-up: the writer answers inside a wakeup_batch, so
/// the drain is posted once it has handed over the whole commit (an io thread that keeps up
/// would otherwise take the answers one by one, as they come).
/// Thread-safety: post() may be called from any thread, the io threads included.
class completion_mailbox final : public std::enable_shared_from_this<completion_mailbox>,
                                 public wakeable {
 public:
  explicit completion_mailbox(boost::asio::io_context::executor_type executor)
      : executor_(executor) {}

  /// Runs `fn` on one of the io_context's threads, never inline; what one thread hands over
  /// runs in that order. `fn` must not throw. Throws only if `fn` cannot be queued (bad_alloc),
  /// and then `fn` will not run. Posting the drain does not allocate (handler_memory), so this
  /// does not happen once `fn` is queued. Inside a wakeup_batch the drain is posted at the
  /// batch's end.
  void post(std::function<void()> fn);

  /// Posts the drain deferred by post() inside a wakeup_batch.
  void wake() noexcept override;

  /// Drops what was handed over and has not run (the io_context is stopped for good): what
  /// those functions hold (sessions) is released now, while their io_context still exists.
  void discard() noexcept;

 private:
  /// Memory for the one drain handler that can be posted at a time (scheduled_), so that
  /// posting it cannot fail after `fn` was queued. Asio frees a handler's memory before it
  /// runs it, and scheduled_ is only cleared by the running drain.
  class handler_memory {
   public:
    void* allocate(std::size_t size);
    void deallocate(void* p) noexcept;

   private:
    alignas(std::max_align_t) unsigned char storage_[256];
    bool in_use_ = false;
  };
  template <class T>
  struct handler_allocator;
  struct drain_handler;

  void post_drain();
  void drain() noexcept;

  boost::asio::io_context::executor_type executor_;
  handler_memory memory_;
  std::mutex mutex_;
  std::vector<std::function<void()>> pending_;  ///< under mutex_
  bool scheduled_ = false;  ///< a drain is posted and has not taken pending_ yet; under mutex_
};

}  // namespace hookd::http::detail
