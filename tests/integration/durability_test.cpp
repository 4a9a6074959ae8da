// The spool's promises through the real binary: a duplicate POST runs its handler once (also
// across a restart); a full filesystem answers 503, loses nothing acknowledged and recovers by
// itself; a read-only spool directory stops hookd at start; a full backlog answers 503.
//
// The filesystem tests mount a small tmpfs (root only). Without the permission they WARN and
// return: Catch2 v2 has no SKIP.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "fixture.hpp"
#include "tmpfs_mount.hpp"

using namespace std::chrono_literals;
using namespace hookd;
using namespace hookd::it;

namespace {

/// How many times each event id appears in the file handler's output.
std::map<std::string, int> delivered_ids(const std::filesystem::path& file) {
  std::map<std::string, int> out;
  std::istringstream in(test::read_file(file));
  for (std::string line; std::getline(in, line);) {
    // A line being written right now may be incomplete: it is counted on the next poll.
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("id")) ++out[j["id"].get<std::string>()];
  }
  return out;
}

std::string event_body(const std::string& id) {
  return R"({"id":")" + id + R"(","type":"CustomerCreated","data":{"id":370}})";
}

std::optional<test::http_response> post_event(std::uint16_t port, const std::string& id) {
  return test::send_request(port, altoviz_request(event_body(id)), 30s);
}

/// The fixture's config with the spool somewhere else and extra top-level keys appended.
std::string config_text(const test::temp_dir& dir, const std::filesystem::path& spool,
                        const std::string& extra = {}) {
  std::string text = make_config(dir);
  const std::string fixed = (dir / "hookd.db").string();
  text.replace(text.find(fixed), fixed.size(), spool.string());
  return text + extra;
}

test::command_result hookd_cli(const std::filesystem::path& config, std::vector<std::string> args) {
  args.push_back("-c");
  args.push_back(config.string());
  return test::run_command(HOOKD_BINARY, args);
}

/// `hookd events stats --json`'s totals, or nullopt when the command fails.
std::optional<json> stats_total(const std::filesystem::path& config) {
  const auto r = hookd_cli(config, {"events", "stats", "--json"});
  if (r.exit_code != 0) return std::nullopt;
  const json j = json::parse(r.out, nullptr, false);
  if (!j.is_object() || !j.contains("total")) return std::nullopt;
  return j["total"];
}

/// A SQLite connection of the test's own (never hookd's code), closed on destruction.
class test_db {
 public:
  /// `immutable`: read a file on a read-only filesystem, where SQLite cannot create the WAL
  /// index (-shm) it needs otherwise.
  explicit test_db(const std::filesystem::path& file, bool immutable = false) {
    const std::string name = immutable ? "file:" + file.string() + "?immutable=1" : file.string();
    const int flags = immutable ? SQLITE_OPEN_READONLY | SQLITE_OPEN_URI : SQLITE_OPEN_READWRITE;
    if (sqlite3_open_v2(name.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close_v2(db_);
      throw std::runtime_error(file.string() + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
  }
  ~test_db() { sqlite3_close_v2(db_); }
  test_db(const test_db&) = delete;
  test_db& operator=(const test_db&) = delete;

  /// Runs `sql`; "" on success, else SQLite's message.
  std::string exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return {};
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return msg.empty() ? "error" : msg;
  }

  /// Every row's first column, as text.
  std::vector<std::string> column(const char* sql) {
    std::vector<std::string> out;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db_));
    }
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::vector<std::string> integrity_check(const std::filesystem::path& spool,
                                         bool immutable = false) {
  test_db db(spool, immutable);
  return db.column("PRAGMA integrity_check");
}

/// An fd closed on destruction.
struct file_descriptor {
  explicit file_descriptor(int f) : fd(f) {}
  ~file_descriptor() {
    if (fd >= 0) ::close(fd);
  }
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  int fd;
};

/// Writes `file` until the filesystem says ENOSPC (large chunks, then down to single bytes so
/// not even a partial page is left). Returns the errno that stopped it.
int fill_filesystem(const std::filesystem::path& file) {
  file_descriptor f(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (f.fd < 0) return errno;
  const std::string chunk(64 * 1024, 'x');
  int err = 0;
  for (std::size_t size = chunk.size(); size >= 1; size /= 2) {
    for (;;) {
      const ssize_t n = ::write(f.fd, chunk.data(), size);
      if (n > 0) continue;
      err = n < 0 ? errno : ENOSPC;
      if (err == EINTR) continue;
      break;
    }
    if (err != ENOSPC) return err;
  }
  ::fsync(f.fd);
  return err;
}

}  // namespace

TEST_CASE("a duplicate POST is answered duplicate and the handler runs once", "[durability]") {
  test::temp_dir dir;
  const auto config = dir.write("hookd.yaml", make_config(dir));
  const auto events = dir / "events.jsonl";
  const std::string id = "dup-1";

  auto delivered_once_and_settled = [&] {
    // Settled: nothing pending in the spool, so no late delivery can add a line.
    const auto total = stats_total(config);
    return total && (*total)["pending"] == 0 && (*total)["done"] == 1 &&
           delivered_ids(events)[id] == 1;
  };

  {
    test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
    auto r = post_event(h.port(), id);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body) == json{{"status", "accepted"}, {"id", id}});

