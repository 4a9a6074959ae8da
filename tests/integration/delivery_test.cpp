// Durable delivery through the real binary: a failing exec handler is retried, goes dead, shows
// in `hookd events list --state dead`, and `hookd events replay` (run while the daemon runs)
// delivers it once the script is fixed; a duplicate POST is answered duplicate and runs nothing.

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace std::chrono_literals;

namespace {

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::vector<std::string> out;
  std::istringstream in(hookd::test::read_file(file));
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

void write_script(const std::filesystem::path& path, const std::string& body) {
  // Written aside and renamed: the daemon may be running the old one right now.
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "#!/bin/sh\n" << body;
  }
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_all);
  std::filesystem::rename(tmp, path);
}

std::string config_with_exec(const hookd::test::temp_dir& dir) {
  std::ostringstream out;
  out << "server:\n  listen: \"127.0.0.1:0\"\n  threads: 2\n"
      << "admin:\n  listen: \"127.0.0.1:0\"\n"
      << "spool:\n  path: \"" << (dir / "var/hookd.db").string() << "\"\n"
      << "log:\n  level: debug\n"
      << "endpoints:\n  altoviz: {provider: altoviz, secret: \"" << hookd::it::altoviz_secret
      << "\"}\n"
      << "handlers:\n"
      << "  audit: {type: file, path: \"" << (dir / "events.jsonl").string() << "\"}\n"
      << "  hook:\n    type: exec\n    command: [\"" << (dir / "hook.sh").string() << "\"]\n"
      << "    retry: {attempts: 3, initial: 100ms, max: 200ms}\n"
      << "routes:\n  - to: [audit, hook]\n";
  return out.str();
}

hookd::test::command_result events(const std::filesystem::path& config,
                                   std::vector<std::string> args) {
  args.insert(args.begin(), "events");
  args.push_back("-c");
  args.push_back(config.string());
  return hookd::test::run_command(HOOKD_BINARY, args);
}

int post(std::uint16_t port, const std::string& body, std::string* answer = nullptr) {
  hookd::test::raw_connection c(port);
  REQUIRE(c.send(hookd::it::altoviz_request(body)));
  const auto r = c.read_response();
  REQUIRE(r);
  if (answer) *answer = r->body;
  return r->status;
}

}  // namespace

TEST_CASE("a failing exec handler goes dead, is listed, and replays once fixed", "[delivery]") {
  hookd::test::temp_dir dir;
  const auto attempts = dir / "attempts.txt";
  write_script(dir / "hook.sh", "cat > /dev/null\necho \"$HOOKD_EVENT_ID $HOOKD_ATTEMPT\" >> " +
                                    attempts.string() + "\necho 'database down' >&2\nexit 3\n");
  const auto config = dir.write("hookd.yaml", config_with_exec(dir));
  hookd::test::hookd_process hookd(HOOKD_BINARY, config, dir / "hookd.log");

  const std::string body = R"({"id":"it-1","type":"CustomerCreated","data":{"id":370}})";
  std::string answer;
  REQUIRE(post(hookd.port(), body, &answer) == 200);
  CHECK(answer.find("\"accepted\"") != std::string::npos);
  REQUIRE(post(hookd.port(), body, &answer) == 200);
  CHECK(answer.find("\"duplicate\"") != std::string::npos);

  // Three attempts (100ms, then 200ms apart at most), then dead.
  REQUIRE(hookd::it::eventually([&] { return lines_of(attempts).size() == 3; }));
  REQUIRE(hookd::it::eventually([&] {
    const auto r = events(config, {"list", "--state", "dead", "--json"});
    return r.exit_code == 0 && hookd::json::parse(r.out).size() == 1;
  }));
  CHECK(lines_of(attempts) == std::vector<std::string>{"it-1 1", "it-1 2", "it-1 3"});
  const auto dead = hookd::json::parse(events(config, {"list", "--state", "dead", "--json"}).out);
  CHECK(dead[0]["id"] == "it-1");
  CHECK(dead[0]["deliveries"]["done"] == 1);  // audit
  CHECK(dead[0]["deliveries"]["dead"] == 1);  // hook
  const auto shown = events(config, {"show", "it-1"});
  CHECK(shown.exit_code == 0);
  CHECK(shown.out.find("hook: dead, 3 attempts") != std::string::npos);
  CHECK(shown.out.find("exit status 3") != std::string::npos);

  // Fixed, then replayed from the CLI while the daemon runs: delivered without a restart.
  write_script(dir / "hook.sh", "cat > /dev/null\necho \"$HOOKD_EVENT_ID $HOOKD_ATTEMPT ok\" >> " +
                                    attempts.string() + "\n");
  const auto replayed = events(config, {"replay", "--dead"});
  CHECK(replayed.exit_code == 0);
  CHECK(replayed.out == "1 delivery made due\n");
  REQUIRE(hookd::it::eventually([&] { return lines_of(attempts).size() == 4; }));
  CHECK(lines_of(attempts).back() == "it-1 4 ok");
  REQUIRE(hookd::it::eventually([&] {
    const auto r = events(config, {"stats", "--json"});
    if (r.exit_code != 0) return false;
    const auto j = hookd::json::parse(r.out);
    return j["total"]["done"] == 2 && j["total"]["dead"] == 0 && j["total"]["pending"] == 0;
  }));
  // The duplicate ran nothing: one line in the audit file.
  CHECK(lines_of(dir / "events.jsonl").size() == 1);

  hookd.process().signal(SIGTERM);
  CHECK(hookd.process().wait_exit(30s) == 0);
}

