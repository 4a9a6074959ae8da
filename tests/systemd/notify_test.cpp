#include <arpa/inet.h>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <hookd/systemd/notify.hpp>

#include "notify_socket.hpp"
#include "temp_dir.hpp"

namespace {

/// A descriptor closed on scope exit.
struct fd_guard {
  int fd;
  explicit fd_guard(int f) : fd(f) {}
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
};

/// The service manager's socket, announced in NOTIFY_SOCKET for the lifetime of the object.
class notify_receiver : public hookd::test::notify_socket {
 public:
  notify_receiver() { ::setenv("NOTIFY_SOCKET", path().c_str(), 1); }
  ~notify_receiver() { ::unsetenv("NOTIFY_SOCKET"); }
  notify_receiver(const notify_receiver&) = delete;
  notify_receiver& operator=(const notify_receiver&) = delete;
};

}  // namespace

TEST_CASE("systemd: notifications arrive on NOTIFY_SOCKET exactly as sent") {
  notify_receiver manager;
  CHECK(hookd::systemd::notify_socket_set());

  CHECK_FALSE(hookd::systemd::ready());
  CHECK(manager.next() == "READY=1");

  CHECK_FALSE(hookd::systemd::ready("serving 2 endpoints"));
  CHECK(manager.next() == "READY=1\nSTATUS=serving 2 endpoints");

  CHECK_FALSE(hookd::systemd::status("accepted 5, pending 1\ndead 0"));
  CHECK(manager.next() == "STATUS=accepted 5, pending 1 dead 0");  // one line: newline replaced

  CHECK_FALSE(hookd::systemd::watchdog());
  CHECK(manager.next() == "WATCHDOG=1");

  CHECK_FALSE(hookd::systemd::stopping());
  CHECK(manager.next() == "STOPPING=1");

  CHECK_FALSE(hookd::systemd::extend_timeout(std::chrono::seconds(30), "migrating"));
  CHECK(manager.next() == "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=migrating");

  CHECK_FALSE(hookd::systemd::reloading("reloading"));
  const auto reload = manager.next();
  REQUIRE(reload.has_value());
  // RELOADING=1, then MONOTONIC_USEC=<digits> (systemd 253's notify-reload wants it).
  REQUIRE(reload->rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  const auto usec_start = std::strlen("RELOADING=1\nMONOTONIC_USEC=");
  const auto usec_end = reload->find('\n', usec_start);
  REQUIRE(usec_end != std::string::npos);
  const auto usec = reload->substr(usec_start, usec_end - usec_start);
  CHECK(!usec.empty());
  CHECK(usec.find_first_not_of("0123456789") == std::string::npos);
  CHECK(std::stoull(usec) > 0);
  CHECK(reload->substr(usec_end) == "\nSTATUS=reloading");

  CHECK(manager.next(100) == std::nullopt);  // nothing more was sent
}

TEST_CASE("systemd: without NOTIFY_SOCKET notifications are no-ops") {
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(hookd::systemd::notify_socket_set());
  CHECK_FALSE(hookd::systemd::ready("x"));
  CHECK_FALSE(hookd::systemd::watchdog());
}

TEST_CASE("systemd: a NOTIFY_SOCKET nobody listens on is reported as an error") {
  hookd::test::temp_dir dir;
  const auto path = (dir / "absent").string();
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  CHECK(hookd::systemd::ready());  // an error_code, not a throw
  ::unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("systemd: watchdog_interval is half of WATCHDOG_USEC, for this process only") {
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  CHECK(hookd::systemd::watchdog_interval() == std::chrono::seconds(15));

  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);  // meant for another
  CHECK(hookd::systemd::watchdog_interval() == std::nullopt);

  ::unsetenv("WATCHDOG_PID");  // unset PID: the variable is for us
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  CHECK(hookd::systemd::watchdog_interval() == std::chrono::seconds(1));

  ::unsetenv("WATCHDOG_USEC");
  CHECK(hookd::systemd::watchdog_interval() == std::nullopt);
}

namespace {

/// Puts `fd` at descriptor 3 (SD_LISTEN_FDS_START) for the test, keeping whatever the test runner
/// had there and restoring it afterwards.
class at_fd3 {
 public:
  explicit at_fd3(int fd) {
    if (::fcntl(3, F_GETFD) >= 0) saved_ = ::fcntl(3, F_DUPFD_CLOEXEC, 10);
    REQUIRE(::dup2(fd, 3) == 3);
  }
  ~at_fd3() {
    if (saved_ >= 0) {
      ::dup2(saved_, 3);
      ::close(saved_);
    } else {
      ::close(3);  // may already be closed by the code under test
    }
  }
  at_fd3(const at_fd3&) = delete;
  at_fd3& operator=(const at_fd3&) = delete;

 private:
  int saved_ = -1;
};

/// A TCP socket bound to 127.0.0.1:0; listening if `listening`. Returns its port in `port`.
int tcp_socket(bool listening, std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  if (listening) REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port = ntohs(addr.sin_port);
  // Above the descriptor under test, so placing it at 3 is always a real dup2.
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  REQUIRE(high >= 10);
  return high;
}

void set_listen_env(const std::string& pid) {
  ::setenv("LISTEN_FDS", "1", 1);
  ::setenv("LISTEN_PID", pid.c_str(), 1);
  ::setenv("LISTEN_FDNAMES", "http", 1);
}

}  // namespace

TEST_CASE("systemd: listen_fds returns the socket passed as fd 3 and clears the environment") {
  std::uint16_t port = 0;
  fd_guard original(tcp_socket(true, port));
  {
    at_fd3 placed(original.fd);
    // dup2 clears FD_CLOEXEC on fd 3, as after systemd's exec: listen_fds must set it again.
    REQUIRE((::fcntl(3, F_GETFD) & FD_CLOEXEC) == 0);
    set_listen_env(std::to_string(::getpid()));

    auto sockets = hookd::systemd::listen_fds();
    REQUIRE(sockets.size() == 1);
    CHECK(sockets[0].fd() == 3);
    CHECK(sockets[0].name() == "http");
    CHECK((::fcntl(3, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(std::getenv("LISTEN_FDS") == nullptr);
    CHECK(std::getenv("LISTEN_PID") == nullptr);
    CHECK(std::getenv("LISTEN_FDNAMES") == nullptr);

    // It is the listening socket the test made: a connection to its port is accepted on it.
    fd_guard client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    REQUIRE(::connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    pollfd p{sockets[0].fd(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 10000) == 1);
    fd_guard accepted(::accept4(sockets[0].fd(), nullptr, nullptr, SOCK_CLOEXEC));
    CHECK(accepted.fd >= 0);

    // Called again (the environment is gone): nothing more is inherited.
    CHECK(hookd::systemd::listen_fds().empty());

    // The socket object owns fd 3; release() hands it back to the caller.
    CHECK(sockets[0].release() == 3);
    CHECK(sockets[0].fd() == -1);
  }
}

TEST_CASE("systemd: listen_fds ignores variables meant for another process") {
  std::uint16_t port = 0;
  fd_guard original(tcp_socket(true, port));
  at_fd3 placed(original.fd);
  set_listen_env(std::to_string(::getpid() + 1));
  CHECK(hookd::systemd::listen_fds().empty());
  CHECK(::fcntl(3, F_GETFD) >= 0);  // not ours to close
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDNAMES");
}

TEST_CASE("systemd: listen_fds refuses a socket that is not listening") {
  std::uint16_t port = 0;
  fd_guard original(tcp_socket(false, port));
  at_fd3 placed(original.fd);
  set_listen_env(std::to_string(::getpid()));
  CHECK_THROWS_AS(hookd::systemd::listen_fds(), std::system_error);
}

TEST_CASE("systemd: without LISTEN_FDS nothing is inherited") {
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_PID");
  CHECK(hookd::systemd::listen_fds().empty());
}
