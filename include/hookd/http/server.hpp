#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <hookd/config/config.hpp>
#include <hookd/dispatch/sink.hpp>
#include <hookd/providers/endpoint.hpp>

namespace hookd::http {

/// The endpoint table requests are served with, swapped whole (a reload builds a new table and
/// set()s it; requests in flight keep the snapshot they started with).
/// Thread-safety: get() and set() may be called from any thread at once.
class endpoint_snapshot {
 public:
  explicit endpoint_snapshot(std::shared_ptr<const providers::endpoint_table> table)
      : table_(std::move(table)) {}
  std::shared_ptr<const providers::endpoint_table> get() const noexcept { return table_.load(); }
  void set(std::shared_ptr<const providers::endpoint_table> table) noexcept {
    table_.store(std::move(table));
  }

 private:
  std::atomic<std::shared_ptr<const providers::endpoint_table>> table_;
};

/// One bound listen address, with the port the kernel chose when the config said port 0.
struct bound_address {
  std::string host;  ///< as bound: "127.0.0.1", "::1"
  std::uint16_t port = 0;
  std::string to_string() const;  ///< "127.0.0.1:43219", "[::1]:8080"
};

/// The HTTP/1.1 server: listeners on every `server.listen` address, `server.threads` io threads,
/// the limits and timeouts of `server_config`, routes as in router.hpp, events handed to `sink`.
///
/// Lifetime: `sink` must outlive the server, and must have run every completion it was given
/// before the server is destroyed (closing the spool completes every append it holds), since
/// completions post back to the server's io_context.
/// Thread-safety: shutdown() may be called from any thread (and from a signal's handler posted
/// by Asio); the rest from the owning thread.
class server {
 public:
  /// Binds and listens on every address (so the ports are known before run()). Throws
  /// std::runtime_error naming the address when one cannot be resolved or bound.
  server(const config::server_config& cfg, std::shared_ptr<endpoint_snapshot> endpoints,
         dispatch::event_sink& sink);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  const std::vector<bound_address>& addresses() const noexcept;

  /// Serves on the io threads (the calling thread is one of them) until a graceful shutdown has
  /// finished or its grace ran out. SIGINT and SIGTERM start the shutdown; a second signal stops
  /// at once. Returns normally in both cases.
  void run();

  /// Called on SIGUSR1 (logrotate: reopen output files), on an io thread: it must be quick and
  /// must not throw. Set before run(); without one, SIGUSR1 keeps its default action.
  void on_reopen(std::function<void()> reopen);

  /// Graceful shutdown: stop accepting, close idle keep-alive connections, let requests in flight
  /// finish (their answers carry `Connection: close`), for up to `shutdown_grace`. Idempotent.
  void shutdown();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace hookd::http
