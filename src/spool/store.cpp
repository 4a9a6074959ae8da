#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <sys/file.h>
#include <system_error>
#include <unistd.h>
#include <utility>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <hookd/core/glob.hpp>
#include <hookd/core/thread_name.hpp>
#include <hookd/core/wakeup_batch.hpp>

#include "store_impl.hpp"
#include "wal_gather.hpp"

namespace hookd::spool {

namespace {

constexpr std::size_t recent_batches = 64;
/// Batches an outcome goes with before it is given up (its claim then stays until the next
/// start, which delivers it again: at least once).
constexpr unsigned max_settle_tries = 5;

// Version 1. Times are integer milliseconds since the Unix epoch.
// - events: one row per accepted event; `seq` is the arrival order. Not unique on
//   (endpoint, event_id): dedup_keys is, and a key may expire while its event is still kept.
// - dedup_keys: kept for the dedup window even after the event is purged. (Since version 5 a
//   stored event is its own key and dedup_keys holds only purged events' keys: schema_v5.)
// - deliveries: one per (event, handler); `claim` is the claiming process's token (NULL: free);
//   `attempts` counts every attempt, `round_attempts` those since the last replay.
// - attempts: the history, one row per finished attempt.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE events(
  seq INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  cloudevent TEXT NOT NULL
);
CREATE INDEX events_by_event_id ON events(event_id);
CREATE INDEX events_by_received ON events(received_at);
CREATE TABLE dedup_keys(
  endpoint TEXT NOT NULL,
  event_id TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  UNIQUE(endpoint, event_id)
);
CREATE INDEX dedup_keys_by_age ON dedup_keys(first_seen);
CREATE TABLE deliveries(
  id INTEGER PRIMARY KEY,
  event_seq INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
  handler TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  round_attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  claim INTEGER,
  claimed_at INTEGER,
  updated_at INTEGER NOT NULL,
  UNIQUE(event_seq, handler)
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 'pending' AND claim IS NULL;
CREATE INDEX deliveries_by_state ON deliveries(state, handler);
CREATE INDEX deliveries_claimed ON deliveries(claim) WHERE claim IS NOT NULL;
CREATE TABLE attempts(
  delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(delivery_id, number)
) WITHOUT ROWID;
)sql";

// Version 2: the dispatcher's claim reads only deliveries it may take. Before it, a claim found
// the pending deliveries through deliveries_by_state (every pending row, sorted in a temp B-tree
// for each claim: O(backlog) per delivery, quadratic to drain a backlog, and all of it inside
// the write lock the writer's group commits wait for). deliveries_claimable holds exactly the
// claimable rows (pending, unclaimed), per handler in order of arrival, with the due time
// beside the id, so a claim walks the first rows of each handler's range and never touches the
// table for a row it does not take. Claimed, done and dead rows leave it.
// deliveries_by_state then served no query but the dead deliveries' replay, while every insert
// and every change of state paid for it: deliveries_dead keeps only the dead rows (few).
constexpr const char* schema_v2 = R"sql(
CREATE INDEX deliveries_claimable ON deliveries(handler, id, next_attempt_at)
  WHERE state = 'pending' AND claim IS NULL;
DROP INDEX deliveries_by_state;
CREATE INDEX deliveries_dead ON deliveries(handler) WHERE state = 'dead';
)sql";

// Version 3: deliveries_claimable orders each handler's claimable rows by due time, then id.
// Ordered by id, a claim walked past every delivery waiting for a retry to reach the due ones:
// a handler whose endpoint is down with 200 000 deliveries in back-off cost 22 ms per claim,
// and claims run in the writer's group commit. Now a claim seeks to the handler and reads only
// due rows. First attempts keep their order of arrival: a new delivery is due at its arrival
// time (the writer's clock), which grows with its id.
constexpr const char* schema_v3 = R"sql(
DROP INDEX deliveries_claimable;
CREATE INDEX deliveries_claimable ON deliveries(handler, next_attempt_at, id)
  WHERE state = 'pending' AND claim IS NULL;
)sql";

// Version 4: no deliveries_due. It ordered the claimable rows by due time for next_due_time()
// alone, and cost every delivery two more index writes on the writer's path (in at arrival,
// out at its claim): deliveries_claimable holds the same rows by (handler, due time), so the
// earliest due time is one seek per handler there.
constexpr const char* schema_v4 = R"sql(
DROP INDEX deliveries_due;
)sql";

// Version 5: an event is its own dedup key while it is stored. Version 4 kept each event's
// (endpoint, id) twice, in events_by_event_id (for lookups by id) and as a row of dedup_keys
// (its table, its unique index, dedup_keys_by_age): four B-trees written per event, two of them
// ordered by the provider's id. Providers' ids are random (UUIDs): each event then dirtied a
// page of its own in both id-ordered B-trees, and every such page is a 4 KiB WAL frame written
// and synced at the commit, then written again by the checkpoint. Now events_by_key orders the
// events by (id, endpoint, arrival), which serves both the dedup check and lookups by id, and
// dedup_keys only keeps the keys of events purged within the dedup window (written by the
// purge, not by arrivals). Keys of version 4 stay as they are: they expire by age as before.
constexpr const char* schema_v5 = R"sql(
CREATE INDEX events_by_key ON events(event_id, endpoint, received_at);
DROP INDEX events_by_event_id;
)sql";

