#include "exec_handler.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <map>
#include <optional>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <hookd/core/units.hpp>

#include "text.hpp"
#include "unique_fd.hpp"

namespace hookd::handlers::detail {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// After SIGTERM on timeout, how long the group gets to exit before SIGKILL.
constexpr auto kill_grace = 2s;
/// After the command exits, how long to keep reading output that its leftovers may still write
/// before the group is killed.
constexpr auto drain_time = 250ms;
/// Without a pidfd (kernel < 5.3) the child's exit is noticed by polling this often.
constexpr auto exit_poll_tick = 50ms;
/// Bytes of output quoted in a failure's error text (the log gets up to max_output).
constexpr std::size_t error_tail = 512;

/// Blocks SIGPIPE in the calling thread for its lifetime, so writing to the stdin of a command
/// that does not read it gives EPIPE instead of killing hookd; then discards the SIGPIPE that such
/// a write left pending and restores the mask. The child gets an empty mask (posix_spawnattr).
class sigpipe_guard {
 public:
  sigpipe_guard() noexcept {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~sigpipe_guard() {
    if (sigismember(&old_, SIGPIPE) == 0) {
      const timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
};

/// A spawned command, leader of its own process group. Until wait() has reaped it, destruction
/// kills the whole group and reaps the leader, so no early return leaves a process or a zombie.
class child_process {
 public:
  explicit child_process(pid_t pid) noexcept : pid_(pid) {}
  ~child_process() {
    if (pid_ > 0) {
      kill_group(SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// Signals the group (the leader's pid is the pgid: POSIX_SPAWN_SETPGROUP with 0) and the
  /// leader itself, in case it moved to another group.
  void kill_group(int sig) const noexcept {
    ::kill(-pid_, sig);
    ::kill(pid_, sig);
  }

  /// True once the leader has exited, without reaping it: while the zombie exists its pid stays
  /// the group id, so kill(-pgid) cannot reach an unrelated process that reused the number.
  bool exited() const noexcept {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid_;
  }

  /// Reaps the leader and returns its wait status.
  int wait() noexcept {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

/// posix_spawn's file actions and attributes as RAII objects.
struct spawn_setup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  spawn_setup() noexcept {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_setup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
};

/// Whatever the command writes, kept up to a bound; the rest is read and counted so the command
/// never blocks on a full pipe.
struct output_capture {
  std::uint64_t limit;
  std::string kept;
  std::uint64_t dropped = 0;

  void add(const char* data, std::size_t n) {
    const std::uint64_t room = limit > kept.size() ? limit - kept.size() : 0;
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(room, n));
    kept.append(data, take);
    dropped += n - take;
  }
  std::string text() const {
    std::string t = escape_control(kept);
    if (dropped > 0) t += fmt::format(" [truncated {} bytes]", dropped);
    return t;
  }
};

/// Moves a descriptor that landed on 0, 1 or 2 (hookd started with a standard stream closed) above
/// them, so the child's dup2 sequence cannot overwrite one pipe end with another.
bool above_stdio(unique_fd& fd) noexcept {
  if (fd.get() > STDERR_FILENO) return true;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

bool set_nonblocking(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/// Reads what is available now. Returns false at end of file or on an error.
bool read_available(int fd, output_capture& out) noexcept {
  std::array<char, 65536> buf;
  // A bounded number of reads per wake-up keeps stdin and the deadline served.
  for (int i = 0; i < 16; ++i) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      out.add(buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
  return true;
}

/// command[0] as given when it contains '/', else the first executable regular file of that name
/// on the fixed search path. Never the daemon's own PATH.
std::optional<std::string> resolve(const std::string& command) {
  if (command.find('/') != std::string::npos) return command;
  std::string_view dirs = exec_handler::search_path;
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
    std::string candidate = std::string(dir) + "/" + command;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string describe_signal(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("{} (SIG{})", sig, abbrev) : std::to_string(sig);
}

/// The whole environment of a run, sorted: nothing inherited from hookd (whose own environment
/// may hold secrets referenced as {env: NAME}). `env` may override the base, not HOOKD_*.
std::vector<std::string> environment(const config::exec_handler& spec, const delivery& d) {
  std::map<std::string, std::string> env{{"PATH", exec_handler::search_path}, {"LANG", "C.UTF-8"}};
  for (const auto& [key, value] : spec.env)
    env[key] = value;
  env["HOOKD_EVENT_ID"] = std::string(d.ev.id);
  env["HOOKD_EVENT_TYPE"] = std::string(d.ev.type);
  env["HOOKD_ENDPOINT"] = std::string(d.ev.endpoint);
  env["HOOKD_PROVIDER"] = std::string(d.ev.provider);
  env["HOOKD_SUBJECT"] = std::string(d.ev.subject);
  env["HOOKD_ATTEMPT"] = std::to_string(d.attempt);
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) {
    std::string entry = key;
    entry += '=';
    entry += value;
    out.push_back(std::move(entry));
  }
  return out;
}

/// A null-terminated char* array over `strings` (which must outlive it), as execve wants.
std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

/// How a run ended.
struct run_outcome {
  int status = 0;          ///< the leader's wait status
  bool timed_out = false;  ///< `timeout` expired before the leader exited
  output_capture output;
  std::chrono::milliseconds elapsed{};
};

/// Feeds `input` to the command's stdin and collects its output, both nonblocking through one
/// poll() (so a command that writes before it has read everything cannot deadlock with us),
/// until the leader has exited and its output is closed or drained, enforcing the timeout
/// (SIGTERM to the group, SIGKILL after kill_grace). Then kills what is left of the group and
/// reaps the leader.
run_outcome supervise(child_process& child, unique_fd in_write, unique_fd out_read,
                      std::string_view input, const config::exec_handler& spec,
                      clock::time_point started) {
  run_outcome out{0, false, output_capture{spec.max_output, {}, 0}, {}};
  set_nonblocking(in_write.get());
  set_nonblocking(out_read.get());
  // Event-driven exit detection where the kernel has pidfds; a short tick otherwise.
  // (glibc 2.36's <sys/pidfd.h> lacks extern "C", hence the raw system call.)
  unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child.pid(), 0U)));

  std::size_t written = 0;
  const auto deadline = started + spec.timeout;
  bool killed = false;
  clock::time_point kill_at{};
  bool exited = false;
  clock::time_point drain_until{};
  auto check_exit = [&] {
    if (!exited && child.exited()) {
      exited = true;
      drain_until = clock::now() + drain_time;
    }
  };

  for (;;) {
    const auto now = clock::now();
    if (exited) {
      if (!out_read || now >= drain_until) break;
    } else if (!out.timed_out && now >= deadline) {
      out.timed_out = true;
      child.kill_group(SIGTERM);
      kill_at = now + kill_grace;
      in_write.reset();
    } else if (out.timed_out && !killed && now >= kill_at) {
      killed = true;
      child.kill_group(SIGKILL);
    }

    // Sleep until the next thing to do: a pipe is ready, the child exits, or a time limit.
    clock::time_point wake = clock::time_point::max();
    if (exited) {
      wake = drain_until;
    } else {
      if (!out.timed_out) wake = deadline;
      if (out.timed_out && !killed) wake = kill_at;
      if (!pidfd || killed) wake = std::min(wake, now + exit_poll_tick);
    }
    int timeout_ms = -1;
    if (wake != clock::time_point::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60000));
    }

    std::array<pollfd, 3> fds{};
    nfds_t count = 0;
    pollfd* in_poll = nullptr;
    pollfd* out_poll = nullptr;
    pollfd* pid_poll = nullptr;
    if (in_write) {
      in_poll = &fds[count++];
      *in_poll = pollfd{in_write.get(), POLLOUT, 0};
    }
    if (out_read) {
      out_poll = &fds[count++];
      *out_poll = pollfd{out_read.get(), POLLIN, 0};
    }
    if (pidfd && !exited) {
      pid_poll = &fds[count++];
      *pid_poll = pollfd{pidfd.get(), POLLIN, 0};
    }
    // poll() only fails with EINTR here (EFAULT/EINVAL/ENOMEM aside): the loop just goes round.
    if (::poll(fds.data(), count, timeout_ms) <= 0) {
      check_exit();
      continue;
    }

    if (in_poll != nullptr && in_poll->revents != 0) {
      const ssize_t n = ::write(in_write.get(), input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
        if (written == input.size()) in_write.reset();  // EOF on the command's stdin
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        in_write.reset();  // EPIPE: the command does not read stdin; its exit status decides
      }
    }
    if (out_poll != nullptr && out_poll->revents != 0) {
      if (!read_available(out_read.get(), out.output)) out_read.reset();
    }
    if (pid_poll == nullptr || pid_poll->revents != 0) check_exit();
  }

  // The command has exited: whatever it left behind in its group goes too (a `sleep 1000 &`
  // must not outlive the delivery), then the leader is reaped.
  child.kill_group(SIGKILL);
  out.status = child.wait();
  if (out_read) read_available(out_read.get(), out.output);
  out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started);
  return out;
}

/// Why a run failed, or "" when it succeeded.
std::string failure_reason(const run_outcome& run, duration timeout) {
  if (run.timed_out) return "timed out after " + format_duration(timeout);
  if (WIFEXITED(run.status) && WEXITSTATUS(run.status) != 0) {
    return fmt::format("exit status {}", WEXITSTATUS(run.status));
  }
  if (WIFSIGNALED(run.status)) return "killed by signal " + describe_signal(WTERMSIG(run.status));
  return {};
}

}  // namespace

exec_handler::exec_handler(std::string name, const config::exec_handler& spec)
    : name_(std::move(name)), spec_(spec) {
  if (spec_.command.empty() || spec_.command.front().empty()) {
    throw std::runtime_error("command: is empty");
  }
  if (spec_.timeout <= duration::zero()) throw std::runtime_error("timeout: must be > 0");
  if (spec_.concurrency == 0) throw std::runtime_error("concurrency: must be at least 1");
  for (const auto& [key, value] : spec_.env) {
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
      throw std::runtime_error("env: invalid variable name '" + key + "'");
    }
    if (key.rfind("HOOKD_", 0) == 0) {
      throw std::runtime_error("env: " + key + " is set by hookd and cannot be configured");
    }
  }
  // Not fatal: the command may be installed after hookd starts; deliveries fail until it is.
  if (!resolve(spec_.command.front())) {
    spdlog::warn("handler {}: command {} not found on {}", name_, spec_.command.front(),
                 search_path);
  }
}

result exec_handler::deliver(const delivery& d) noexcept {
  try {
    const auto path = resolve(spec_.command.front());
    if (!path) {
      return result::failure(
          fmt::format("command {} not found on {}", spec_.command.front(), search_path));
    }
    std::vector<std::string> env = environment(spec_, d);
    std::vector<std::string> args = spec_.command;
    const auto envp = c_array(env);
    const auto argv = c_array(args);

    int in_fds[2];
    int out_fds[2];
    if (::pipe2(in_fds, O_CLOEXEC) != 0) return result::failure("pipe: " + errno_text(errno));
    unique_fd in_read(in_fds[0]);
    unique_fd in_write(in_fds[1]);
    if (::pipe2(out_fds, O_CLOEXEC) != 0) return result::failure("pipe: " + errno_text(errno));
    unique_fd out_read(out_fds[0]);
    unique_fd out_write(out_fds[1]);
    if (!above_stdio(in_read) || !above_stdio(in_write) || !above_stdio(out_read) ||
        !above_stdio(out_write)) {
      return result::failure("fcntl: " + errno_text(errno));
    }

    spawn_setup setup;
    // stdin from our pipe, stdout and stderr both into the other (one stream, in write order),
    // every other descriptor closed even if something in hookd forgot O_CLOEXEC.
    posix_spawn_file_actions_adddup2(&setup.actions, in_read.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
    // Its own process group (so the timeout reaches everything it starts), an empty signal mask
    // and default dispositions (hookd blocks or ignores some signals; the command must not).
    sigset_t empty;
    sigset_t all;
    sigemptyset(&empty);
    sigfillset(&all);
    posix_spawnattr_setflags(
        &setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setsigmask(&setup.attr, &empty);
    posix_spawnattr_setsigdefault(&setup.attr, &all);

    std::string input;
    input.reserve(d.cloudevent.size() + 1);
    input.append(d.cloudevent);
    input.push_back('\n');

    sigpipe_guard no_sigpipe;
    const auto started = clock::now();
    pid_t pid = -1;
    if (const int err = ::posix_spawn(&pid, path->c_str(), &setup.actions, &setup.attr, argv.data(),
                                      envp.data());
        err != 0) {
      return result::failure("cannot run " + *path + ": " + errno_text(err));
    }
    child_process child(pid);
    // Only the child keeps these ends: EOF on its output then means it (and its group) closed it.
    in_read.reset();
    out_write.reset();
    const run_outcome run =
        supervise(child, std::move(in_write), std::move(out_read), input, spec_, started);

    std::string why = failure_reason(run, spec_.timeout);
    const std::string logged = run.output.text();
    if (why.empty()) {
      spdlog::debug("handler {}: event {} attempt {}: exit status 0 ({}ms); output: {}", name_,
                    escape_control(d.ev.id), d.attempt, run.elapsed.count(), logged);
      return result::success();
    }
    spdlog::warn("handler {}: event {} attempt {}: {} ({}ms); output: {}", name_,
                 escape_control(d.ev.id), d.attempt, why, run.elapsed.count(), logged);
    if (!run.output.kept.empty()) {
      why += "; output: " + escaped_tail(run.output.kept, error_tail);
    }
    return result::failure(std::move(why));
  } catch (const std::exception& e) {
    return result::failure(std::string("exec: ") + e.what());
  }
}

}  // namespace hookd::handlers::detail
