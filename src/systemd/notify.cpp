#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

#include <systemd/sd-daemon.h>

#include <hookd/systemd/notify.hpp>

namespace hookd::systemd {
namespace {

std::error_code send(std::string message, std::string_view status) {
  if (!status.empty()) {
    message += "\nSTATUS=";
    // One assignment per line in the protocol: a newline would start a bogus one.
    for (char c : status)
      message += (c == '\n' || c == '\r') ? ' ' : c;
  }
  // unset_environment=0: later notifications need NOTIFY_SOCKET; children get a clean
  // environment from the exec handler anyway.
  const int r = sd_notify(0, message.c_str());
  if (r < 0) return {-r, std::system_category()};
  return {};
}

std::uint64_t monotonic_usec() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000U +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
}

}  // namespace

std::error_code ready(std::string_view status_text) {
  return send("READY=1", status_text);
}

std::error_code reloading(std::string_view status_text) {
  return send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()), status_text);
}

std::error_code stopping(std::string_view status_text) {
  return send("STOPPING=1", status_text);
}

std::error_code status(std::string_view text) {
  std::string message = "STATUS=";
  for (char c : text)
    message += (c == '\n' || c == '\r') ? ' ' : c;
  return send(std::move(message), {});
}

std::error_code extend_timeout(std::chrono::microseconds by, std::string_view status_text) {
  return send("EXTEND_TIMEOUT_USEC=" + std::to_string(by.count()), status_text);
}

std::error_code watchdog() {
  return send("WATCHDOG=1", {});
}

bool notify_socket_set() noexcept {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): hookd never changes its environment once threads run.
  const char* s = std::getenv("NOTIFY_SOCKET");
  return s != nullptr && *s != '\0';
}

std::optional<std::chrono::microseconds> watchdog_interval() noexcept {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  // Half the timeout, as sd_watchdog_enabled(3) recommends: one late ping is not fatal.
  return std::chrono::microseconds(usec / 2);
}

listen_socket::~listen_socket() {
  if (fd_ >= 0) ::close(fd_);
}

listen_socket::listen_socket(listen_socket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)) {}

listen_socket& listen_socket::operator=(listen_socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

int listen_socket::release() noexcept {
  return std::exchange(fd_, -1);
}

std::vector<listen_socket> listen_fds() {
  char** names = nullptr;
  // unset_environment=1; sd_listen_fds sets FD_CLOEXEC on every passed descriptor.
  const int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) throw std::system_error(-n, std::system_category(), "sd_listen_fds");

  std::vector<listen_socket> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::string name = (names != nullptr && names[i] != nullptr) ? names[i] : "unknown";
    out.emplace_back(SD_LISTEN_FDS_START + i, std::move(name));
  }
  if (names != nullptr) {
    for (int i = 0; i < n; ++i)
      std::free(names[i]);
    std::free(names);
  }

  for (const auto& s : out) {
    // A stream socket in listening state; hookd cannot serve HTTP on anything else.
    const int r = sd_is_socket(s.fd(), AF_UNSPEC, SOCK_STREAM, 1);
    if (r < 0) throw std::system_error(-r, std::system_category(), "sd_is_socket");
    if (r == 0) {
      throw std::system_error(std::make_error_code(std::errc::not_a_socket),
                              "inherited descriptor " + std::to_string(s.fd()) + " (" + s.name() +
                                  ") is not a listening stream socket");
    }
  }
  return out;
}

}  // namespace hookd::systemd