struct migration {
  int version;  ///< user_version after applying it
  const char* sql;
};

// Applied in order, all pending ones in one transaction. Append, never edit a shipped entry.
constexpr migration migrations[] = {
    {1, schema_v1}, {2, schema_v2}, {3, schema_v3}, {4, schema_v4}, {5, schema_v5},
};
static_assert(std::size(migrations) > 0 &&
              migrations[std::size(migrations) - 1].version == schema_version);

/// Calls `fn` every `steps` virtual machine steps of the statements run on `db` while it lives
/// (sqlite3_progress_handler, one per connection), then removes itself.
class progress_ticks {
 public:
  progress_ticks(sqlite3* db, std::function<void()> fn, int steps) : db_(db), fn_(std::move(fn)) {
    if (fn_) sqlite3_progress_handler(db_, steps, &tick, this);
  }
  ~progress_ticks() {
    if (fn_) sqlite3_progress_handler(db_, 0, nullptr, nullptr);
  }
  progress_ticks(const progress_ticks&) = delete;
  progress_ticks& operator=(const progress_ticks&) = delete;

 private:
  static int tick(void* self) noexcept {
    try {
      static_cast<progress_ticks*>(self)->fn_();
    } catch (...) {  // documented as not throwing; never let it unwind through SQLite
    }
    return 0;  // non-zero would interrupt the statement
  }

  sqlite3* db_;
  std::function<void()> fn_;
};

/// SQLite's virtual machine steps between two on_migrating calls: a few milliseconds of work.
constexpr int migration_tick_steps = 100000;

void migrate(sqlite::connection& c, const std::function<void()>& on_migrating) {
  const auto started = std::chrono::steady_clock::now();
  const std::string where = "spool " + c.file().string();
  sqlite::transaction tx(c, "BEGIN IMMEDIATE");
  if (tx.begin_rc() != SQLITE_OK) {
    throw sqlite::error(tx.begin_rc(), where + ": cannot lock to check the schema: " + c.errmsg());
  }
  const auto current = c.query_int("PRAGMA user_version");
  if (!current) throw sqlite::error(SQLITE_ERROR, where + ": cannot read the schema version");
  if (*current > schema_version) {
    throw sqlite::error(SQLITE_ERROR, where + ": schema version " + std::to_string(*current) +
                                          " is newer than this hookd supports (" +
                                          std::to_string(schema_version) +
                                          "): run a newer hookd, or use another spool.path");
  }
  if (*current == schema_version) return;  // the transaction only read
  if (*current > 0) {
    // Migrations build indexes over what the file holds: long on a large spool, so say it.
    spdlog::info("{}: migrating from schema version {} to {}", where, *current, schema_version);
  }
  // A new file's schema is created in no time: only a migration reports its progress.
  const std::function<void()> report = *current > 0 ? on_migrating : nullptr;
  if (report) report();
  {
    const progress_ticks ticks(c.get(), report, migration_tick_steps);
    for (const auto& m : migrations) {
      if (m.version <= *current) continue;
      c.exec_or_throw(m.sql, "migrating to schema version " + std::to_string(m.version));
    }
  }
  // The commit writes and syncs what the statements left in the cache, and checkpoints.
  if (report) report();
  c.exec_or_throw(("PRAGMA user_version = " + std::to_string(schema_version)).c_str(),
                  "setting the schema version");
  const int rc = tx.commit();
  if (rc != SQLITE_OK) {
    throw sqlite::error(rc, where + ": cannot commit the schema migration: " + c.errmsg());
  }
  if (*current > 0) {
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    spdlog::info("{}: migrated to schema version {} in {:.1f} s", where, schema_version,
                 took.count());
  }
}

// The client role (the CLI) never migrates: a newer CLI must not change the schema under an
// older running daemon, and a read-only user could not. It only reads the version and refuses
// one it was not built for.
void check_schema(sqlite::connection& c, bool read_only) {
  const std::string where = "spool " + c.file().string();
  const auto current = c.query_int("PRAGMA user_version");
  if (!current) {
    // Read-only, the usual cause: SQLite cannot create the -wal and -shm files it reads a WAL
    // database through (https://www.sqlite.org/wal.html#readonly).
    const std::string hint =
        read_only ? " (reading needs the spool's -wal and -shm files, which exist while hookd "
                    "runs; with hookd stopped, run this as a user who may write the spool's "
                    "directory)"
                  : "";
    throw sqlite::error(SQLITE_ERROR,
                        where + ": cannot read the schema version: " + c.errmsg() + hint);
  }
  if (*current == schema_version) return;
  const std::string versions = "schema version " + std::to_string(*current) +
                               ", this hookd reads version " + std::to_string(schema_version);
  if (*current > schema_version) {
    throw sqlite::error(SQLITE_ERROR,
                        where + ": " + versions + ": use the hookd binary the daemon runs");
  }
  throw sqlite::error(SQLITE_ERROR, where + ": " + versions +
                                        ": start the daemon of this version first (it migrates "
                                        "the spool), or use the hookd binary the daemon runs");
}

