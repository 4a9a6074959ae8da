#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <signal.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/handlers/handler.hpp>

#include "captured_log.hpp"
#include "sample_event.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using hookd::config::exec_handler;
using hookd::config::handler_spec;
using hookd::handlers::delivery;
using hookd::handlers::make_handler;
using hookd::test::captured_log;

namespace {

handler_spec exec_spec(std::vector<std::string> command, hookd::duration timeout = 30s) {
  exec_handler e;
  e.command = std::move(command);
  e.timeout = timeout;
  return handler_spec{"hook", e, {}};
}

/// Writes an executable script into `dir`.
std::string script(const hookd::test::temp_dir& dir, const std::string& name,
                   const std::string& body) {
  const auto path = dir.write(name, "#!/bin/sh\n" + body);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all |
                                         std::filesystem::perms::group_read |
                                         std::filesystem::perms::group_exec);
  return path.string();
}

/// What the handler logged as the command's output (control characters escaped as \n etc.),
/// split into lines.
std::vector<std::string> logged_output(const std::string& log) {
  const auto at = log.find("; output: ");
  if (at == std::string::npos) return {};
  std::string rest = log.substr(at + 10);
  rest = rest.substr(0, rest.find('\n'));  // the end of the log record
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t pos; (pos = rest.find("\\n", start)) != std::string::npos; start = pos + 2) {
    lines.push_back(rest.substr(start, pos - start));
  }
  if (start < rest.size()) lines.push_back(rest.substr(start));
  return lines;
}

/// True once `pid` no longer runs: gone, or a zombie waiting for a parent that is not us.
bool process_gone(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    const std::string stat = hookd::test::read_file("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() &&
        (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X')) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

pid_t read_pid(const std::filesystem::path& file) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = hookd::test::read_file(file);
    if (!text.empty() && text.back() == '\n') return static_cast<pid_t>(std::stol(text));
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

/// None of our children is left unreaped.
bool no_zombie_children() {
  int status = 0;
  const pid_t r = ::waitpid(-1, &status, WNOHANG);
  return r == 0 || (r < 0 && errno == ECHILD);
}

}  // namespace

TEST_CASE("exec: argv values are passed as they are, never through a shell", "[exec]") {
  hookd::test::temp_dir dir;
  const auto args = script(dir, "args.sh", R"(out="$1"; shift
{ printf '%s\n' "$#"; for a in "$@"; do printf '[%s]\n' "$a"; done; } > "$out"
)");
  const std::string p = dir.path().string();
  const std::vector<std::string> hostile = {"$(touch " + p + "/pwned1)",
                                            "; touch " + p + "/pwned2",
                                            "`touch " + p + "/pwned3`",
                                            "line1\nline2",
                                            "",
                                            "*",
                                            "a b  c",
                                            "| touch " + p + "/pwned4"};
  std::vector<std::string> command{args, (dir / "out.txt").string()};
  command.insert(command.end(), hostile.begin(), hostile.end());
  const auto h = make_handler(exec_spec(command));
  const auto ev = hookd::test::sample_event();
  const auto r = h->deliver(delivery{ev, "{}", 1});
  REQUIRE(r.ok);
  std::string expected = std::to_string(hostile.size()) + "\n";
  for (const auto& a : hostile)
    expected += "[" + a + "]\n";
  CHECK(hookd::test::read_file(dir / "out.txt") == expected);
  for (const char* f : {"pwned1", "pwned2", "pwned3", "pwned4"}) {
    CHECK_FALSE(std::filesystem::exists(dir / f));
  }
}

TEST_CASE("exec: a command without '/' is found on the fixed PATH", "[exec]") {
  hookd::test::temp_dir dir;
  const auto h = make_handler(exec_spec({"touch", (dir / "made").string()}));
  REQUIRE(h->deliver(delivery{hookd::test::sample_event(), "{}", 1}).ok);
  CHECK(std::filesystem::exists(dir / "made"));

  const auto missing = make_handler(exec_spec({"hookd-no-such-command-xyz"}));
  const auto r = missing->deliver(delivery{hookd::test::sample_event(), "{}", 1});
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("hookd-no-such-command-xyz not found on "
                                      "/usr/local/bin:/usr/bin:/bin"));
}

TEST_CASE("exec: a command that cannot be run is a failure naming it", "[exec]") {
  hookd::test::temp_dir dir;
  const auto path = dir.write("not-executable", "#!/bin/sh\nexit 0\n");
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto h = make_handler(exec_spec({path.string()}));
  const auto r = h->deliver(delivery{hookd::test::sample_event(), "{}", 1});
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("cannot run " + path.string()) &&
                          Catch::Contains("Permission denied"));
}

