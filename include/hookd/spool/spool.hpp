#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <hookd/core/event.hpp>
#include <hookd/core/units.hpp>

/// The durable spool: one SQLite file (WAL mode) holding every accepted event, the dedup keys,
/// one delivery row per (event, routed handler) and the history of every attempt.
/// See docs/delivery.md for the guarantees this gives to users.
///
/// Connections and threads (a store in the daemon role):
///  - the writer thread owns the writer connection (synchronous=FULL). append() and
///    settle_async() only enqueue; the writer takes everything waiting, commits it in ONE
///    transaction (group commit), then calls every completion.
///  - the writer thread also claims for the dispatcher (claim() waits for it): one connection
///    does all of the daemon's writes, so no connection drops its page cache because another
///    one wrote.
///  - the delivery connection (settle, release, replay, next_due_time; claims of a client),
///    guarded by a mutex: callable from any number of dispatch workers.
///  Write transactions of this process's connections take turns on an in-process mutex before
///  SQLite's write lock, so they never sleep in SQLite's busy handler waiting for each other.
///  - the read connection (list, show, stats), guarded by its own mutex.
///  - the maintenance connection (purge, checkpoint), guarded by its own mutex, used by the
///    maintenance thread every maintenance_interval: it reads without the write lock and takes
///    it only for short delete transactions, so a purge never holds up a group commit.
/// Another process (the CLI, role::client) may open the same file at the same time: SQLite's
/// WAL locking serializes writers, readers never block. Writes from another process (a replay)
/// are seen by the daemon's next claim()/next_due_time(): workers are expected to poll
/// next_due_time() at a bounded interval (e.g. 1 s), so a replay is picked up without restart.
///
/// Time: every time stored or compared comes from options::clock (system_clock by default),
/// so tests move time without sleeping, except an event's arrival: record::received, stamped
/// by the caller, which must use the same clock (the daemon's io threads stamp system_clock at
/// the request's receipt, before it is queued). The dedup window counts from it: a record
/// stamped earlier than now - dedup_window is no key at all. Times are stored as integer
/// milliseconds since the Unix epoch.
///
/// Errors: the constructor throws std::runtime_error (sqlite::error) with the file name and
/// SQLite's message. append/claim/settle/release/next_due_time never throw: they report
/// failures in their results. The CLI queries (list/show/stats/replay/purge) throw
/// sqlite::error on failure.
namespace hookd::spool {

using time_point = std::chrono::system_clock::time_point;
using clock_fn = std::function<time_point()>;

/// The schema version this build writes (`PRAGMA user_version`).
inline constexpr int schema_version = 5;

enum class role {
  daemon,  ///< creates the file, takes the process lock, releases stale claims, runs the writer
  /// The CLI: queries and replay on an existing spool; append() is unavailable. Never changes
  /// the schema: a spool of another version is refused (the daemon migrates it).
  client,
};

/// One group-commit batch, for metrics.
struct batch_info {
  std::size_t size = 0;                      ///< appends in the transaction
  std::chrono::microseconds commit_time{0};  ///< BEGIN to COMMIT done (fsync included)
  bool ok = true;
  std::size_t settles = 0;  ///< outcomes (settle_async) in the transaction
  std::size_t claims = 0;   ///< claims (claim()) in the transaction
};

struct options {
  std::filesystem::path path = "./var/hookd.db";
  role mode = role::daemon;
  /// Client role only: open with SQLITE_OPEN_READONLY (list, show, stats), so a user who may
  /// only read the file can inspect it; replay() then fails.
  bool read_only = false;
  /// (endpoint, id) keys kept this long from the event's arrival. Longer than any wait in the
  /// writer's queue (the config asks at least a minute), or two copies in one batch both pass.
  duration dedup_window = std::chrono::hours(24 * 7);
  duration retention = std::chrono::hours(24 * 7);  ///< done events kept this long
  std::size_t max_backlog = 10000;  ///< appends waiting for the writer; beyond: unavailable
  std::size_t max_batch = 1000;     ///< appends committed in one transaction at most
  duration busy_timeout = std::chrono::seconds(5);  ///< waiting for SQLite's write lock
  /// Cap on the database size in bytes (SQLite's max_page_count on the writer); 0: no cap.
  /// Reaching it behaves like a full disk: appends are unavailable until space is made.
  std::uint64_t max_size = 0;
  std::size_t purge_batch = 500;           ///< rows deleted per purge transaction
  std::size_t purge_batches_per_run = 20;  ///< bound on one maintenance run's work
  duration maintenance_interval = std::chrono::seconds(60);  ///< maintenance thread runs maintain()
  clock_fn clock;  ///< empty: std::chrono::system_clock::now
  /// Called on the writer thread after a batch that created at least one delivery committed
  /// (wake the dispatcher). Must not block or throw.
  std::function<void()> on_commit;
  /// Called on the writer thread after every batch, committed or not (metrics). Must not block or
  /// throw.
  std::function<void(const batch_info&)> on_batch;
  /// Daemon role: called on the opening thread while the constructor migrates an existing
  /// spool's schema: once as the migration starts, every 100 000 of SQLite's virtual machine
  /// steps while its statements run, and once before its commit. A migration rebuilds indexes
  /// over every stored row, which on a large spool outlasts a service manager's start timeout:
  /// tell it start-up goes on (throttle there). Some of the work reports nothing while it runs
  /// (dropping an old index, the commit's fsync and checkpoint), and it grows with the rest:
  /// ask for time in proportion to the time taken so far. Not called for a new spool or one
  /// already at schema_version. Must not throw.
  std::function<void()> on_migrating;
};

enum class append_status {
  accepted,     ///< committed (fsync'ed): answer 200 accepted
  duplicate,    ///< (endpoint, event id) seen within the dedup window: 200 duplicate, no delivery
  unavailable,  ///< not committed (disk full, read-only, locked, backlog full): 503
};
const char* to_string(append_status s) noexcept;

/// What append() stores for one event. The spool never parses `cloudevent`: it is kept as given
/// and handed back to the dispatcher byte for byte.
struct record {
  std::string endpoint;
  std::string event_id;
  std::string type;
  std::string provider;
  std::string subject;
  time_point received;
  std::string cloudevent;             ///< to_cloudevent(ev).dump()
  std::vector<std::string> handlers;  ///< one delivery each (repeats are ignored)
};

/// The record for `ev` (serializes it once with to_cloudevent; invalid UTF-8 is replaced with
/// U+FFFD, so this throws nothing but std::bad_alloc).
record make_record(const event& ev, std::vector<std::string> handlers);

enum class delivery_state { pending, done, dead };
const char* to_string(delivery_state s) noexcept;
std::optional<delivery_state> parse_delivery_state(std::string_view text) noexcept;

struct claim_request {
  std::size_t limit = 1;               ///< at most this many deliveries
  std::optional<std::string> handler;  ///< only this handler's deliveries
  /// Per-handler bound for this claim (a handler's free concurrency slots); handlers not listed
  /// are unbounded; 0 skips the handler. The dispatcher uses it to keep a concurrency-1 handler
  /// in order of arrival.
  std::map<std::string, std::size_t> capacity;
};

/// A due delivery, claimed for this process until settle() or release().
struct claimed_delivery {
  std::int64_t delivery_id = 0;
  std::int64_t event_seq = 0;  ///< the event's row number (arrival order)
  std::string handler;
  unsigned attempt = 1;        ///< this attempt's number over the delivery's life (HOOKD_ATTEMPT)
  unsigned round_attempt = 1;  ///< number since the last replay: what the retry policy counts
  std::string endpoint;
  std::string event_id;
  std::string type;
  std::string provider;
  std::string subject;
  time_point received;
  std::string cloudevent;
};

struct claim_result {
  bool ok = true;
  std::string error;  ///< when !ok: SQLite's message
  std::vector<claimed_delivery> deliveries;
};

/// How an attempt ended.
struct outcome {
  delivery_state state = delivery_state::done;  ///< done; pending = retry at `retry_at`; dead
  time_point retry_at{};
  std::string error;