// route-style glob for `events list --type`: the same matcher routes use, not SQL GLOB.
void sql_glob(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (argc != 2) return;
  const auto* p = sqlite3_value_text(argv[0]);
  const auto* t = sqlite3_value_text(argv[1]);
  if (p == nullptr || t == nullptr) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  const std::string_view pattern(reinterpret_cast<const char*>(p),
                                 static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
  const std::string_view text(reinterpret_cast<const char*>(t),
                              static_cast<std::size_t>(sqlite3_value_bytes(argv[1])));
  sqlite3_result_int(ctx, glob_match(pattern, text) ? 1 : 0);
}

lock_file take_lock(const std::filesystem::path& db) {
  const std::string name = db.string() + "-lock";
  const int fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "spool " + db.string() + ": cannot open lock file " + name);
  }
  lock_file lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      throw std::runtime_error("spool " + db.string() +
                               ": in use by another hookd process (lock file " + name + ")");
    }
    throw std::system_error(err, std::generic_category(),
                            "spool " + db.string() + ": cannot lock " + name);
  }
  return lock;
}

std::int64_t random_token() {
  std::random_device rd;
  std::mt19937_64 gen((std::uint64_t{rd()} << 32) ^ rd());
  std::uniform_int_distribution<std::int64_t> dist(1, INT64_MAX);
  return dist(gen);
}

}  // namespace

lock_file::~lock_file() {
  if (fd_ >= 0) ::close(fd_);
}

lock_file& lock_file::operator=(lock_file&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

const char* to_string(append_status s) noexcept {
  switch (s) {
    case append_status::accepted:
      return "accepted";
    case append_status::duplicate:
      return "duplicate";
    case append_status::unavailable:
      return "unavailable";
  }
  return "?";
}

const char* to_string(delivery_state s) noexcept {
  switch (s) {
    case delivery_state::pending:
      return "pending";
    case delivery_state::done:
      return "done";
    case delivery_state::dead:
      return "dead";
  }
  return "?";
}

std::optional<delivery_state> parse_delivery_state(std::string_view text) noexcept {
  if (text == "pending") return delivery_state::pending;
  if (text == "done") return delivery_state::done;
  if (text == "dead") return delivery_state::dead;
  return std::nullopt;
}

record make_record(const event& ev, std::vector<std::string> handlers) {
  record r;
  r.endpoint = ev.endpoint;
  r.event_id = ev.id;
  r.type = ev.type;
  r.provider = ev.provider;
  r.subject = ev.subject;
  r.received = ev.time;
  // Invalid UTF-8 (a header or URL segment copied into the event) is replaced, not thrown:
  // the request path must not fail on it, and handlers get valid JSON.
  r.cloudevent = cloudevent_text(ev);
  r.handlers = std::move(handlers);
  return r;
}

sqlite::connection open_connection(const options& opts, bool create, const char* synchronous) {
  const bool read_only = opts.read_only && opts.mode == role::client;
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create) flags |= SQLITE_OPEN_CREATE;
  // SQLite's "multi-thread" mode for this connection: no mutex of its own taken and released
  // around every call (bind, step, column, reset: about 7 % of the writer's instructions per
  // event, pthread recursive mutexes). Each connection is used by one thread at a time: the
  // writer's by the writer thread alone (after the constructor), the others under their own
  // mutex (delivery_mu, read_mu, maint_mu). SQLite's shared state keeps its own mutexes.
  flags |= SQLITE_OPEN_NOMUTEX;
  // Through the VFS that can gather the writer's WAL writes (a pass-through otherwise).
  auto c = sqlite::connection::open(opts.path, flags, wal_gather::vfs_name());
  sqlite3_busy_timeout(
      c.get(), static_cast<int>(std::clamp<std::int64_t>(opts.busy_timeout.count(), 0, INT32_MAX)));
  c.exec_or_throw("PRAGMA foreign_keys = ON", "enabling foreign keys");
  // deliveries.state's CHECK (state IN (3 values)) made SQLite build a temporary B-tree of the
  // list for every insert and every settle (9 k instructions each, 2 per event). hookd writes
  // the state from delivery_state only; the CHECK stays in the schema for other writers.
  c.exec_or_throw("PRAGMA ignore_check_constraints = ON", "setting ignore_check_constraints");
  // Write settings only where it writes: on a read-only connection they would make SQLite set
  // up the WAL first, and fail where the reader may not (the schema check explains that).
  if (!read_only) {
    c.exec_or_throw(synchronous, "setting synchronous");
    // Keep the WAL file small once checkpointed (it is reset, then truncated to this size).
    c.exec_or_throw("PRAGMA journal_size_limit = 67108864", "setting journal_size_limit");
  }
  if (sqlite3_create_function_v2(c.get(), "hookd_glob", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                 nullptr, sql_glob, nullptr, nullptr, nullptr) != SQLITE_OK) {
    throw sqlite::error(SQLITE_ERROR, "spool " + opts.path.string() +
                                          ": cannot register hookd_glob: " + c.errmsg());
  }
  return c;
}

