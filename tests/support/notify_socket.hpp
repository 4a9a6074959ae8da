#pragma once

#include <cstring>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "temp_dir.hpp"

namespace hookd::test {

/// The service manager's side of sd_notify(3): an AF_UNIX datagram socket bound in a temp dir.
/// Give path() to the process under test as NOTIFY_SOCKET; next() reads what it sent.
/// Owns its socket; not copyable.
class notify_socket {
 public:
  notify_socket() : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX)");
    path_ = (dir_ / "notify").string();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(addr.sun_path)) throw std::runtime_error("path too long");
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind " + path_);
    }
  }
  ~notify_socket() { ::close(fd_); }
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  const std::string& path() const noexcept { return path_; }

  /// The next datagram, or nullopt when none arrives within `timeout_ms`.
  std::optional<std::string> next(int timeout_ms = 10000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    char buf[4096];
    const auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  temp_dir dir_;
  int fd_;
  std::string path_;
};

}  // namespace hookd::test
