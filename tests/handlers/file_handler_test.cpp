#include <csignal>
#include <filesystem>
#include <sstream>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/handlers/handler.hpp>

#include "sample_event.hpp"
#include "temp_dir.hpp"

using hookd::config::file_handler;
using hookd::config::handler_spec;
using hookd::handlers::delivery;
using hookd::handlers::make_handler;

namespace {

handler_spec file_spec(const std::filesystem::path& path, bool fsync = false) {
  return handler_spec{"audit", file_handler{path.string(), fsync}, {}};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("file handler appends the cloudevent text and a newline per event", "[file]") {
  hookd::test::temp_dir dir;
  const auto path = dir / "var/sub/events.jsonl";  // parent directories do not exist yet
  const auto ev = hookd::test::sample_event();
  const auto h = make_handler(file_spec(path));
  CHECK(h->name() == "audit");

  REQUIRE(h->deliver(delivery{ev, R"({"id":"1"})", 1}).ok);
  REQUIRE(h->deliver(delivery{ev, R"({"id":"2"})", 1}).ok);
  CHECK(hookd::test::read_file(path) == "{\"id\":\"1\"}\n{\"id\":\"2\"}\n");
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
         std::filesystem::perms::group_read));
}

TEST_CASE("file handler appends to an existing file, with fsync too", "[file]") {
  hookd::test::temp_dir dir;
  const auto path = dir.write("events.jsonl", "earlier\n");
  const auto ev = hookd::test::sample_event();
  const auto h = make_handler(file_spec(path, true));
  REQUIRE(h->deliver(delivery{ev, "later", 1}).ok);
  CHECK(hookd::test::read_file(path) == "earlier\nlater\n");
}

TEST_CASE("file handler: concurrent deliveries produce whole lines", "[file]") {
  hookd::test::temp_dir dir;
  const auto path = dir / "events.jsonl";
  const auto h = make_handler(file_spec(path));
  const auto ev = hookd::test::sample_event();
  constexpr int threads = 4;
  constexpr int per_thread = 300;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      // Long lines (well over a pipe buffer page) make interleaving visible if it happened.
      const std::string line =
          std::to_string(t) + ":" + std::string(9000, static_cast<char>('a' + t));
      for (int i = 0; i < per_thread; ++i) {
        if (!h->deliver(delivery{ev, line, 1}).ok) return;
      }
    });
  }
  for (auto& th : pool)
    th.join();
  const auto lines = lines_of(hookd::test::read_file(path));
  REQUIRE(lines.size() == threads * per_thread);
  std::vector<int> counts(threads, 0);
  for (const auto& line : lines) {
    REQUIRE(line.size() == 9002);
    const int t = line[0] - '0';
    REQUIRE(t >= 0);
    REQUIRE(t < threads);
    CHECK(line == std::to_string(t) + ":" + std::string(9000, static_cast<char>('a' + t)));
    ++counts[static_cast<std::size_t>(t)];
  }
  for (const int c : counts)
    CHECK(c == per_thread);
}

TEST_CASE("file handler reopen() after a rename writes to the new file (logrotate)", "[file]") {
  hookd::test::temp_dir dir;
  const auto path = dir / "events.jsonl";
  const auto rotated = dir / "events.jsonl.1";
  const auto ev = hookd::test::sample_event();
  const auto h = make_handler(file_spec(path));
  REQUIRE(h->deliver(delivery{ev, "before", 1}).ok);
  std::filesystem::rename(path, rotated);
  REQUIRE(h->deliver(delivery{ev, "still old", 1}).ok);  // the descriptor follows the rename
  h->reopen();
  REQUIRE(h->deliver(delivery{ev, "after", 1}).ok);
  CHECK(hookd::test::read_file(rotated) == "before\nstill old\n");
  CHECK(hookd::test::read_file(path) == "after\n");
}