store::store(options opts) : impl_(std::make_unique<impl>()) {
  auto& m = *impl_;
  m.opts = std::move(opts);
  m.clock = m.opts.clock ? m.opts.clock : [] { return std::chrono::system_clock::now(); };
  m.opts.max_batch = std::max<std::size_t>(m.opts.max_batch, 1);
  m.opts.purge_batch = std::max<std::size_t>(m.opts.purge_batch, 1);
  m.claim_token = random_token();
  const auto& path = m.opts.path;
  const bool daemon = m.opts.mode == role::daemon;

  if (daemon) {
    if (path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path.parent_path(), ec);
      if (ec) {
        throw std::system_error(ec, "spool " + path.string() + ": cannot create directory " +
                                        path.parent_path().string());
      }
    }
    m.lock = take_lock(path);
  } else if (!std::filesystem::exists(path)) {
    throw std::runtime_error("spool " + path.string() + ": no such file");
  }

  // The first connection sets WAL mode (persistent in the file) and migrates the schema.
  // The writer commits with synchronous=FULL: a 2xx is only sent after the WAL is fsync'ed.
  auto first = open_connection(m.opts, daemon, "PRAGMA synchronous = FULL");
  if (daemon && sqlite3_db_readonly(first.get(), "main") == 1) {
    // SQLite silently opens a file it may not write read-only; say so now, not at each append.
    throw sqlite::error(SQLITE_READONLY, "spool " + path.string() +
                                             ": read-only (check the permissions of the file "
                                             "and its directory)");
  }
  if (daemon) {
    sqlite::statement s = first.prepare("PRAGMA journal_mode = WAL");
    if (!s || s.step() != SQLITE_ROW || s.text(0) != "wal") {
      throw sqlite::error(SQLITE_ERROR,
                          "spool " + path.string() + ": cannot use WAL mode: " + first.errmsg());
    }
  }
  if (daemon) {
    migrate(first, m.opts.on_migrating);
  } else {
    check_schema(first, m.opts.read_only);
  }

  if (daemon) {
    // Claims left by a previous process (crash, kill -9) are free again: only one daemon holds
    // the lock file, so no claim can belong to a live process.
    first.exec_or_throw(
        "UPDATE deliveries SET claim = NULL, claimed_at = NULL "
        "WHERE claim IS NOT NULL",
        "releasing stale claims");
    m.page_size = first.query_int("PRAGMA page_size").value_or(4096);
    m.default_max_pages = first.query_int("PRAGMA max_page_count").value_or(1073741823);
    m.wanted_max_size = m.opts.max_size;
    m.writer = std::move(first);
    // SQLite checkpoints (copies the WAL into the database, with two fsyncs) inside the commit
    // that takes the WAL past this many pages, and every request of that batch waits for it:
    // those commits made the p99 at 64 connections (10.4-11.6 ms with SQLite's 1 000 pages,
    // 7.9-9.3 ms with 500, no checkpoint at all 6.2-9.1; the rate the same within the noise,
    // lower at 200-300). Half the pages per checkpoint, twice as often.
    m.writer.exec_or_throw("PRAGMA wal_autocheckpoint = 500", "setting wal_autocheckpoint");
    // Claims (and release, replay) need not wait for fsync: losing one to a power cut means
    // one more delivery (at least once), never a lost event. Outcomes go through the writer.
    m.delivery = open_connection(m.opts, false, "PRAGMA synchronous = NORMAL");
  } else {
    m.delivery = std::move(first);
  }
  m.read = open_connection(m.opts, false, "PRAGMA synchronous = NORMAL");
  // Every 1 000 virtual machine steps (some microseconds), a statement of the read connection looks
  // whether cancel_reads() was called; non-zero interrupts it.
  sqlite3_progress_handler(
      m.read.get(), 1000,
      [](void* cancelled) -> int { return static_cast<std::atomic<bool>*>(cancelled)->load(); },
      &m.reads_cancelled);
  m.maint = open_connection(m.opts, false, "PRAGMA synchronous = NORMAL");

  if (daemon) {
    m.apply_max_size();
    m.writer_thread = std::thread([&m] {
      set_thread_name("hookd-writer");
      m.writer_loop();
    });
    try {
      m.maint_thread = std::thread([&m] {
        set_thread_name("hookd-maint");
        m.maintenance_loop();
      });
    } catch (...) {  // no thread to be had: stop the writer before `m` goes away
      {
        std::lock_guard lk(m.queue_mu);
        m.stopping = true;
      }
      m.queue_cv.notify_all();
      m.writer_thread.join();
      throw;
    }
  }
}

