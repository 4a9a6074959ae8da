#pragma once

#include <vector>

namespace hookd::spool::wal_gather {

/// The name of hookd's SQLite VFS, for sqlite3_open_v2: the default (unix) VFS, except that the
/// write-ahead log's writes can be gathered (gather_scope). Registered on first use; every
/// connection of the spool opens through it (outside a gather_scope it only passes calls on).
const char* vfs_name();

struct wal_file;

/// While one is open on a thread, the writes that thread's connections make to their WAL are
/// gathered into one buffer per file and written with one write where they would have been
/// many: SQLite writes every WAL frame with two pwrite calls (its 24-byte header, then the
/// page), and a group commit of 30 events writes some 45 frames (185 KiB), so 90 system calls
/// become two (the default VFS writes at most 128 KiB at once).
///
/// What any reader of the file sees is what it would see without: the buffer holds only bytes
/// that follow one another, and is written out before any other write that does not continue
/// it, before xSync, xTruncate, xFileSize, xFileControl, xClose, before a read of its range, and
/// when the scope ends. Only other connections (their own file handles) could read the file
/// before that, and they only read frames of committed transactions: a commit in
/// synchronous=FULL calls xSync on the WAL before it publishes its frames in the WAL index. So
/// open it only around a transaction that commits with synchronous=FULL, and end it before the
/// write lock is released. An error writing the buffer is returned by the call that wrote it
/// (xWrite, xSync...), so it fails the transaction as the first failed write would have.
class gather_scope {
 public:
  gather_scope() noexcept;
  /// Writes out what is still gathered (a transaction that failed before its xSync), so the
  /// file holds what it would hold without the scope. Errors are ignored: that transaction has
  /// failed already.
  ~gather_scope();
  gather_scope(const gather_scope&) = delete;
  gather_scope& operator=(const gather_scope&) = delete;

 private:
  friend struct wal_file;
  bool outermost_;
  std::vector<wal_file*> files_;  ///< files holding gathered bytes
};

/// How many times gathered bytes were written out, and how many xWrite calls they held, since
/// the process started (all files). For tests.
struct counters {
  unsigned long long flushes = 0;
  unsigned long long gathered_writes = 0;
};
counters stats() noexcept;

}  // namespace hookd::spool::wal_gather