TEST_CASE("exec: stdin receives the event JSON and a newline", "[exec]") {
  hookd::test::temp_dir dir;
  const auto cat = script(dir, "cat.sh", "cat > \"$1\"\n");
  const auto h = make_handler(exec_spec({cat, (dir / "stdin.json").string()}));
  const auto ev = hookd::test::sample_event();
  const std::string text = hookd::to_cloudevent(ev).dump();
  REQUIRE(h->deliver(delivery{ev, text, 1}).ok);
  CHECK(hookd::test::read_file(dir / "stdin.json") == text + "\n");
}

TEST_CASE("exec: feeding a large stdin while the command floods stdout does not deadlock",
          "[exec]") {
  // `cat` echoes 4 MiB back: neither side can finish unless stdin is fed while stdout is read.
  const auto h = make_handler(exec_spec({"/bin/cat"}));
  const std::string big(4 << 20, 'x');
  captured_log log;
  const auto r = h->deliver(delivery{hookd::test::sample_event(), big, 1});
  CHECK(r.ok);
  CHECK_THAT(log.text(),
             Catch::Contains("[truncated " + std::to_string((4 << 20) + 1 - 65536) + " bytes]"));
}

TEST_CASE("exec: a command that does not read stdin is judged by its exit status", "[exec]") {
  const auto h = make_handler(exec_spec({"/bin/true"}));
  const std::string big(1 << 20, 'x');  // more than a pipe holds: the write gets EPIPE
  CHECK(h->deliver(delivery{hookd::test::sample_event(), big, 1}).ok);
}

TEST_CASE("exec: the environment is exactly the documented set", "[exec]") {
  ::setenv("HOOKD_TEST_SECRET", "must-not-leak", 1);
  exec_handler e;
  e.command = {"/usr/bin/env"};
  e.env = {{"APP_MODE", "test"}, {"LANG", "en_US.UTF-8"}};
  const auto h = make_handler(handler_spec{"hook", e, {}});
  auto ev = hookd::test::sample_event("evt-9");
  captured_log log;
  REQUIRE(h->deliver(delivery{ev, "{}", 4}).ok);
  auto lines = logged_output(log.text());
  std::sort(lines.begin(), lines.end());
  CHECK(lines == std::vector<std::string>{
                     "APP_MODE=test",
                     "HOOKD_ATTEMPT=4",
                     "HOOKD_ENDPOINT=altoviz",
                     "HOOKD_EVENT_ID=evt-9",
                     "HOOKD_EVENT_TYPE=customer.created",
                     "HOOKD_PROVIDER=altoviz",
                     "HOOKD_SUBJECT=370",
                     "LANG=en_US.UTF-8",
                     "PATH=/usr/local/bin:/usr/bin:/bin",
                 });
  ::unsetenv("HOOKD_TEST_SECRET");
}