store::~store() {
  if (!impl_) return;
  {
    std::lock_guard lk(impl_->maint_wait_mu);
    impl_->maint_stopping = true;
  }
  impl_->maint_cv.notify_all();
  if (impl_->maint_thread.joinable()) impl_->maint_thread.join();
  {
    std::lock_guard lk(impl_->queue_mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_all();
  if (impl_->writer_thread.joinable()) impl_->writer_thread.join();
}

const options& store::config() const noexcept {
  return impl_->opts;
}

void store::set_max_size(std::uint64_t bytes) noexcept {
  impl_->wanted_max_size = bytes;
  impl_->queue_cv.notify_all();
}

void store::append(record r, std::function<void(append_status)> done) noexcept {
  auto& m = *impl_;
  bool backlog = false;
  // Built first: if push_back throws (bad_alloc), deque's strong guarantee leaves `item` whole,
  // so the completion below still runs and the request is answered.
  queued_append item{std::move(r), std::move(done)};
  try {
    std::unique_lock lk(m.queue_mu);
    if (!m.stopping && m.writer_thread.joinable() && m.queue.size() < m.opts.max_backlog) {
      m.queue.push_back(std::move(item));
      lk.unlock();
      m.queue_cv.notify_one();
      return;
    }
    backlog = !m.stopping && m.writer_thread.joinable();
  } catch (...) {  // bad_alloc while queueing: not stored
  }
  {
    std::lock_guard lk(m.stats_mu);
    ++m.wstats.unavailable;
    if (backlog) ++m.wstats.backlog_rejected;
  }
  run_once(item.done, append_status::unavailable);
}

bool store::ping(std::function<void()> fn) noexcept {
  auto& m = *impl_;
  try {
    std::lock_guard lk(m.queue_mu);
    if (m.stopping || !m.writer_thread.joinable()) return false;
    m.pings.push_back(std::move(fn));
  } catch (...) {  // bad_alloc: no ping this time; the watchdog tries again
    return false;
  }
  m.queue_cv.notify_one();
  return true;
}

void store::cancel_reads() noexcept {
  impl_->reads_cancelled.store(true);
}

bool store::writable() const noexcept {
  return impl_->commit_ok.load() && impl_->probe_ok.load();
}

bool store::probe() noexcept {
  auto& m = *impl_;
  bool ok = false;
  try {
    // A block's worth: a full filesystem refuses it (ENOSPC), a read-only one refuses the file
    // (EROFS, EACCES). Not fsynced: the question is whether space is there, not durability.
    const std::string path = m.opts.path.string() + "-probe";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      const std::string block(4096, '\0');
      ok = ::write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size());
      ::close(fd);
      ::unlink(path.c_str());
    }
  } catch (...) {
    ok = false;
  }
  if (ok != m.probe_ok.exchange(ok)) {
    if (ok) {
      spdlog::info("spool {}: its directory takes writes again", m.opts.path.string());
    } else {
      spdlog::error("spool {}: its directory does not take writes (full or read-only?)",
                    m.opts.path.string());
    }
  }
  return ok;
}

writer_stats store::stats_writer() const {
  writer_stats s;
  {
    std::lock_guard lk(impl_->stats_mu);
    s = impl_->wstats;
  }
  std::lock_guard lk(impl_->queue_mu);
  s.queued = impl_->queue.size();
  return s;
}

void store::impl::apply_max_size() {
  const std::uint64_t wanted = wanted_max_size.load();
  if (wanted == applied_max_size) return;
  std::int64_t pages = default_max_pages;
  if (wanted != 0) {
    pages = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(wanted / static_cast<std::uint64_t>(page_size)));
  }
  const std::string sql = "PRAGMA max_page_count = " + std::to_string(pages);
  if (writer.exec(sql.c_str()) == SQLITE_OK) applied_max_size = wanted;
}

std::optional<std::future<claim_result>> store::impl::enqueue_claim(const claim_request& req) {
  std::future<claim_result> f;
  {
    std::lock_guard lk(queue_mu);
    // Once stopping, the writer may have taken its last batch: claim on the caller's thread.
    if (stopping || !writer_thread.joinable()) return std::nullopt;
    claims.push_back(queued_claim{req, {}});
    f = claims.back().result.get_future();
  }
  queue_cv.notify_one();
  return f;
}

