#include "process.hpp"

#include <cerrno>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>

#include "temp_dir.hpp"

extern char** environ;

namespace hookd::test {

namespace {

/// posix_spawn file actions, released on every path.
class spawn_actions {
 public:
  spawn_actions() { posix_spawn_file_actions_init(&actions_); }
  ~spawn_actions() { posix_spawn_file_actions_destroy(&actions_); }
  spawn_actions(const spawn_actions&) = delete;
  spawn_actions& operator=(const spawn_actions&) = delete;
  posix_spawn_file_actions_t* get() noexcept { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

pid_t spawn(const std::filesystem::path& program, const std::vector<std::string>& args,
            const std::filesystem::path& out, const std::filesystem::path& err) {
  spawn_actions actions;
  posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(actions.get(), 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  if (out == err) {
    posix_spawn_file_actions_adddup2(actions.get(), 1, 2);
  } else {
    posix_spawn_file_actions_addopen(actions.get(), 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  }
  std::vector<std::string> argv_storage{program.string()};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program.c_str(), actions.get(), nullptr, argv.data(), environ);
  if (rc != 0)
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + program.string());
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

child_process::child_process(const std::filesystem::path& program,
                             const std::vector<std::string>& args,
                             const std::filesystem::path& log_file)
    : log_file_(log_file) {
  pid_ = spawn(program, args, log_file, log_file);
}

child_process::~child_process() {
  if (pid_ <= 0 || !running()) return;
  // Stop it as an operator would (SIGTERM, graceful); SIGKILL only if it does not exit in time.
  // Only our own child, by its pid.
  ::kill(pid_, SIGTERM);
  if (wait_exit(15s)) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void child_process::signal(int signo) const {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, signo);
}

bool child_process::running() {
  if (exit_code_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    return false;
  }
  return true;
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  return exit_code_;
}

std::string child_process::log() const {
  return read_file(log_file_);
}

std::optional<std::string> child_process::wait_for_line(const std::string& text,
                                                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::istringstream lines(log());
    for (std::string line; std::getline(lines, line);) {
      if (line.find(text) != std::string::npos) return line;
    }
    if (!running() || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

hookd_process::hookd_process(const std::filesystem::path& binary,
                             const std::filesystem::path& config,
                             const std::filesystem::path& log_file)
    : child_(binary, {"run", "--config", config.string()}, log_file) {
  const auto line = child_.wait_for_line("listening on 127.0.0.1:", 20s);
  if (!line) {
    throw std::runtime_error("hookd did not start listening; its log:\n" + child_.log());
  }
  const auto colon = line->rfind(':');
  port_ = static_cast<std::uint16_t>(std::stoul(line->substr(colon + 1)));
}

command_result run_command(const std::filesystem::path& program,
                           const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout) {
  temp_dir dir;
  const auto out = dir / "stdout";
  const auto err = dir / "stderr";
  const pid_t pid = spawn(program, args, out, err);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  command_result result;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      result.exit_code = decode_status(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.exit_code = decode_status(status);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

std::vector<std::string> wait_for_lines(const std::filesystem::path& file, std::size_t lines,
                                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::string> found;
    std::istringstream in(read_file(file));
    for (std::string line; std::getline(in, line);)
      found.push_back(line);
    if (found.size() >= lines || std::chrono::steady_clock::now() >= deadline) return found;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace hookd::test