TEST_CASE("file handler that cannot create its file fails at construction", "[file]") {
  hookd::test::temp_dir dir;
  const auto blocker = dir.write("not-a-dir", "x");
  try {
    (void)make_handler(file_spec(blocker / "events.jsonl"));
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::StartsWith("path: cannot create directory "));
    CHECK_THAT(what, Catch::Contains((blocker / "events.jsonl").string()));
    CHECK_THAT(what, Catch::Contains("Not a directory"));
  }
}

TEST_CASE("file handler in a read-only directory fails at construction", "[file]") {
  if (::geteuid() == 0) {
    WARN("running as root: directory permissions do not apply, case skipped");
    return;
  }
  hookd::test::temp_dir dir;
  std::filesystem::create_directory(dir / "ro");
  std::filesystem::permissions(
      dir / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  CHECK_THROWS_WITH(make_handler(file_spec(dir / "ro/events.jsonl")),
                    Catch::Contains("Permission denied"));
}

TEST_CASE("file handler write errors are failure results with the OS error", "[file]") {
  // /dev/full accepts the open and fails every write with ENOSPC: a real full disk.
  const auto h = make_handler(file_spec("/dev/full"));
  const auto ev = hookd::test::sample_event();
  const auto r = h->deliver(delivery{ev, "line", 1});
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("/dev/full") && Catch::Contains("No space left on device"));
}

TEST_CASE("file handler: a line cut short by a full disk is truncated away", "[file]") {
  hookd::test::temp_dir dir;
  const auto path = dir.write("events.jsonl", "{\"id\":\"0\"}\n");
  const auto ev = hookd::test::sample_event();
  const auto h = make_handler(file_spec(path));
  const std::string line(100, 'x');

  // RLIMIT_FSIZE makes the disk "full" 10 bytes past the current end: the first write() stores
  // 10 bytes and returns short, the next fails with EFBIG, as a filling disk does with ENOSPC.
  const auto before = std::filesystem::file_size(path);
  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a core dump
  struct rlimit limited = saved;
  limited.rlim_cur = before + 10;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  const auto failed = h->deliver(delivery{ev, line, 1});
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
  std::signal(SIGXFSZ, old_handler);

  CHECK_FALSE(failed.ok);
  CHECK_THAT(failed.error, Catch::Contains("File too large"));
  CHECK(std::filesystem::file_size(path) == before);  // no partial line left behind

  // The retry appends one whole line after the last whole one.
  REQUIRE(h->deliver(delivery{ev, line, 2}).ok);
  CHECK(hookd::test::read_file(path) == "{\"id\":\"0\"}\n" + line + "\n");
}

TEST_CASE("check_handler tests a file handler's path without creating anything", "[file]") {
  using hookd::handlers::check_handler;
  hookd::test::temp_dir dir;

  // Missing directories that run would create: fine, and still missing afterwards.
  CHECK_NOTHROW(check_handler(file_spec(dir / "newdir/sub/out.jsonl")));
  CHECK_FALSE(std::filesystem::exists(dir / "newdir"));
  CHECK_NOTHROW(check_handler(file_spec(dir / "out.jsonl")));
  CHECK_FALSE(std::filesystem::exists(dir / "out.jsonl"));

  // An existing file is left as it is.
  const auto existing = dir.write("existing.jsonl", "line\n");
  CHECK_NOTHROW(check_handler(file_spec(existing)));
  CHECK(hookd::test::read_file(existing) == "line\n");

  // The same problems as make_handler, in the same words.
  const auto blocker = dir.write("not-a-dir", "x");
  CHECK_THROWS_WITH(
      check_handler(file_spec(blocker / "sub/events.jsonl")),
      Catch::StartsWith("path: cannot create directory ") && Catch::Contains("Not a directory"));
  CHECK_THROWS_WITH(check_handler(file_spec(dir.path())),
                    Catch::StartsWith("path: cannot open ") && Catch::Contains("Is a directory"));
  CHECK_THROWS_WITH(check_handler(file_spec("")), Catch::Equals("path: is empty"));
}

TEST_CASE("file handler with an empty path is refused", "[file]") {
  CHECK_THROWS_WITH(make_handler(file_spec("")), Catch::Equals("path: is empty"));
}
