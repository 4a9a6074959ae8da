#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

/// The service manager protocol (sd_notify(3), sd_listen_fds(3), sd_watchdog_enabled(3)) through
/// libsystemd. Outside systemd (no NOTIFY_SOCKET, no LISTEN_FDS) every call is a cheap no-op, so
/// `hookd run` behaves the same in a terminal.
///
/// Thread-safety: the notify functions may be called from any thread (each sends one datagram).
/// listen_fds() reads and unsets environment variables: call it once, at start-up, before other
/// threads exist.
namespace hookd::systemd {

/// Each notify function sends one datagram to $NOTIFY_SOCKET. Returns {} when it was sent or when
/// there is no service manager to tell; an error (for the log) when sending failed. Never throws.
/// A `status` text is sent as STATUS=… in the same datagram, newlines replaced by spaces.

/// READY=1: start-up (or a reload) is complete. systemd starts ordering dependent units now.
std::error_code ready(std::string_view status = {});
/// RELOADING=1 with MONOTONIC_USEC=<now> (required by Type=notify-reload in systemd ≥ 253,
/// ignored by older ones); READY=1 must follow when the reload is done, applied or not.
std::error_code reloading(std::string_view status = {});
/// STOPPING=1: shutdown has begun.
std::error_code stopping(std::string_view status = {});
/// STATUS=…: a one-line summary shown by `systemctl status`.
std::error_code status(std::string_view text);
/// EXTEND_TIMEOUT_USEC=<by>: start-up (or stop) is slow but progressing. The service manager
/// waits at least `by` from now for the next message before its timeout applies (systemd ≥ 236;
/// older ones ignore it). Send again before `by` has passed to extend further.
std::error_code extend_timeout(std::chrono::microseconds by, std::string_view status = {});
/// WATCHDOG=1: the daemon is alive. Send every watchdog_interval() while, and only while, the
/// parts that must make progress do.
std::error_code watchdog();

/// True when NOTIFY_SOCKET is set (the process runs under a service manager that listens).
bool notify_socket_set() noexcept;

/// Half of WATCHDOG_USEC when the service manager expects watchdog pings from this process
/// (WatchdogSec= set, WATCHDOG_PID unset or ours); nullopt otherwise.
std::optional<std::chrono::microseconds> watchdog_interval() noexcept;

/// A listening socket inherited from the service manager. Owns the descriptor (closed on
/// destruction); release() hands it over, e.g. to asio's acceptor.assign().
class listen_socket {
 public:
  listen_socket(int fd, std::string name) noexcept : fd_(fd), name_(std::move(name)) {}
  ~listen_socket();
  listen_socket(listen_socket&& other) noexcept;
  listen_socket& operator=(listen_socket&& other) noexcept;
  listen_socket(const listen_socket&) = delete;
  listen_socket& operator=(const listen_socket&) = delete;

  int fd() const noexcept { return fd_; }
  /// FileDescriptorName= of the socket unit ("hookd.socket" unnamed: systemd's default is the
  /// unit name; "unknown" when the manager passed no names).
  const std::string& name() const noexcept { return name_; }
  /// The descriptor, no longer owned.
  int release() noexcept;

 private:
  int fd_;
  std::string name_;
};

/// The listening sockets passed by socket activation (hookd.socket), in the order of the socket
/// unit's ListenStream= lines; empty when the process was not socket-activated (LISTEN_PID is not
/// ours or LISTEN_FDS unset). Unsets LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES so child processes do
/// not inherit them, and marks the descriptors close-on-exec so handlers' child processes never
/// hold them. Throws std::system_error when the variables are malformed or a passed descriptor is
/// not a listening stream socket (a unit misconfiguration: fail start-up rather than serve on
/// something else).
std::vector<listen_socket> listen_fds();

}  // namespace hookd::systemd
