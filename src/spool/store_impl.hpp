#pragma once

// Private to the spool module: the state behind hookd::spool::store, shared by its .cpp files.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <hookd/spool/spool.hpp>
#include <hookd/spool/sqlite.hpp>

namespace hookd::spool {

inline std::int64_t to_ms(time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// Runs a queued completion at most once: it is taken out before it runs, so nothing that
/// happens to the rest of its batch can run it again. A completion must not throw; if it does,
/// the exception stops here and the other completions still run.
template <class Status>
void run_once(std::function<void(Status)>& done, Status status) noexcept {
  const auto fn = std::exchange(done, nullptr);
  if (!fn) return;
  try {
    fn(status);
  } catch (...) {
  }
}

inline time_point from_ms(std::int64_t ms) noexcept {
  return time_point{
      std::chrono::duration_cast<time_point::duration>(std::chrono::milliseconds{ms})};
}

/// An open file descriptor holding an flock(2); closed (and unlocked) on destruction.
class lock_file {
 public:
  lock_file() noexcept = default;
  explicit lock_file(int fd) noexcept : fd_(fd) {}
  ~lock_file();
  lock_file(lock_file&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  lock_file& operator=(lock_file&& o) noexcept;
  lock_file(const lock_file&) = delete;
  lock_file& operator=(const lock_file&) = delete;

 private:
  int fd_ = -1;
};

struct queued_append {
  record rec;
  std::function<void(append_status)> done;
};

struct queued_settle {
  std::int64_t delivery_id = 0;
  outcome result;
  std::function<void(settle_status)> done;
  unsigned failed_batches = 0;  ///< batches that held it and could not commit
};

/// BEGIN IMMEDIATE ... COMMIT on one of this process's connections, holding `write_mu` first:
/// the process's connections then queue for SQLite's write lock on a mutex, woken as soon as it
/// is free, instead of polling it in SQLite's busy handler, which sleeps 1, 2, 5, 10 ms ...
/// between tries (a claim that came during a group commit made requests wait for its sleeps).
/// Other processes (the CLI) still meet the busy handler.
class write_transaction {
 public:
  write_transaction(std::mutex& write_mu, sqlite::connection& c)
      : lock_(write_mu), tx_(c, "BEGIN IMMEDIATE") {}
  int begin_rc() const noexcept { return tx_.begin_rc(); }
  int commit() noexcept { return tx_.commit(); }

 private:
  std::unique_lock<std::mutex> lock_;  // released after tx_ rolled back, if it did
  sqlite::transaction tx_;
};

struct queued_claim {
  claim_request req;
  std::promise<claim_result> result;
};

/// Claims what `req` asks for (see store::claim) inside the caller's write transaction, marking
/// the deliveries with `claim_token`. SQLITE_OK or the failing result code.
int claim_in(sqlite::connection& c, std::int64_t claim_token, const claim_request& req,
             std::int64_t now_ms, std::vector<claimed_delivery>& out);
/// Whether a claim of `req` would take anything now (reads only; yes on an error).
bool any_claimable(sqlite::connection& c, const claim_request& req, std::int64_t now_ms);

/// Records an attempt of a delivery claimed with `claim_token` and moves it to the outcome's
/// state, un-claimed, inside the caller's transaction. Returns SQLITE_OK with `status` settled
/// or not_claimed, or the failing result code (the caller rolls back).
int settle_in(sqlite::connection& c, std::int64_t claim_token, std::int64_t delivery_id,
              const outcome& o, std::int64_t now_ms, settle_status& status);

struct store::impl {
  options opts;
  clock_fn clock;
  std::int64_t claim_token = 0;  ///< marks this process's claims
  lock_file lock;

  // Writer thread and its queue.
  sqlite::connection writer;  ///< only touched by the writer thread once it runs
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<queued_append> queue;
  std::deque<queued_settle> settles;  ///< new outcomes: each wakes the writer
  std::deque<queued_claim> claims;    ///< claims waiting for the writer
  /// From failed batches, to go with the next batch. Writer thread only.
  std::vector<queued_settle> settles_retry;
  bool stopping = false;
  std::thread writer_thread;
  std::atomic<std::uint64_t> wanted_max_size{0};
  std::uint64_t applied_max_size = ~std::uint64_t{0};
  std::int64_t default_max_pages = 0;
  std::int64_t page_size = 4096;
  /// One write transaction at a time among this process's connections (write_transaction).
  std::mutex write_mu;
  std::vector<std::function<void()>> pings;  ///< run by the writer after its next look
  std::atomic<bool> commit_ok{true};         ///< no batch failed since the last that committed
  std::atomic<bool> probe_ok{true};          ///< the last probe() could write
  bool failing = false;                      ///< the last batch failed (log transitions only)
  bool writer_relaxed = false;  ///< the writer connection is in synchronous=NORMAL (writer only)
  std::string batch_error;      ///< SQLite's message for the current batch's failure

  mutable std::mutex stats_mu;
  writer_stats wstats;

  // Dispatcher side.
  std::mutex delivery_mu;
  sqlite::connection delivery;

  // CLI queries, and the daemon's backlog counts.
  std::mutex read_mu;
  sqlite::connection read;
  /// Set by cancel_reads(): the read connection's progress handler then interrupts its
  /// statements.
  std::atomic<bool> reads_cancelled{false};

  // Purge and checkpoint, on their own thread (daemon) so that a long sweep never delays a
  // group commit: only the short delete transactions take the write lock.
  std::mutex maint_mu;  ///< the connection and the sweep position
  sqlite::connection maint;
  /// Where the retention sweep goes on: the (received_at, seq) of the last event it examined.
  /// Events it keeps (pending, dead, delivered within the retention) are passed over until the
  /// sweep reaches the cut-off and starts again from the oldest, so a run never re-reads them.
  std::optional<std::pair<std::int64_t, std::int64_t>> sweep_after;
  std::thread maint_thread;
  std::mutex maint_wait_mu;
  std::condition_variable maint_cv;
  bool maint_stopping = false;  ///< under maint_wait_mu

  time_point now() const { return clock(); }
  /// The oldest arrival (ms) whose key still counts at `now_ms`: the dedup window's start.
  std::int64_t keys_since(std::int64_t now_ms) const { return now_ms - opts.dedup_window.count(); }

  /// The daemon's claims: queued for the writer thread, the future is their result. Nullopt
  /// when there is no writer thread (a client): the caller claims itself.
  std::optional<std::future<claim_result>> enqueue_claim(const claim_request& req);
  void writer_loop();
  /// Runs maintain_impl() every maintenance_interval until maint_stopping.
  void maintenance_loop();
  void commit_batch(std::vector<queued_append>& batch, std::vector<queued_settle>& settled,
                    std::vector<queued_claim>& claimed);
  /// SQLITE_OK, or the failing result code (the caller decides whether the batch survives).
  int append_one(const record& r, std::int64_t now_ms, append_status& result);
  /// The same for one queued outcome.
  int settle_one(const queued_settle& q, std::int64_t now_ms, settle_status& result);
  /// Runs `body` (SQLITE_OK or the failing code) as one item of the writer's batch, in a
  /// savepoint when isolate_items: see store.cpp. `describe` names the item for the log.
  template <class Body, class Describe>
  int run_item(Body&& body, Describe&& describe);
  bool isolate_items = false;  ///< writer thread only
  /// Calls the completions of a batch's outcomes; those of a batch that could not commit are
  /// queued again (settles_retry) until they failed max_settle_tries batches.
  void complete_settles(std::vector<queued_settle>& settled,
                        const std::vector<settle_status>& results, bool committed);
  void apply_max_size();
  void complete(std::vector<queued_append>& batch, const std::vector<append_status>& results);
  /// commit_batch() threw (bad_alloc, before its transaction committed: what follows the
  /// commit does not allocate): answers what it had not answered, as a batch that could not
  /// commit, so every completion still runs exactly once and the writer lives on.
  void fail_batch(std::vector<queued_append>& batch, std::vector<queued_settle>& settled,
                  std::vector<queued_claim>& claimed, const char* why) noexcept;
  /// store::maintain(); throws sqlite::error.
  purge_result maintain_impl();
};

/// Opens a connection with the pragmas every spool connection uses.
sqlite::connection open_connection(const options& opts, bool create, const char* synchronous);

}  // namespace hookd::spool