  static outcome done() { return {}; }
  static outcome retry(time_point at, std::string why) {
    return {delivery_state::pending, at, std::move(why)};
  }
  static outcome dead(std::string why) { return {delivery_state::dead, {}, std::move(why)}; }
};

enum class settle_status {
  settled,
  not_claimed,  ///< the delivery is not claimed by this store (released, or unknown id)
  unavailable,  ///< could not commit; the claim stays, retry settle() or let restart redeliver
};

struct writer_stats {
  std::uint64_t batches = 0;
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t unavailable = 0;       ///< appends answered unavailable (all causes)
  std::uint64_t backlog_rejected = 0;  ///< of which: the backlog was full
  std::uint64_t failed_batches = 0;
  std::uint64_t settled = 0;  ///< outcomes recorded through settle_async
  std::size_t queued = 0;     ///< waiting right now
  std::size_t max_batch_size = 0;
  std::vector<batch_info> recent;  ///< the last batches, oldest first (at most 64)
};

struct list_filter {
  std::optional<delivery_state> state;  ///< the event's summary state (see event_summary)
  std::optional<std::string> endpoint;
  std::optional<std::string> type_glob;  ///< `*` and `?`, as in routes
  std::size_t limit = 50;
};

struct event_summary {
  std::int64_t seq = 0;
  std::string event_id;
  std::string endpoint;
  std::string type;
  std::string provider;
  std::string subject;
  time_point received;
  /// pending if any delivery is pending, else dead if any is dead, else done (also: no handler).
  delivery_state state = delivery_state::done;
  std::size_t pending = 0, done = 0, dead = 0;
};

struct attempt_info {
  unsigned number = 0;
  time_point started;
  time_point finished;
  bool ok = false;
  std::string error;
};

struct delivery_info {
  std::int64_t id = 0;
  std::string handler;
  delivery_state state = delivery_state::pending;
  unsigned attempts = 0;
  unsigned round_attempts = 0;
  time_point next_attempt_at;
  std::string last_error;
  bool claimed = false;
  time_point updated_at;
  std::vector<attempt_info> history;  ///< every attempt, oldest first
};

struct event_detail {
  event_summary summary;
  std::string cloudevent;
  std::vector<delivery_info> deliveries;
};

struct handler_stats {
  std::string handler;
  std::size_t pending = 0, done = 0, dead = 0, claimed = 0;
  std::optional<time_point> oldest_pending;  ///< received time of the oldest pending event
};

struct spool_stats {
  std::size_t events = 0;
  /// (endpoint, event id) keys within the dedup window now: those of the events stored that
  /// arrived within it, and those kept for events purged since.
  std::size_t dedup_keys = 0;
  std::vector<handler_stats> handlers;  ///< sorted by name
  std::optional<time_point> oldest_pending;
};

/// What is waiting, per handler: cheap to read (indexed), for STATUS= and metrics.
struct backlog_info {
  std::map<std::string, std::size_t> pending;  ///< per handler, claimed ones included
  std::map<std::string, std::size_t> dead;     ///< per handler
  std::optional<time_point> oldest_pending;    ///< received time of the oldest pending event
};

struct purge_result {
  std::size_t events = 0;      ///< events removed (with their deliveries and attempts)
  std::size_t dedup_keys = 0;  ///< keys of purged events removed, past the dedup window
  bool complete = true;        ///< false: the per-run bound was reached, the next run goes on
};

class store {
 public:
  /// Opens the spool. Daemon role: creates it, migrates its schema, takes an exclusive lock on
  /// "<path>-lock", releases every claim left by a previous process, and starts the writer
  /// thread. Client role: opens an existing spool (read-only with options::read_only) whose
  /// schema version is exactly schema_version, and changes nothing. Throws std::runtime_error
  /// naming the path on any failure, including a spool written by a newer hookd, or (client) a
  /// spool of another schema version.
  explicit store(options opts);
  /// Commits whatever is still queued, stops the writer, closes every connection. Claims still
  /// held stay in the file and are released by the next daemon start.
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // ---- request path (any thread, never blocks, never throws) --------------------------------

