#include <mutex>
#include <utility>

#include <sqlite3.h>

#include <hookd/spool/sqlite.hpp>

namespace hookd::spool::sqlite {

statement::~statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

statement& statement::operator=(statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

void statement::bind(int index, std::int64_t value) noexcept {
  sqlite3_bind_int64(stmt_, index, value);
}

void statement::bind(int index, std::string_view value) noexcept {
  // A null pointer would bind SQL NULL: an empty view (std::string_view{}) is the empty text.
  const char* text = value.data() != nullptr ? value.data() : "";
  sqlite3_bind_text64(stmt_, index, text, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void statement::bind(int index, unowned value) noexcept {
  const char* text = value.text.data() != nullptr ? value.text.data() : "";
  sqlite3_bind_text64(stmt_, index, text, value.text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

void statement::bind(int index, const std::optional<std::string>& value) noexcept {
  if (value) {
    bind(index, std::string_view(*value));
  } else {
    sqlite3_bind_null(stmt_, index);
  }
}

void statement::bind(int index, std::nullopt_t) noexcept {
  sqlite3_bind_null(stmt_, index);
}

int statement::step() noexcept {
  return sqlite3_step(stmt_);
}

void statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t statement::int64(int column) const noexcept {
  return sqlite3_column_int64(stmt_, column);
}

std::string statement::text(int column) const {
  // The bytes as stored (the database is UTF-8): sqlite3_column_text would first copy the value
  // into a buffer of its own to add a NUL terminator, an allocation per column read.
  const auto* p = sqlite3_column_blob(stmt_, column);  // then the size, as SQLite advises
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

bool statement::is_null(int column) const noexcept {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// SQLite counts every allocation under a global mutex by default (SQLITE_DEFAULT_MEMSTATUS);
// hookd never reads those counters (sqlite3_memory_used and friends), and the lock and unlock
// around each malloc and free, with the counting, were about 10 % of the writer's instructions
// per event. sqlite3_config only works before SQLite initializes: if something else in the
// process initialized it first, this fails harmlessly and the counters stay on.
void configure() noexcept {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

connection connection::open(const std::filesystem::path& file, int flags, const char* vfs) {
  configure();
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags, vfs);
  connection c;
  c.db_ = db;  // closed by c's destructor, even when opening failed
  c.file_ = file;
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    throw error(rc, "spool " + file.string() + ": cannot open: " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  return c;
}

connection::~connection() {
  close();
}

void connection::close() noexcept {
  cache_.clear();  // statements must be finalized before the connection closes
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

connection::connection(connection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      file_(std::move(other.file_)),
      cache_(std::move(other.cache_)) {}

connection& connection::operator=(connection&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    file_ = std::move(other.file_);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

int connection::exec(const char* sql) noexcept {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
}

int connection::run(const char* sql) noexcept {
  statement* s = cached(sql);
  if (s == nullptr) return extended_errcode();
  const int rc = s->step();
  s->reset();
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

void connection::exec_or_throw(const char* sql, std::string_view what) {
  const int rc = exec(sql);
  if (rc != SQLITE_OK) {
    throw error(rc, "spool " + file_.string() + ": " + std::string(what) + ": " + errmsg());
  }
}

statement* connection::cached(const char* sql) noexcept {
  try {
    auto it = cache_.find(std::string_view(sql));
    if (it != cache_.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
      if (raw != nullptr) sqlite3_finalize(raw);
      return nullptr;
    }
    auto owned = std::make_unique<statement>(raw);
    auto* p = owned.get();
    cache_.emplace(sql, std::move(owned));
    return p;
  } catch (...) {  // bad_alloc: report as a failure to prepare
    return nullptr;
  }
}

statement connection::prepare(const std::string& sql) noexcept {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    if (raw != nullptr) sqlite3_finalize(raw);
    return statement{};
  }
  return statement{raw};
}

std::string connection::errmsg() const {
  return db_ != nullptr ? sqlite3_errmsg(db_) : "no connection";
}

int connection::extended_errcode() const noexcept {
  return db_ != nullptr ? sqlite3_extended_errcode(db_) : SQLITE_MISUSE;
}

std::int64_t connection::changes() const noexcept {
  return sqlite3_changes64(db_);
}

std::int64_t connection::last_insert_rowid() const noexcept {
  return sqlite3_last_insert_rowid(db_);
}

bool connection::autocommit() const noexcept {
  return sqlite3_get_autocommit(db_) != 0;
}

std::optional<std::int64_t> connection::query_int(const char* sql) noexcept {
  statement s = prepare(sql);
  if (!s || s.step() != SQLITE_ROW) return std::nullopt;
  return s.int64(0);
}

transaction::transaction(connection& c, const char* begin) noexcept
    : conn_(c), begin_rc_(SQLITE_OK) {
  const bool was_open = !c.autocommit();
  begin_rc_ = c.run(begin);
  // A BEGIN can fail after it opened the transaction (a progress handler interrupting it at its
  // last step): then the transaction is still this object's to roll back.
  done_ = begin_rc_ != SQLITE_OK && (was_open || c.autocommit());
}

transaction::~transaction() {
  // A failed COMMIT (or any failed statement) may already have rolled back; only roll back
  // what is still open.
  if (done_ || conn_.autocommit()) return;
  // The cached ROLLBACK counts its steps across runs, so a progress handler (cancel_reads)
  // can interrupt it too; a freshly prepared one runs three steps, below any handler's period.
  if (conn_.run("ROLLBACK") != SQLITE_OK && !conn_.autocommit()) conn_.exec("ROLLBACK");
}

int transaction::commit() noexcept {
  const int rc = conn_.run("COMMIT");
  if (rc == SQLITE_OK) done_ = true;
  return rc;
}

bool is_environmental(int rc) noexcept {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PERM:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

}  // namespace hookd::spool::sqlite