void store::impl::writer_loop() {
  using steady = std::chrono::steady_clock;
  // Outcomes that a failed batch left are retried alone at this pace (maintenance_interval).
  auto next_retry = steady::now() + opts.maintenance_interval;
  std::vector<queued_append> batch;
  std::vector<queued_settle> outcomes;
  std::vector<queued_claim> claimed;
  std::unique_lock lk(queue_mu);
  for (;;) {
    queue_cv.wait_until(lk, next_retry, [&] {
      return stopping || !queue.empty() || !settles.empty() || !claims.empty() || !pings.empty();
    });
    if (!pings.empty()) {
      // Everything queued before these pings is taken below, in this iteration or an earlier one.
      std::vector<std::function<void()>> run;
      run.swap(pings);
      lk.unlock();
      for (auto& fn : run) {
        try {
          fn();
        } catch (...) {  // documented as must-not-throw; keep the writer alive regardless
        }
      }
      lk.lock();
    }
    // Outcomes a failed batch left go with the next batch, or alone at the next retry time or
    // at stop, so a failing disk is not retried in a loop.
    const bool retry = !settles_retry.empty() && (stopping || steady::now() >= next_retry);
    if (!queue.empty() || !settles.empty() || !claims.empty() || retry) {
      const std::size_t n = std::min(queue.size(), opts.max_batch);
      batch.clear();
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      outcomes.clear();
      std::move(settles_retry.begin(), settles_retry.end(), std::back_inserter(outcomes));
      settles_retry.clear();
      std::move(settles.begin(), settles.end(), std::back_inserter(outcomes));
      settles.clear();
      claimed.clear();
      std::move(claims.begin(), claims.end(), std::back_inserter(claimed));
      claims.clear();
      lk.unlock();
      {
        // The answers of the whole batch are handed over before any io thread is woken.
        const wakeup_batch wakes;
        try {
          commit_batch(batch, outcomes, claimed);
        } catch (const std::exception& e) {
          fail_batch(batch, outcomes, claimed, e.what());
        } catch (...) {
          fail_batch(batch, outcomes, claimed, "unknown error");
        }
      }
      lk.lock();
    } else if (stopping) {
      break;  // everything queued before stop() has been committed or answered
    }
    if (steady::now() >= next_retry) next_retry = steady::now() + opts.maintenance_interval;
  }
}

void store::impl::maintenance_loop() {
  using steady = std::chrono::steady_clock;
  // A run that stopped at its bound is followed by the next after a second, not a full
  // interval, so the purge keeps up with any sustained rate of events (10 000 per run).
  const auto soon = std::min<duration>(opts.maintenance_interval, std::chrono::seconds(1));
  auto pause = opts.maintenance_interval;
  std::unique_lock lk(maint_wait_mu);
  for (;;) {
    if (maint_cv.wait_until(lk, steady::now() + pause, [&] { return maint_stopping; })) return;
    lk.unlock();
    pause = opts.maintenance_interval;
    try {
      const auto r = maintain_impl();
      if (r.events > 0 || r.dedup_keys > 0) {
        spdlog::debug("spool: purged {} events and {} dedup keys", r.events, r.dedup_keys);
      }
      if (!r.complete) pause = soon;
    } catch (const std::exception& e) {
      spdlog::warn("spool: maintenance failed: {}", e.what());
    }
    lk.lock();
  }
}

// A batch runs first with its items one after the other in the transaction. A savepoint per
// item would let a problem with one event or outcome (say, SQLITE_TOOBIG) fail that item only,
// but SQLite then copies every page an item changes that the batch changed before into a
// statement journal (spilled to a temp file past 64 KiB): seven writes to a temp file per event
// under load. So only when an item fails for a reason of its own is the batch run again, this
// time with one savepoint per item (isolate_items). A failure of the environment (disk full,
// I/O error) fails the batch either way.
template <class Body, class Describe>
int store::impl::run_item(Body&& body, Describe&& describe) {
  if (!isolate_items) {
    const int rc = body();
    if (rc != SQLITE_OK) batch_error = writer.errmsg();  // before another statement replaces it
    return rc;
  }
  if (const int rc = writer.run("SAVEPOINT batch_item"); rc != SQLITE_OK) return rc;
  const int rc = body();
  if (rc == SQLITE_OK) return writer.run("RELEASE batch_item");
  batch_error = writer.errmsg();
  if (sqlite::is_environmental(rc)) return rc;  // the whole batch rolls back
  writer.run("ROLLBACK TO batch_item");
  writer.run("RELEASE batch_item");
  spdlog::warn("spool: cannot {}: {}", describe(), batch_error);
  return writer.autocommit() ? rc : SQLITE_OK;
}