    r = post_event(h.port(), id);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body) == json{{"status", "duplicate"}, {"id", id}});

    REQUIRE(eventually(delivered_once_and_settled));
    // A short settle: a second delivery, were one created, would show by now.
    std::this_thread::sleep_for(500ms);
    CHECK(delivered_once_and_settled());
    stop_cleanly(h);
  }

  // The dedup key is on disk: a restarted hookd on the same spool still knows the event.
  {
    test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log.2");
    const auto r = post_event(h.port(), id);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body) == json{{"status", "duplicate"}, {"id", id}});
    std::this_thread::sleep_for(500ms);
    CHECK(delivered_once_and_settled());
    stop_cleanly(h);
  }
  CHECK(delivered_ids(events) == std::map<std::string, int>{{id, 1}});
}

TEST_CASE("the spool on a full filesystem answers 503 and recovers", "[durability]") {
  test::temp_dir dir;
  std::string why;
  auto mnt = test::tmpfs_mount::make(dir / "small", "4m", false, why);
  if (!mnt) {
    WARN("not run: " << why << " (needs root or CAP_SYS_ADMIN)");
    return;
  }
  const auto spool = dir / "small" / "hookd.db";
  const auto filler = dir / "small" / "filler";
  // The handler's output and hookd's log stay off the small filesystem.
  const auto config = dir.write("hookd.yaml", config_text(dir, spool));
  const auto events = dir / "events.jsonl";
  std::vector<std::string> acknowledged;
  int next = 0;
  auto post_next = [&](std::uint16_t port) {
    const std::string id = "full-" + std::to_string(++next);
    auto r = post_event(port, id);
    if (r && r->status == 200) acknowledged.push_back(id);
    return r;
  };

  {
    test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
    INFO(h.log());
    for (int i = 0; i < 5; ++i) {
      const auto r = post_next(h.port());
      REQUIRE(r);
      CHECK(r->status == 200);
    }

    REQUIRE(fill_filesystem(filler) == ENOSPC);

    std::optional<test::http_response> refused;
    for (int i = 0; i < 50 && !refused; ++i) {
      auto r = post_next(h.port());
      REQUIRE(r);
      if (r->status == 503) {
        refused = std::move(r);
      } else {
        CHECK(r->status == 200);  // a commit that still found room
      }
    }
    REQUIRE(refused);
    CHECK(refused->header("Retry-After").has_value());
    CHECK(refused->body.find("spool unavailable") != std::string::npos);
    // Refused because the commit failed on the full disk (SQLite's SQLITE_FULL message).
    CHECK(
        eventually([&] { return h.log().find("database or disk is full") != std::string::npos; }));

    // Still alive and answering.
    CHECK(h.process().running());
    auto health = test::send_request(h.port(), test::make_request("GET", "/healthz"));
    REQUIRE(health);
    CHECK(health->status == 200);

    // Space returns: the spool commits again without a restart.
    std::filesystem::remove(filler);
    const auto before = acknowledged.size();
    CHECK(eventually(
        [&] {
          const auto r = post_next(h.port());
          return r && r->status == 200;
        },
        60s));
    CHECK(acknowledged.size() > before);
    CHECK(h.log().find("commits again") != std::string::npos);

    // Every acknowledged event is delivered (at least once: a settle may have failed on the
    // full disk, and the delivery runs again).
    const bool all_delivered = eventually(
        [&] {
          const auto got = delivered_ids(events);
          return std::all_of(acknowledged.begin(), acknowledged.end(),
                             [&](const std::string& id) { return got.count(id) == 1; });
        },
        60s);
    CHECK(all_delivered);
    REQUIRE(eventually([&] {
      const auto total = stats_total(config);
      return total && (*total)["pending"] == 0;
    }));
    stop_cleanly(h);
  }

  const auto got = delivered_ids(events);
  int repeated = 0;
  for (const auto& id : acknowledged) {
    INFO(id);
    CHECK(got.count(id) == 1);
    if (got.count(id) == 1 && got.at(id) > 1) ++repeated;
  }
  // At-least-once: a settle that failed on the full disk runs its delivery again.
  WARN(acknowledged.size() << " events acknowledged, " << repeated << " delivered more than once");
  CHECK(integrity_check(spool) == std::vector<std::string>{"ok"});
}

