#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hookd/config/config.hpp>
#include <hookd/dispatch/sink.hpp>
#include <hookd/http/answer.hpp>
#include <hookd/http/router.hpp>
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

/// What one answered request looked like, for metrics (never a credential, a header or a body).
struct request_record {
  std::string_view route;     ///< "hooks", "healthz", "other" (router.hpp)
  std::string_view endpoint;  ///< the configured endpoint reached; empty when none
  unsigned status = 0;
  std::string_view reason;  ///< the answer's short stable label ("accepted", "bad_signature")
  double seconds = 0;       ///< from the request's first byte to the answer being queued
};

/// Answers one request on the admin listener. Runs on an io thread: must be quick, must not block
/// and must not throw.
using admin_handler = std::function<answer(const inbound_request&)>;

/// What the server is given besides its config section.
struct server_options {
  /// Listening sockets inherited through socket activation (sd_listen_fds): served instead of
  /// binding `server.listen`. The server owns them from construction on.
  std::vector<int> inherited_fds;
  /// The admin listener's addresses (admin.listen); empty: none.
  std::vector<std::string> admin_listen;
  /// Answers requests on the admin listeners; required when admin_listen is not empty.
  admin_handler admin;
  /// Called on an io thread after every answer on the public listeners. Must not block or throw.
  std::function<void(const request_record&)> on_request;
  /// Called once on an io thread when every listener accepts (readiness).
  std::function<void()> on_ready;
  /// Called on an io thread when a graceful shutdown begins (SIGINT, SIGTERM or shutdown()).
  std::function<void()> on_stopping;
  /// SIGHUP. Called on an io thread: must be quick (hand the work to another thread). Without
  /// one, SIGHUP keeps its default action.
  std::function<void()> on_reload;
  /// SIGUSR1 (logrotate: reopen output files), on an io thread: must be quick and must not throw.
  /// Without one, SIGUSR1 keeps its default action.
  std::function<void()> on_reopen;
};

/// The HTTP/1.1 server: listeners on every `server.listen` address (or the inherited sockets),
/// `server.threads` io threads, the limits and timeouts of `server_config`, routes as in
/// router.hpp, events handed to `sink`; and the admin listeners, whose requests go to
/// `server_options::admin` only.
///
/// Lifetime: `sink` must outlive the server, and must have run every completion it was given
/// before the server is destroyed (closing the spool completes every append it holds), since
/// completions post back to the server's io_context.
/// Thread-safety: shutdown(), post(), accepting() and set_endpoints() may be called from any
/// thread (shutdown also from a signal's handler posted by Asio); the rest from the owning thread.
class server {
 public:
  /// Binds and listens on every address (so the ports are known before run()). Throws
  /// std::runtime_error naming the address when one cannot be resolved or bound.
  server(const config::server_config& cfg, std::shared_ptr<endpoint_snapshot> endpoints,
         dispatch::event_sink& sink, server_options opts = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The public listeners' addresses.
  const std::vector<bound_address>& addresses() const noexcept;
  /// The admin listeners' addresses.
  const std::vector<bound_address>& admin_addresses() const noexcept;

  /// Serves on the io threads (the calling thread is one of them) until a graceful shutdown has
  /// finished or its grace ran out. SIGINT and SIGTERM start the shutdown; a second signal stops
  /// at once. Returns normally in both cases.
  void run();

  /// Graceful shutdown: stop accepting, close idle keep-alive connections, let requests in flight
  /// finish (their answers carry `Connection: close`), for up to `shutdown_grace`. Idempotent.
  void shutdown();

  /// Runs a copy of `fn` on every io thread (each runs its own io_context): the watchdog's
  /// proof that every one of them makes progress.
  void post_each(const std::function<void()>& fn);
  /// How many io threads there are (copies post_each() posts).
  std::size_t io_threads() const noexcept;

  /// True from on_ready until a shutdown begins: the public listeners accept.
  bool accepting() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace hookd::http