int store::impl::append_one(const record& r, std::int64_t now_ms, append_status& result) {
  result = append_status::unavailable;
  append_status status = append_status::unavailable;
  const int batch_rc = run_item(
      [&]() -> int {
        // Seen within the dedup window: an event stored with this key that arrived within it
        // (events_by_key, no table read), or the kept key of one purged since (schema_v5).
        // Only this thread inserts events, inside this transaction: no other can come between.
        sqlite::statement_use seen(writer.cached(
            "SELECT EXISTS (SELECT 1 FROM events WHERE event_id = ?1 AND endpoint = ?2 "
            "AND received_at >= ?3) OR EXISTS (SELECT 1 FROM dedup_keys WHERE endpoint = ?2 "
            "AND event_id = ?1 AND first_seen >= ?3)"));
        if (!seen) return writer.extended_errcode();
        // `r` outlives each statement's use: its text is bound without a copy (a malloc each).
        using sqlite::unowned;
        seen->bind_all(unowned{r.event_id}, unowned{r.endpoint}, keys_since(now_ms));
        if (const int rc = seen->step(); rc != SQLITE_ROW) return rc;
        if (seen->int64(0) != 0) {
          status = append_status::duplicate;
          return SQLITE_OK;
        }

        sqlite::statement_use ev(
            writer.cached("INSERT INTO events(endpoint, event_id, type, provider, subject, "
                          "received_at, cloudevent) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
        if (!ev) return writer.extended_errcode();
        ev->bind_all(unowned{r.endpoint}, unowned{r.event_id}, unowned{r.type}, unowned{r.provider},
                     unowned{r.subject}, to_ms(r.received), unowned{r.cloudevent});
        if (const int rc = ev->step(); rc != SQLITE_DONE) return rc;
        const std::int64_t seq = writer.last_insert_rowid();

        sqlite::statement_use del(
            writer.cached("INSERT OR IGNORE INTO deliveries(event_seq, handler, state, "
                          "next_attempt_at, updated_at) VALUES(?1, ?2, 'pending', ?3, ?3)"));
        if (!del) return writer.extended_errcode();
        for (const auto& h : r.handlers) {  // OR IGNORE: a handler named twice gets one delivery
          del->reset();
          del->bind_all(seq, unowned{h}, now_ms);
          if (const int rc = del->step(); rc != SQLITE_DONE) return rc;
        }
        status = append_status::accepted;
        return SQLITE_OK;
      },
      [&] { return "store event " + r.event_id + " from " + r.endpoint; });
  if (batch_rc == SQLITE_OK) result = status;
  return batch_rc;
}

int store::impl::settle_one(const queued_settle& q, std::int64_t now_ms, settle_status& result) {
  result = settle_status::unavailable;
  settle_status status = settle_status::unavailable;
  const int rc = run_item(
      [&] { return settle_in(writer, claim_token, q.delivery_id, q.result, now_ms, status); },
      [&] { return "record the outcome of delivery " + std::to_string(q.delivery_id); });
  if (rc == SQLITE_OK) result = status;
  return rc;
}

void store::impl::commit_batch(std::vector<queued_append>& batch,
                               std::vector<queued_settle>& outcomes,
                               std::vector<queued_claim>& claimed) {
  apply_max_size();
  const auto started = std::chrono::steady_clock::now();
  const std::int64_t now_ms = to_ms(now());
  // Claims that find nothing (idle workers look after every commit) need no transaction.
  if (batch.empty() && outcomes.empty()) {
    std::erase_if(claimed, [&](queued_claim& q) {
      if (any_claimable(writer, q.req, now_ms)) return false;
      q.result.set_value(claim_result{});
      return true;
    });
    if (claimed.empty()) return;
  }
  std::vector<append_status> results(batch.size(), append_status::unavailable);
  std::vector<settle_status> settled(outcomes.size(), settle_status::unavailable);
  std::vector<claim_result> claims_taken(claimed.size());
  int rc = SQLITE_OK;
  bool committed = false;
  std::string why;
  bool new_deliveries = false;
  bool rescheduled = false;
  // A batch of outcomes only commits without waiting for fsync (synchronous=NORMAL, as claims
  // do): losing it to a power cut means one more delivery, never a lost event, and the next
  // batch with events (FULL) syncs the WAL, these frames included. With an fsync each, at low
  // load every event paid two: its own, and its outcome's in the batch after.
  // The mode is set when it changes, and checked: a batch with events never commits while the
  // writer is not back in FULL (it fails, and its requests are answered 503).
  const bool relaxed = batch.empty();
  bool mode_ok = true;
  if (relaxed != writer_relaxed) {
    const int mode_rc =
        writer.run(relaxed ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
    if (mode_rc == SQLITE_OK) {
      writer_relaxed = relaxed;
    } else if (!relaxed) {  // (relaxed: staying in FULL is only slower)
      mode_ok = false;
      why = std::string("cannot set synchronous = FULL: ") + writer.errmsg();
    }
  }
  for (isolate_items = false; mode_ok; isolate_items = true) {
    batch_error.clear();
    new_deliveries = false;
    rescheduled = false;
    std::fill(results.begin(), results.end(), append_status::unavailable);
    std::fill(settled.begin(), settled.end(), settle_status::unavailable);
    for (auto& c : claims_taken)
      c = claim_result{};
    {
      // The outcomes of deliveries ride along with the events: one transaction, one fsync,
      // and the pages both change (deliveries and their indexes) go to the WAL once.
      write_transaction tx(write_mu, writer);
      // A batch with events commits with synchronous=FULL (xSync before the WAL index shows its
      // frames): its WAL frames can go out in one write (wal_gather.hpp). Ends before tx.
      std::optional<wal_gather::gather_scope> gather;
      if (!writer_relaxed) gather.emplace();
      rc = tx.begin_rc();
      if (rc == SQLITE_OK) {
        for (std::size_t i = 0; i < batch.size() && rc == SQLITE_OK; ++i) {
          rc = append_one(batch[i].rec, now_ms, results[i]);
          if (results[i] == append_status::accepted && !batch[i].rec.handlers.empty()) {
            new_deliveries = true;
          }
        }
        for (std::size_t i = 0; i < outcomes.size() && rc == SQLITE_OK; ++i) {
          rc = settle_one(outcomes[i], now_ms, settled[i]);
          if (settled[i] == settle_status::settled &&
              outcomes[i].result.state == delivery_state::pending) {
            rescheduled = true;
          }
        }
        // Claims last: they see the outcomes just recorded (a retry due now is claimable).
        for (std::size_t i = 0; i < claimed.size() && rc == SQLITE_OK; ++i) {
          int claim_rc = SQLITE_OK;
          rc = run_item(
              [&] {
                claim_rc = claim_in(writer, claim_token, claimed[i].req, now_ms,
                                    claims_taken[i].deliveries);
                return claim_rc;
              },
              [] { return std::string("claim deliveries"); });
          if (claim_rc != SQLITE_OK) {  // rolled back alone (or with the batch)
            claims_taken[i].ok = false;
            claims_taken[i].error = "claim: " + batch_error;
            claims_taken[i].deliveries.clear();
          }
        }
        if (rc == SQLITE_OK) rc = tx.commit();
        committed = rc == SQLITE_OK;
      }
      // Before the rollback in tx's destructor replaces SQLite's message.
      if (!committed) why = batch_error.empty() ? writer.errmsg() : batch_error;
      if (why.empty() || why == "not an error") why = sqlite3_errstr(rc);
    }
    // An item failed on its own: run the batch again, each item in a savepoint (run_item).
    if (committed || isolate_items || sqlite::is_environmental(rc) || batch_error.empty()) break;
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  if (!committed) {
    // Nothing of this batch is on disk: no completion may say otherwise.
    std::fill(results.begin(), results.end(), append_status::unavailable);
  }

  {
    std::lock_guard lk(stats_mu);
    ++wstats.batches;
    if (!committed) ++wstats.failed_batches;
    wstats.max_batch_size = std::max(wstats.max_batch_size, batch.size());
    for (auto s : results) {
      if (s == append_status::accepted) ++wstats.accepted;
      if (s == append_status::duplicate) ++wstats.duplicates;
      if (s == append_status::unavailable) ++wstats.unavailable;
    }
    if (committed) {
      wstats.settled += static_cast<std::uint64_t>(
          std::count(settled.begin(), settled.end(), settle_status::settled));
    }
    if (wstats.recent.size() == recent_batches) wstats.recent.erase(wstats.recent.begin());
    wstats.recent.push_back(
        batch_info{batch.size(), elapsed, committed, outcomes.size(), claimed.size()});
  }

  commit_ok = committed;
  if (opts.on_batch) {
    try {
      opts.on_batch(batch_info{batch.size(), elapsed, committed, outcomes.size(), claimed.size()});
    } catch (...) {  // documented as must-not-throw
    }
  }
  if (!committed) {
    if (!failing) {
      spdlog::error("spool {}: cannot commit ({}): answering unavailable until it can",
                    opts.path.string(), why);
    }
    failing = true;
  } else if (failing) {
    spdlog::info("spool {}: commits again", opts.path.string());
    failing = false;
  }

  complete(batch, results);
  complete_settles(outcomes, settled, committed);
  for (std::size_t i = 0; i < claimed.size(); ++i) {
    auto& r = claims_taken[i];
    if (!committed) {
      r.ok = false;
      r.error = "claim: " + why;
      r.deliveries.clear();
    }
    claimed[i].result.set_value(std::move(r));
  }
  claimed.clear();
  // New deliveries, or retries with a new due time: the dispatcher's workers look again.
  if (committed && (new_deliveries || rescheduled) && opts.on_commit) {
    try {
      opts.on_commit();
    } catch (...) {  // documented as must-not-throw; keep the writer alive regardless
    }
  }
}

void store::impl::complete_settles(std::vector<queued_settle>& outcomes,
                                   const std::vector<settle_status>& results, bool committed) {
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    auto& q = outcomes[i];
    if (!committed && ++q.failed_batches < max_settle_tries) {
      settles_retry.push_back(std::move(q));  // writer thread only
      continue;
    }
    run_once(q.done, committed ? results[i] : settle_status::unavailable);
  }
  outcomes.clear();
}

void store::impl::fail_batch(std::vector<queued_append>& batch,
                             std::vector<queued_settle>& outcomes,
                             std::vector<queued_claim>& claimed, const char* why) noexcept {
  try {
    spdlog::error("spool {}: batch of {} events failed: {}; answering unavailable",
                  opts.path.string(), batch.size(), why);
  } catch (...) {
  }
  commit_ok = false;
  for (auto& q : batch)
    run_once(q.done, append_status::unavailable);
  batch.clear();
  // Their claims stay: delivered again at the next start (at least once).
  for (auto& q : outcomes)
    run_once(q.done, settle_status::unavailable);
  outcomes.clear();
  for (auto& q : claimed) {
    try {
      claim_result r;
      r.ok = false;
      r.error = "claim: internal error";
      q.result.set_value(std::move(r));
    } catch (...) {  // already answered (future_error), or bad_alloc: nothing claimed either way
    }
  }
  claimed.clear();
}

void store::impl::complete(std::vector<queued_append>& batch,
                           const std::vector<append_status>& results) {
  for (std::size_t i = 0; i < batch.size(); ++i)
    run_once(batch[i].done, results[i]);
  batch.clear();
}

}  // namespace hookd::spool