  /// Queues `r` for the writer thread. `done` runs exactly once, on the writer thread (or on the
  /// calling thread when the backlog is full or the store is stopping / a client): accepted only
  /// after the transaction holding the event committed with fsync. `done` must not block.
  void append(record r, std::function<void(append_status)> done) noexcept;

  writer_stats stats_writer() const;

  /// Runs `fn` on the writer thread once it has taken what was queued before: the watchdog's proof
  /// that the writer makes progress. Never blocks, never throws; false when the writer is not
  /// running (client role, stopping), and then `fn` is not called. `fn` must not block or throw.
  bool ping(std::function<void()> fn) noexcept;

  /// Whether the spool can take events: no commit has failed since the last one that succeeded,
  /// and the last probe() could write. Lock-free; for /readyz.
  bool writable() const noexcept;

  /// Checks that the spool's directory takes a new block now (creates, writes and removes a
  /// small file beside the database; a full or read-only filesystem fails), and updates
  /// writable(). Blocks on the filesystem: call it from a thread that may block. Never throws.
  bool probe() noexcept;

  /// Pending and dead deliveries, and the oldest pending event. Throws sqlite::error.
  backlog_info backlog();

  /// Interrupts backlog(), list(), show() and stats(), those in progress and those called later,
  /// at their next 1 000th step of SQLite's virtual machine (sqlite::error, SQLITE_INTERRUPT), so
  /// that a shutdown does not wait for a count whose cost follows the backlog. A query shorter
  /// than that may still complete. Appends, claims and outcomes are not affected. Any thread;
  /// for good.
  void cancel_reads() noexcept;

