#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <hookd/config/config.hpp>
#include <hookd/dispatch/sink.hpp>
#include <hookd/http/server.hpp>

#include "mailbox.hpp"

namespace hookd::http::detail {

class listener;
class session;

/// The io_contexts that run the sessions, each run by one thread of its own: a session needs
/// no strand, and the io threads share no scheduler or reactor lock (with one io_context run by
/// every thread they contended for both: a futex call and a context switch per request under
/// load). Each has the mailbox that brings the sink's completions back to it. New connections
/// go to them in turn.
/// Thread-safety: next() from any thread; discard_completions() once the contexts are stopped.
class io_shards {
 public:
  struct shard {
    boost::asio::io_context* io;
    std::shared_ptr<completion_mailbox> mailbox;
  };

  /// `contexts` outlive this object's use (the server owns both).
  explicit io_shards(const std::vector<boost::asio::io_context*>& contexts);
  /// The shard for the next connection.
  const shard& next() noexcept;
  /// After the contexts stopped for good: see completion_mailbox::discard().
  void discard_completions() noexcept;

 private:
  std::vector<shard> shards_;
  std::atomic<std::size_t> next_{0};
};

/// What the server's listeners and sessions share: the limits, the endpoint snapshot, the sink,
/// and the connection accounting (max_connections, the live sessions for shutdown).
/// Thread-safety: every member function may be called from any thread.
class server_state {
 public:
  /// The public listeners' state: requests go to decide() and `sink`; sessions run on `shards`.
  server_state(const config::server_config& cfg, std::shared_ptr<endpoint_snapshot> endpoints,
               dispatch::event_sink& sink, std::shared_ptr<io_shards> shards,
               std::function<void(const request_record&)> on_request = {})
      : config_(cfg),
        endpoints_(std::move(endpoints)),
        sink_(sink),
        on_request_(std::move(on_request)),
        shards_(std::move(shards)) {}
  /// The admin listeners' state: every request goes to `admin`.
  server_state(const config::server_config& cfg, dispatch::event_sink& sink, admin_handler admin,
               std::shared_ptr<io_shards> shards)
      : config_(cfg), sink_(sink), admin_(std::move(admin)), shards_(std::move(shards)) {}

  const config::server_config& config() const noexcept { return config_; }
  std::shared_ptr<const providers::endpoint_table> endpoints() const noexcept {
    return endpoints_ ? endpoints_->get() : nullptr;
  }
  /// Set on the admin listeners' state only.
  const admin_handler& admin() const noexcept { return admin_; }
  /// After every answer (may be empty).
  const std::function<void(const request_record&)>& on_request() const noexcept {
    return on_request_;
  }
  dispatch::event_sink& sink() const noexcept { return sink_; }
  /// Where the next connection's session runs.
  const io_shards::shard& next_shard() const noexcept { return shards_->next(); }
  bool stopping() const noexcept { return stopping_.load(); }
  /// Marks the server as stopping at once, from any thread, so that an answer written before the
  /// posted begin_shutdown() runs already says `Connection: close`.
  void mark_stopping() noexcept { stopping_ = true; }

  /// Counts a newly accepted connection. False when the server is now at max_connections: the
  /// listener must stop accepting; it is remembered and resume()d when a connection ends.
  bool admit(const std::shared_ptr<listener>& from);

  /// Remembers a running session so shutdown can reach it; returns its key for release().
  std::uint64_t track(std::weak_ptr<session> s);

  /// A connection ended (the session's destructor): uncounts it, resumes paused listeners, and
  /// calls the drained callback when shutting down and this was the last one.
  void release(std::uint64_t key) noexcept;

  /// Marks the server as stopping and returns the live sessions to notify. `on_drained` runs (at
  /// once, or from the last release()) when no connection is left.
  std::vector<std::shared_ptr<session>> begin_shutdown(std::function<void()> on_drained);

  /// The server is going away (its io_context is being destroyed with the sessions in it): drop
  /// the drained callback and never resume a listener again.
  void detach() noexcept;

  std::size_t active() const;

 private:
  const config::server_config config_;
  const std::shared_ptr<endpoint_snapshot> endpoints_;
  dispatch::event_sink& sink_;
  const admin_handler admin_;
  const std::function<void(const request_record&)> on_request_;
  const std::shared_ptr<io_shards> shards_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;
  std::size_t active_ = 0;
  std::uint64_t next_key_ = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<session>> sessions_;
  std::vector<std::weak_ptr<listener>> paused_;
  std::function<void()> on_drained_;
  bool detached_ = false;
};

}  // namespace hookd::http::detail
