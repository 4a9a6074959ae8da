#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace hookd::test {

using namespace std::chrono_literals;

/// What a finished command printed and how it ended.
struct command_result {
  int exit_code = -1;  ///< the exit status, or 128 + signal when killed by one
  std::string out;
  std::string err;
};

/// How a child is started beyond its program and arguments.
struct spawn_options {
  /// Variables set in the child's environment (over the test's own).
  std::vector<std::pair<std::string, std::string>> env;
  /// A listening socket passed as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID=<the child's pid>,
  /// as systemd's socket activation does (a `sh -c 'LISTEN_PID=$$ exec ...'` step knows the pid).
  /// The caller keeps its own descriptor.
  int listen_fd = -1;
};

/// Runs `program args...` to completion (killed after `timeout`), stdout and stderr captured
/// through files in a temporary directory.
command_result run_command(const std::filesystem::path& program,
                           const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout = 30s);

/// A child process started with posix_spawn, its stderr (and stdout) going to `log_file`.
/// Owns the child: if it is still running, the destructor sends SIGTERM, waits up to 15 s, then
/// SIGKILLs and reaps it, so a failing test never leaves a process behind. Only this child's pid
/// is ever signalled.
class child_process {
 public:
  child_process(const std::filesystem::path& program, const std::vector<std::string>& args,
                const std::filesystem::path& log_file, const spawn_options& options = {});
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void signal(int signo) const;

  /// The exit code (128 + signal when killed by one), or nullopt if still running at `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();

  /// Everything the child wrote to its log so far.
  std::string log() const;

  /// Polls the log until a line contains `text`; returns that line, or nullopt when `timeout`
  /// passes or the child exits first.
  std::optional<std::string> wait_for_line(const std::string& text,
                                           std::chrono::milliseconds timeout = 10s);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_file_;
};

/// `<binary> run -c <config>` (the hookd executable) with its log in `log_file`, ready to take
/// requests: the constructor waits for the "listening on 127.0.0.1:PORT" line (throws
/// std::runtime_error with the log when hookd exits or does not listen within 20 s).
class hookd_process {
 public:
  hookd_process(const std::filesystem::path& binary, const std::filesystem::path& config,
                const std::filesystem::path& log_file, const spawn_options& options = {});

  std::uint16_t port() const noexcept { return port_; }
  /// The admin listener's port ("admin listener on 127.0.0.1:PORT"), 0 when it has none.
  std::uint16_t admin_port() const noexcept { return admin_port_; }
  child_process& process() noexcept { return child_; }
  std::string log() const { return child_.log(); }

 private:
  child_process child_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
};

/// Polls `file` until it holds at least `lines` lines (or `timeout` passes); returns its lines.
std::vector<std::string> wait_for_lines(const std::filesystem::path& file, std::size_t lines,
                                        std::chrono::milliseconds timeout = 10s);

}  // namespace hookd::test
