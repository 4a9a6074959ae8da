#include "process.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <string_view>
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
            const std::filesystem::path& out, const std::filesystem::path& err,
            const spawn_options& options = {}) {
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
  std::vector<std::string> argv_storage;
  std::string path = program.string();
  int high_fd = -1;
  if (options.listen_fd >= 0) {
    // Above 3 first, so the dup2 to 3 is always a real one (which clears FD_CLOEXEC there).
    high_fd = ::fcntl(options.listen_fd, F_DUPFD_CLOEXEC, 10);
    if (high_fd < 0) throw std::system_error(errno, std::generic_category(), "fcntl");
    posix_spawn_file_actions_adddup2(actions.get(), high_fd, 3);
    // $$ is the shell's pid, which exec keeps: the program's own pid, as LISTEN_PID must be.
    argv_storage = {"/bin/sh", "-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"", path};
    path = "/bin/sh";
  } else {
    argv_storage = {path};
  }
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  // The test's environment, with the options' variables set over it.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    const bool replaced = std::any_of(options.env.begin(), options.env.end(),
                                      [&](const auto& kv) { return kv.first == name; });
    if (!replaced) env_storage.emplace_back(entry);
  }
  for (const auto& [name, value] : options.env)
    env_storage.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_storage)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawn(&pid, path.c_str(), actions.get(), nullptr, argv.data(), envp.data());
  if (high_fd >= 0) ::close(high_fd);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn " + path);
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
                             const std::filesystem::path& log_file, const spawn_options& options)
    : log_file_(log_file) {
  pid_ = spawn(program, args, log_file, log_file, options);
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
                             const std::filesystem::path& log_file, const spawn_options& options)
    : child_(binary, {"run", "--config", config.string()}, log_file, options) {
  // Logged once every listener accepts, after the lines naming them.
  if (!child_.wait_for_line("ready: accepting requests", 20s)) {
    throw std::runtime_error("hookd did not become ready; its log:\n" + child_.log());
  }
  std::istringstream lines(child_.log());
  const std::string listening = "listening on 127.0.0.1:";
  const std::string admin = "admin listener on 127.0.0.1:";
  for (std::string l; std::getline(lines, l);) {
    if (const auto at = l.find(listening); at != std::string::npos && port_ == 0) {
      port_ = static_cast<std::uint16_t>(std::stoul(l.substr(at + listening.size())));
    }
    if (const auto at = l.find(admin); at != std::string::npos && admin_port_ == 0) {
      admin_port_ = static_cast<std::uint16_t>(std::stoul(l.substr(at + admin.size())));
    }
  }
  if (port_ == 0) throw std::runtime_error("hookd listens on no 127.0.0.1 port:\n" + child_.log());
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
