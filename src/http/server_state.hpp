#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <hookd/config/config.hpp>
#include <hookd/dispatch/sink.hpp>
#include <hookd/http/server.hpp>

namespace hookd::http::detail {

class listener;
class session;

/// What the server's listeners and sessions share: the limits, the endpoint snapshot, the sink,
/// and the connection accounting (max_connections, the live sessions for shutdown).
/// Thread-safety: every member function may be called from any thread.
class server_state {
 public:
  /// The public listeners' state: requests go to decide() and `sink`.
  server_state(const config::server_config& cfg, std::shared_ptr<endpoint_snapshot> endpoints,
               dispatch::event_sink& sink,
               std::function<void(const request_record&)> on_request = {})
      : config_(cfg),
        endpoints_(std::move(endpoints)),
        sink_(sink),
        on_request_(std::move(on_request)) {}
  /// The admin listeners' state: every request goes to `admin`.
  server_state(const config::server_config& cfg, dispatch::event_sink& sink, admin_handler admin)
      : config_(cfg), sink_(sink), admin_(std::move(admin)) {}

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