TEST_CASE("exec: the child has no inherited descriptors, signal mask or ignored signals",
          "[exec]") {
  // A descriptor hookd forgot to mark close-on-exec, a blocked and an ignored signal.
  const int leaked = ::fcntl(STDERR_FILENO, F_DUPFD, 77);
  REQUIRE(leaked >= 77);
  sigset_t block;
  sigset_t old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ignore, &previous);

  captured_log log;
  const auto fds = make_handler(exec_spec({"/bin/ls", "/proc/self/fd"}));
  REQUIRE(fds->deliver(delivery{hookd::test::sample_event(), "{}", 1}).ok);
  const auto fd_list = logged_output(log.text());
  const auto sigs =
      make_handler(exec_spec({"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}));
  REQUIRE(sigs->deliver(delivery{hookd::test::sample_event(), "{}", 1}).ok);
  const std::string log_text = log.text();
  const auto sig_lines = logged_output(log_text.substr(log_text.rfind("debug|")));

  ::close(leaked);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  sigaction(SIGUSR1, &previous, nullptr);

  // 0-2 are the pipes; ls itself opens one more for the directory it lists.
  CHECK(fd_list.size() <= 4);
  CHECK(std::find(fd_list.begin(), fd_list.end(), std::to_string(leaked)) == fd_list.end());
  REQUIRE(sig_lines.size() == 2);
  CHECK(sig_lines[0] == "SigBlk:\\t0000000000000000");
  REQUIRE(sig_lines[1].rfind("SigIgn:\\t", 0) == 0);
  // glibc's posix_spawn leaves its own two reserved real-time signals (32, 33) ignored; every
  // standard signal (1-31) must be back to its default (SIGUSR1 was ignored in hookd).
  const auto ignored = std::stoull(sig_lines[1].substr(9), nullptr, 16);
  CHECK((ignored & 0x7fffffffULL) == 0);  // bit n-1 is signal n
}

TEST_CASE("exec: a non-zero exit is a failure with the status and the output's tail", "[exec]") {
  hookd::test::temp_dir dir;
  const auto fail = script(dir, "fail.sh", "echo starting\necho 'database down' >&2\nexit 3\n");
  const auto h = make_handler(exec_spec({fail}));
  captured_log log;
  const auto r = h->deliver(delivery{hookd::test::sample_event(), "{}", 1});
  CHECK_FALSE(r.ok);
  CHECK(r.error == "exit status 3; output: starting\\ndatabase down\\n");
  CHECK_THAT(log.text(),
             Catch::StartsWith("warning|handler hook: event 1233 attempt 1: exit status 3 ("));
}

TEST_CASE("exec: death by a signal is a failure naming it", "[exec]") {
  hookd::test::temp_dir dir;
  const auto die = script(dir, "die.sh", "kill -KILL $$\n");
  const auto r =
      make_handler(exec_spec({die}))->deliver(delivery{hookd::test::sample_event(), "{}", 1});
  CHECK_FALSE(r.ok);
  CHECK(r.error == "killed by signal 9 (SIGKILL)");
  CHECK(no_zombie_children());
}

TEST_CASE("exec: timeout kills the whole process group, no survivor, no zombie", "[exec]") {
  hookd::test::temp_dir dir;
  const auto slow = script(dir, "slow.sh", "sleep 1000 &\necho $! > \"$1\"\nsleep 1000\n");
  const auto h = make_handler(exec_spec({slow, (dir / "bg.pid").string()}, 1s));
  const auto r = h->deliver(delivery{hookd::test::sample_event(), "{}", 1});
  CHECK_FALSE(r.ok);
  CHECK(r.error == "timed out after 1s");
  const pid_t bg = read_pid(dir / "bg.pid");
  REQUIRE(bg > 0);
  CHECK(process_gone(bg));
  CHECK(no_zombie_children());
}

TEST_CASE("exec: a command ignoring SIGTERM is killed after the grace period", "[exec]") {
  hookd::test::temp_dir dir;
  // `trap '' TERM` is inherited by the background sleep too.
  const auto stubborn =
      script(dir, "stubborn.sh", "trap '' TERM\nsleep 1000 &\necho $! > \"$1\"\nwait\n");
  const auto h = make_handler(exec_spec({stubborn, (dir / "bg.pid").string()}, 500ms));
  const auto r = h->deliver(delivery{hookd::test::sample_event(), "{}", 1});
  CHECK_FALSE(r.ok);
  CHECK(r.error == "timed out after 500ms");
  const pid_t bg = read_pid(dir / "bg.pid");
  REQUIRE(bg > 0);
  CHECK(process_gone(bg));
  CHECK(no_zombie_children());
}

TEST_CASE("exec: what a successful command leaves running in its group is killed", "[exec]") {
  hookd::test::temp_dir dir;
  SECTION("detached from the output pipe") {
    const auto leave =
        script(dir, "leave.sh", "sleep 1000 >/dev/null 2>&1 &\necho $! > \"$1\"\nexit 0\n");
    const auto h = make_handler(exec_spec({leave, (dir / "bg.pid").string()}));
    CHECK(h->deliver(delivery{hookd::test::sample_event(), "{}", 1}).ok);
  }
  SECTION("still holding the output pipe") {
    const auto leave = script(dir, "leave.sh", "sleep 1000 &\necho $! > \"$1\"\nexit 0\n");
    const auto h = make_handler(exec_spec({leave, (dir / "bg.pid").string()}));
    CHECK(h->deliver(delivery{hookd::test::sample_event(), "{}", 1}).ok);
  }
  const pid_t bg = read_pid(dir / "bg.pid");
  REQUIRE(bg > 0);
  CHECK(process_gone(bg));
  CHECK(no_zombie_children());
}

TEST_CASE("exec: 10 MB of output is capped at max_output and deliver returns", "[exec]") {
  exec_handler e;
  e.command = {"/usr/bin/head", "-c", "10485760", "/dev/zero"};
  e.max_output = 1000;
  const auto h = make_handler(handler_spec{"hook", e, {}});
  captured_log log;
  CHECK(h->deliver(delivery{hookd::test::sample_event(), "{}", 1}).ok);
  const std::string text = log.text();
  CHECK_THAT(text, Catch::Contains("[truncated 10484760 bytes]"));
  // 1000 NUL bytes, each escaped as \x00 (4 characters), and nothing more of the output.
  CHECK(text.find("output: " + [] {
    std::string s;
    for (int i = 0; i < 1000; ++i)
      s += "\\x00";
    return s;
  }() + " [truncated") != std::string::npos);
}

TEST_CASE("exec: concurrent deliveries each get their own event", "[exec]") {
  hookd::test::temp_dir dir;
  const auto save = script(dir, "save.sh", "cat > \"$1/$HOOKD_EVENT_ID.json\"\n");
  exec_handler e;
  e.command = {save, dir.path().string()};
  e.concurrency = 4;
  const auto h = make_handler(handler_spec{"hook", e, {}});
  CHECK(h->concurrency() == 4);
  std::vector<std::thread> pool;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const auto ev = hookd::test::sample_event(std::to_string(t * 100 + i));
        if (!h->deliver(delivery{ev, "{\"id\":\"" + ev.id + "\"}", 1}).ok) ++failures;
      }
    });
  }
  for (auto& th : pool)
    th.join();
  CHECK(failures == 0);
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 5; ++i) {
      const auto id = std::to_string(t * 100 + i);
      CHECK(hookd::test::read_file(dir / (id + ".json")) == "{\"id\":\"" + id + "\"}\n");
    }
  }
  CHECK(no_zombie_children());
}