TEST_CASE("events: usage errors and a missing spool", "[delivery]") {
  hookd::test::temp_dir dir;
  const auto config = dir.write("hookd.yaml", config_with_exec(dir));
  auto r = hookd::test::run_command(HOOKD_BINARY, {"events", "list"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("missing --config FILE") != std::string::npos);
  r = hookd::test::run_command(HOOKD_BINARY, {"events", "replay", "--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("usage: hookd events replay") == 0);
  r = events(config, {"stats"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no such file") != std::string::npos);
}

TEST_CASE("events: an operator without the service's secrets or write access can look",
          "[delivery]") {
  namespace fs = std::filesystem;
  hookd::it::running_hookd h;
  hookd::test::raw_connection c(h.port());
  REQUIRE(c.send(
      hookd::it::altoviz_request(R"({"id":"op-1","type":"CustomerCreated","data":{"id":370}})")));
  const auto answer = c.read_response();
  REQUIRE(answer);
  REQUIRE(answer->status == 200);  // committed: visible to any reader

  // The operator's config: the daemon's, but the secret comes from a variable this shell lacks.
  std::string text = hookd::it::make_config(h.dir);
  const std::string literal = "\"" + hookd::it::altoviz_secret + "\"";
  text.replace(text.find(literal), literal.size(), "{env: HOOKD_IT_NOT_SET_8c1f}");
  const auto config = h.dir.write("operator.yaml", text);
  ::unsetenv("HOOKD_IT_NOT_SET_8c1f");

  auto r = events(config, {"list", "--json"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("\"op-1\"") != std::string::npos);

  // Everything but the credentials is still validated.
  std::string broken = text;
  broken.replace(broken.find("  threads: 2"), 12, "  thread: 2");
  r = events(h.dir.write("broken.yaml", broken), {"stats"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("broken.yaml: server.thread: unknown key") != std::string::npos);

  // A user who may only read the spool (and its -wal and -shm, which the running daemon keeps)
  // lists, shows and counts; a replay, which writes, is refused.
  if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv")) {
    WARN("not root or no setpriv: the read-only user case is skipped");
    return;
  }
  const auto readable = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                        fs::perms::others_read;
  fs::permissions(h.dir.path(), readable | fs::perms::owner_exec | fs::perms::group_exec |
                                    fs::perms::others_exec);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const fs::path file = (h.dir / "hookd.db").string() + suffix;
    REQUIRE(fs::exists(file));
    fs::permissions(file, readable);
  }
  fs::permissions(config, readable);
  auto as_nobody = [&](std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--reuid=65534", "--regid=65534", "--clear-groups", HOOKD_BINARY, "events"});
    args.push_back("-c");
    args.push_back(config.string());
    return hookd::test::run_command("/usr/bin/setpriv", args);
  };
  for (const auto& action : std::vector<std::vector<std::string>>{
           {"list", "--json"}, {"show", "op-1"}, {"stats", "--json"}}) {
    CAPTURE(action.front());
    r = as_nobody(action);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
  }
  CHECK(as_nobody({"list"}).out.find("op-1") != std::string::npos);
  r = as_nobody({"replay", "op-1"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("readonly") != std::string::npos);

  // With the daemon stopped SQLite has no -wal and -shm to read through and may not create
  // them: the reader is told why rather than only "readonly".
  hookd::it::stop_cleanly(h.hookd);
  REQUIRE_FALSE(fs::exists((h.dir / "hookd.db").string() + "-shm"));
  r = as_nobody({"stats"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("-wal and -shm files, which exist while hookd runs") != std::string::npos);
}
