#pragma once

// Private to the spool module: the state behind hookd::spool::store, shared by its .cpp files.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <hookd/spool/spool.hpp>
#include <hookd/spool/sqlite.hpp>

namespace hookd::spool {

inline std::int64_t to_ms(time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
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
  bool stopping = false;
  std::thread writer_thread;
  std::atomic<std::uint64_t> wanted_max_size{0};
  std::uint64_t applied_max_size = ~std::uint64_t{0};
  std::int64_t default_max_pages = 0;
  std::int64_t page_size = 4096;
  std::vector<std::function<void()>> pings;  ///< run by the writer after its next look
  std::atomic<bool> commit_ok{true};         ///< no batch failed since the last that committed
  std::atomic<bool> probe_ok{true};          ///< the last probe() could write
  bool failing = false;                      ///< the last batch failed (log transitions only)
  std::string batch_error;                   ///< SQLite's message for the current batch's failure

  mutable std::mutex stats_mu;
  writer_stats wstats;

  // Dispatcher side.
  std::mutex delivery_mu;
  sqlite::connection delivery;

  // CLI queries.
  std::mutex read_mu;
  sqlite::connection read;

  // Purge and checkpoint.
  std::mutex maint_mu;
  sqlite::connection maint;

  time_point now() const { return clock(); }

  void writer_loop();
  void commit_batch(std::vector<queued_append>& batch);
  /// SQLITE_OK, or the failing result code (the caller decides whether the batch survives).
  int append_one(const record& r, std::int64_t now_ms, append_status& result);
  void apply_max_size();
  void complete(std::vector<queued_append>& batch, const std::vector<append_status>& results);
  /// store::maintain(); throws sqlite::error.
  purge_result maintain_impl();
};

/// Opens a connection with the pragmas every spool connection uses.
sqlite::connection open_connection(const options& opts, bool create, const char* synchronous);

}  // namespace hookd::spool