TEST_CASE("exec: concurrency defaults to 1 (and is 1 for the other handlers)", "[exec]") {
  CHECK(make_handler(exec_spec({"/bin/true"}))->concurrency() == 1);
  CHECK(make_handler(handler_spec{"c", hookd::config::log_handler{}, {}})->concurrency() == 1);
}

TEST_CASE("exec: invalid specs are refused at construction", "[exec]") {
  CHECK_THROWS_WITH(make_handler(exec_spec({})), Catch::Equals("command: is empty"));
  CHECK_THROWS_WITH(make_handler(exec_spec({"/bin/true"}, 0ms)),
                    Catch::Equals("timeout: must be > 0"));
  exec_handler e;
  e.command = {"/bin/true"};
  e.env = {{"HOOKD_EVENT_ID", "forged"}};
  CHECK_THROWS_WITH(make_handler(handler_spec{"hook", e, {}}),
                    Catch::Equals("env: HOOKD_EVENT_ID is set by hookd and cannot be configured"));
  e.env = {{"A=B", "x"}};
  CHECK_THROWS_WITH(make_handler(handler_spec{"hook", e, {}}),
                    Catch::Contains("invalid variable name"));
  e.env.clear();
  e.concurrency = 0;
  CHECK_THROWS_WITH(make_handler(handler_spec{"hook", e, {}}),
                    Catch::Equals("concurrency: must be at least 1"));
}
