#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

/// Thin RAII wrappers over the SQLite C API, used by the spool only.
///
/// Nothing here throws on the data path: step() and exec() return SQLite result codes, and the
/// caller decides. Only connection::open() and exec_or_throw() (start-up) throw sqlite::error.
/// A connection and its statements belong to one thread at a time (the spool guards each
/// connection with a mutex or gives it to one thread); SQLite is built thread-safe, but a
/// statement must not be stepped from two threads at once.
namespace hookd::spool::sqlite {

/// A failure at start-up: the message names the file and carries SQLite's own text.
class error : public std::runtime_error {
 public:
  error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Process-wide settings (SQLite's memory statistics off), made once. Must come before any
/// other call into SQLite, which initializes it (sqlite3_vfs_find does): connection::open and
/// the spool's VFS registration call it first.
void configure() noexcept;

/// Text to bind without a copy (SQLITE_STATIC), for bind_all: the viewed bytes must stay alive
/// and unchanged until the statement is reset (a statement_use's scope).
struct unowned {
  std::string_view text;
};

/// A prepared statement. Owns its sqlite3_stmt (finalized on destruction).
class statement {
 public:
  statement() noexcept = default;
  explicit statement(sqlite3_stmt* s) noexcept : stmt_(s) {}
  ~statement();
  statement(statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  statement& operator=(statement&& other) noexcept;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  sqlite3_stmt* get() const noexcept { return stmt_; }
  explicit operator bool() const noexcept { return stmt_ != nullptr; }

  /// Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT), but `unowned`.
  void bind(int index, std::int64_t value) noexcept;
  /// Binds text without copying it (SQLITE_STATIC): it must stay alive and unchanged until the
  /// statement is reset (a statement_use's scope). For values on hot paths.
  void bind(int index, unowned value) noexcept;
  void bind(int index, std::string_view value) noexcept;
  void bind(int index, const std::string& value) noexcept { bind(index, std::string_view(value)); }
  void bind(int index, const char* value) noexcept { bind(index, std::string_view(value)); }
  void bind(int index, const std::optional<std::string>& value) noexcept;
  void bind(int index, std::nullopt_t) noexcept;
  template <class... Args>
  void bind_all(const Args&... args) noexcept {
    int i = 1;
    (bind(i++, args), ...);
  }

  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() noexcept;
  /// Back to the start, bindings cleared, so a cached statement is ready for its next use.
  void reset() noexcept;

  std::int64_t int64(int column) const noexcept;
  std::string text(int column) const;
  bool is_null(int column) const noexcept;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

/// Resets a cached statement when the scope ends, whatever path leaves it.
class statement_use {
 public:
  explicit statement_use(statement* s) noexcept : stmt_(s) {}
  ~statement_use() {
    if (stmt_ != nullptr) stmt_->reset();
  }
  statement_use(const statement_use&) = delete;
  statement_use& operator=(const statement_use&) = delete;
  statement* operator->() const noexcept { return stmt_; }
  explicit operator bool() const noexcept { return stmt_ != nullptr; }

 private:
  statement* stmt_;
};

/// One database connection (sqlite3*), closed on destruction, with its prepared statements
/// cached by SQL text (prepared once with SQLITE_PREPARE_PERSISTENT, reset after each use).
class connection {
 public:
  /// Opens `file` with sqlite3_open_v2 `flags` (SQLITE_OPEN_*) through the VFS named `vfs`
  /// (nullptr: the default). Throws sqlite::error naming the file and SQLite's message.
  static connection open(const std::filesystem::path& file, int flags, const char* vfs = nullptr);

  connection() noexcept = default;
  ~connection();
  connection(connection&& other) noexcept;
  connection& operator=(connection&& other) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  sqlite3* get() const noexcept { return db_; }
  const std::filesystem::path& file() const noexcept { return file_; }

  /// Runs one or more statements without results. Returns the SQLite result code.
  int exec(const char* sql) noexcept;
  /// Runs one statement without results (BEGIN, COMMIT, SAVEPOINT, ...) from the cache:
  /// exec() prepares its SQL again at every call, which costs more than running it. Returns
  /// SQLITE_OK or the failing result code.
  int run(const char* sql) noexcept;
  /// Start-up only: throws sqlite::error("<file>: <what>: <sqlite message>") on failure.
  void exec_or_throw(const char* sql, std::string_view what);
  /// The cached statement for `sql`, prepared on first use; nullptr when preparing fails
  /// (errmsg() says why).
  statement* cached(const char* sql) noexcept;
  /// Prepares a statement that is not cached (for SQL built at run time).
  statement prepare(const std::string& sql) noexcept;

  std::string errmsg() const;
  int extended_errcode() const noexcept;
  std::int64_t changes() const noexcept;
  std::int64_t last_insert_rowid() const noexcept;
  /// True outside a transaction.
  bool autocommit() const noexcept;
  /// Runs a query whose first column of the first row is an integer (e.g. `PRAGMA user_version`).
  std::optional<std::int64_t> query_int(const char* sql) noexcept;

 private:
  void close() noexcept;

  sqlite3* db_ = nullptr;
  std::filesystem::path file_;
  // unique_ptr so the addresses handed out by cached() stay valid when the map rehashes.
  /// Hashes SQL text, so a lookup by const char* needs no std::string (an allocation per
  /// statement run, as SQL is longer than the small-string buffer).
  struct sql_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept {
      return std::hash<std::string_view>{}(sql);
    }
  };
  std::unordered_map<std::string, std::unique_ptr<statement>, sql_hash, std::equal_to<>> cache_;
};

/// BEGIN … COMMIT with rollback on every other path (destruction without commit()).
class transaction {
 public:
  /// `begin` is e.g. "BEGIN IMMEDIATE" (take the write lock now, waiting up to busy_timeout).
  transaction(connection& c, const char* begin) noexcept;
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  /// The result of BEGIN (SQLITE_OK when the transaction is open).
  int begin_rc() const noexcept { return begin_rc_; }
  /// SQLITE_OK when committed; on failure the transaction is rolled back by the destructor.
  int commit() noexcept;

 private:
  connection& conn_;
  int begin_rc_;
  bool done_ = false;
};

/// True for result codes that say the environment refuses to write (disk full, read-only,
/// I/O error, locked beyond the busy timeout, file gone, out of memory): the whole transaction
/// fails, and a later one may succeed once the cause goes away.
bool is_environmental(int rc) noexcept;

}  // namespace hookd::spool::sqlite
