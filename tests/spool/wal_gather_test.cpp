// The VFS that gathers the spool writer's WAL writes (src/spool/wal_gather.hpp), on real files.

#include "wal_gather.hpp"

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <hookd/spool/sqlite.hpp>

#include "temp_dir.hpp"

namespace {

namespace sqlite = hookd::spool::sqlite;
namespace wal_gather = hookd::spool::wal_gather;

sqlite::connection open_db(const std::filesystem::path& file) {
  auto c = sqlite::connection::open(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                    wal_gather::vfs_name());
  c.exec_or_throw("PRAGMA journal_mode = WAL", "wal");
  c.exec_or_throw("PRAGMA synchronous = FULL", "synchronous");
  return c;
}

/// Inserts `rows` rows of `size` random bytes in one transaction; SQLite's result code.
int insert(sqlite::connection& c, int rows, int size) {
  const std::string sql =
      "BEGIN IMMEDIATE; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT "
      "i + 1 FROM n WHERE i < " +
      std::to_string(rows) + ") INSERT INTO t(b) SELECT randomblob(" + std::to_string(size) +
      ") FROM n; COMMIT;";
  return c.exec(sql.c_str());
}

}  // namespace

TEST_CASE("gathered WAL writes: a commit's frames go out together, other connections read them",
          "[spool][wal]") {
  hookd::test::temp_dir dir;
  auto writer = open_db(dir / "g.db");
  writer.exec_or_throw("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)", "create");
  auto reader = open_db(dir / "g.db");

  const auto before = wal_gather::stats();
  {
    const wal_gather::gather_scope gather;
    REQUIRE(insert(writer, 20, 1000) == SQLITE_OK);  // ~10 pages: ~20 xWrite calls
  }
  const auto after = wal_gather::stats();
  const auto gathered = after.gathered_writes - before.gathered_writes;
  const auto flushes = after.flushes - before.flushes;
  CHECK(gathered >= 10);
  CHECK(flushes == 1);  // written out once, at the commit's xSync
  CHECK(reader.query_int("SELECT count(*) FROM t") == 20);
  CHECK(reader.query_int("SELECT sum(length(b)) FROM t") == 20 * 1000);

  // Outside a scope, nothing is gathered.
  REQUIRE(insert(writer, 5, 1000) == SQLITE_OK);
  CHECK(wal_gather::stats().gathered_writes == after.gathered_writes);
  CHECK(reader.query_int("SELECT count(*) FROM t") == 25);
}

TEST_CASE("gathered WAL writes: a commit of megabytes is written whole, and survives a reopen",
          "[spool][wal]") {
  // Longer than one xWrite of the default VFS may be (128 KiB) and than the gathering limit
  // (1 MiB): written in pieces, in order.
  hookd::test::temp_dir dir;
  const auto file = dir / "big.db";
  {
    auto writer = open_db(file);
    writer.exec_or_throw("PRAGMA wal_autocheckpoint = 0", "no checkpoint");  // all in the WAL
    writer.exec_or_throw("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)", "create");
    for (int round = 0; round < 3; ++round) {
      const wal_gather::gather_scope gather;
      REQUIRE(insert(writer, 600, 5000) == SQLITE_OK);  // ~3 MiB
    }
    auto reader = open_db(file);
    CHECK(reader.query_int("SELECT count(*) FROM t") == 1800);
    CHECK(reader.query_int("SELECT sum(length(b)) FROM t") == 1800 * 5000);
    CHECK(std::filesystem::file_size(dir / "big.db-wal") > 9'000'000);
  }
  // Opened again: the WAL is read back (and checkpointed) from the file alone.
  auto again = open_db(file);
  CHECK(again.query_int("SELECT count(*) FROM t") == 1800);
  sqlite::statement check = again.prepare("PRAGMA integrity_check");
  REQUIRE(check.step() == SQLITE_ROW);
  CHECK(check.text(0) == "ok");
}

TEST_CASE(
    "gathered WAL writes: what a rolled-back transaction gathered is out before another "
    "connection writes",
    "[spool][wal]") {
  // The rolled-back frames sit where the next commit's frames go. Were they still gathered when
  // the scope ended, the writer's next write would put them out over the frames another
  // connection committed there meanwhile.
  hookd::test::temp_dir dir;
  auto writer = open_db(dir / "r.db");
  writer.exec_or_throw("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)", "create");
  REQUIRE(insert(writer, 10, 1000) == SQLITE_OK);
  {
    const wal_gather::gather_scope gather;
    REQUIRE(writer.exec("BEGIN IMMEDIATE") == SQLITE_OK);
    // Enough to spill frames to the WAL before the end (a cache of 10 pages).
    REQUIRE(writer.exec("PRAGMA cache_size = 10") == SQLITE_OK);
    REQUIRE(writer.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE "
                        "i < 200) INSERT INTO t(b) SELECT randomblob(3000) FROM n") == SQLITE_OK);
    REQUIRE(writer.exec("ROLLBACK") == SQLITE_OK);
  }
  auto other = open_db(dir / "r.db");
  REQUIRE(insert(other, 20, 3000) == SQLITE_OK);  // its frames where the rolled-back ones were
  REQUIRE(insert(writer, 3, 1000) == SQLITE_OK);
  auto reader = open_db(dir / "r.db");
  CHECK(reader.query_int("SELECT count(*) FROM t") == 33);
  CHECK(reader.query_int("SELECT sum(length(b)) FROM t") == 13 * 1000 + 20 * 3000);
  sqlite::statement check = reader.prepare("PRAGMA integrity_check");
  REQUIRE(check.step() == SQLITE_ROW);
  CHECK(check.text(0) == "ok");
}