  // ---- dispatcher (any thread, never throws) -----------------------------------------------

  /// Claims due pending deliveries (next attempt <= now, not claimed) in order of arrival,
  /// marking them claimed in one transaction. Its cost grows with the number of handlers that
  /// have pending deliveries and with the deliveries taken, not with the backlog; a claim that
  /// finds nothing reads only and never takes SQLite's write lock. In the daemon role it runs
  /// in the writer thread, in its next batch (so it waits for the batch being committed): it
  /// must not be called from a completion, which runs on that thread.
  claim_result claim(const claim_request& req) noexcept;
  /// Records the attempt in the history and moves the delivery to its new state, un-claimed,
  /// in a transaction of its own.
  settle_status settle(std::int64_t delivery_id, const outcome& o) noexcept;
  /// The same in the writer thread's next group commit: the outcomes of many deliveries and
  /// the events arriving meanwhile share one transaction and one fsync (a transaction per
  /// settle wrote the same pages to the WAL again for every delivery). Never blocks. `done`
  /// (may be empty) runs once on the writer thread: settled or not_claimed once committed;
  /// unavailable when five batches holding it could not commit (the claim then stays until
  /// the next start, which delivers it again). It must not block or throw. Without a writer
  /// thread (a client) this settles at once and calls `done` on the calling thread. The store's
  /// destructor commits the outcomes still queued.
  void settle_async(std::int64_t delivery_id, outcome o,
                    std::function<void(settle_status)> done) noexcept;
  /// Un-claims without recording an attempt (shutdown: the delivery is due again at once).
  bool release(std::int64_t delivery_id) noexcept;
  /// Un-claims everything this process holds. Returns the number released, or nullopt.
  std::optional<std::size_t> release_all() noexcept;
  /// When the next unclaimed pending delivery is due (maybe in the past); nullopt when none is
  /// pending, or on error (the caller polls again later).
  std::optional<time_point> next_due_time() noexcept;

  // ---- operator (CLI, any thread; throw sqlite::error) --------------------------------------

  /// Makes the deliveries of the events whose event id (or row number) is in `ids` due now:
  /// pending, next attempt now, round attempts reset to 0 (the retry schedule starts again; the
  /// total attempt count and the history are kept). Claimed (in flight) deliveries are left
  /// alone. `handler`: only that handler's deliveries. Returns the deliveries changed.
  std::size_t replay(const std::vector<std::string>& ids,
                     const std::optional<std::string>& handler = std::nullopt);
  /// The same for every dead delivery (of `handler`).
  std::size_t replay_dead(const std::optional<std::string>& handler = std::nullopt);

  std::vector<event_summary> list(const list_filter& f);
  /// Every event whose event id is `key`, or whose row number is `key` (newest first).
  std::vector<event_detail> show(const std::string& key);
  spool_stats stats();

  /// Removes done events past the retention (keeping the dedup key of those that arrived
  /// within the dedup window) and kept dedup keys past the window (in batches of
  /// purge_batch rows, at most purge_batches_per_run batches), then checkpoints the WAL
  /// (PASSIVE). Events are examined in order of arrival from where the previous run stopped:
  /// those kept (pending, dead, delivered within the retention) are passed over until the sweep
  /// reaches the retention's cut-off and starts again, so a run reads at most
  /// purge_batch * purge_batches_per_run events however many are kept. Called by the
  /// maintenance thread every maintenance_interval; callable from anywhere.
  purge_result maintain();

  /// Changes the size cap (options::max_size) at run time; applied before the next batch.
  void set_max_size(std::uint64_t bytes) noexcept;

  const options& config() const noexcept;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace hookd::spool