TEST_CASE("the spool in a read-only directory stops hookd at start", "[durability]") {
  test::temp_dir dir;
  const auto ro = dir / "ro";
  std::optional<test::tmpfs_mount> mnt;
  std::string why;
  bool chmodded = false;
  if (::geteuid() == 0) {
    // Root writes through any mode bits: only a read-only filesystem stops it.
    mnt = test::tmpfs_mount::make(ro, "1m", true, why);
    if (!mnt) {
      WARN("not run: " << why);
      return;
    }
  } else {
    std::filesystem::create_directories(ro);
    std::filesystem::permissions(ro, static_cast<std::filesystem::perms>(0555));
    chmodded = true;
  }

  auto expect_refused = [&](const std::filesystem::path& spool) {
    const auto config = dir.write("hookd.yaml", config_text(dir, spool));
    const auto r = test::run_command(HOOKD_BINARY, {"run", "-c", config.string()}, 30s);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(spool.string()) != std::string::npos);
    CHECK(r.err.find("spool.path") != std::string::npos);
  };

  SECTION("the spool file in a read-only directory") {
    expect_refused(ro / "hookd.db");
  }
  SECTION("its directory to be created under a read-only one") {
    expect_refused(ro / "var" / "hookd.db");
  }
  SECTION("an existing spool on a filesystem remounted read-only") {
    if (!mnt) return;  // not root: covered by the sections above
    mnt.reset();
    auto rw = test::tmpfs_mount::make(ro, "1m", false, why);
    REQUIRE(rw);
    const auto spool = ro / "hookd.db";
    const auto config = dir.write("hookd.yaml", config_text(dir, spool));
    {
      test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
      const auto r = post_event(h.port(), "ro-1");
      REQUIRE(r);
      CHECK(r->status == 200);
      stop_cleanly(h);
    }
    REQUIRE(rw->remount_read_only());
    expect_refused(spool);
    CHECK(integrity_check(spool, true) == std::vector<std::string>{"ok"});
  }
  // Writable again, so the temporary directory can be removed.
  if (chmodded) std::filesystem::permissions(ro, std::filesystem::perms::owner_all);
}

TEST_CASE("a full spool backlog answers 503", "[durability]") {
  test::temp_dir dir;
  const auto spool = dir / "hookd.db";
  std::string text = config_text(dir, spool);
  // Room for one append waiting for the writer.
  const std::string path_line = "  path: \"" + spool.string() + "\"\n";
  text.insert(text.find(path_line) + path_line.size(), "  max_backlog: 1\n");
  const auto config = dir.write("hookd.yaml", text);
  const auto events = dir / "events.jsonl";
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
  INFO(h.log());

  auto r = post_event(h.port(), "backlog-0");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  REQUIRE(eventually([&] { return delivered_ids(events).count("backlog-0") == 1; }));

  // The test takes SQLite's write lock on the spool: hookd's writer waits for it (up to its
  // busy timeout, 5 s), holding at most one batch; the backlog holds one more; every further
  // append must be refused at once. The lock is released as soon as two refusals are seen,
  // long before that timeout, so a refusal here comes from the backlog bound, not the lock.
  constexpr int burst = 4;
  std::vector<std::optional<test::http_response>> answers(burst);
  std::atomic<int> refused{0};
  {
    test_db db(spool);
    REQUIRE(db.exec("BEGIN IMMEDIATE") == "");
    std::vector<std::thread> clients;
    for (int i = 0; i < burst; ++i) {
      clients.emplace_back([&, i] {
        answers[static_cast<std::size_t>(i)] =
            post_event(h.port(), "backlog-" + std::to_string(i + 1));
        if (answers[static_cast<std::size_t>(i)] &&
            answers[static_cast<std::size_t>(i)]->status == 503)
          ++refused;
      });
    }
    const bool two_refused = eventually([&] { return refused.load() >= burst - 2; });
    CHECK(db.exec("ROLLBACK") == "");
    for (auto& c : clients)
      c.join();
    CHECK(two_refused);
  }

  std::vector<std::string> accepted{"backlog-0"};
  std::vector<std::string> refused_ids;
  for (int i = 0; i < burst; ++i) {
    const std::string id = "backlog-" + std::to_string(i + 1);
    const auto& a = answers[static_cast<std::size_t>(i)];
    INFO(id);
    REQUIRE(a);
    if (a->status == 503) {
      refused_ids.push_back(id);
      CHECK(a->header("Retry-After").has_value());
      CHECK(a->body.find("spool unavailable") != std::string::npos);
    } else {
      CHECK(a->status == 200);
      accepted.push_back(id);
    }
  }
  CHECK(refused_ids.size() >= static_cast<std::size_t>(burst - 2));
  // Refused by the bound, not by a failed commit (the lock was never held that long).
  CHECK(h.log().find("cannot commit") == std::string::npos);

  // Nothing is lost silently: what was acknowledged is delivered; what was refused was not
  // stored, and is accepted when the provider retries.
  REQUIRE(eventually([&] {
    const auto total = stats_total(config);
    return total && (*total)["pending"] == 0;
  }));
  auto got = delivered_ids(events);
  for (const auto& id : accepted)
    CHECK(got.count(id) == 1);
  for (const auto& id : refused_ids)
    CHECK(got.count(id) == 0);
  for (const auto& id : refused_ids) {
    r = post_event(h.port(), id);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body) == json{{"status", "accepted"}, {"id", id}});
  }
  REQUIRE(eventually([&] { return delivered_ids(events).size() == burst + 1; }));
  stop_cleanly(h);
}
