#include "wal_gather.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>

#include <sqlite3.h>

#include <hookd/spool/sqlite.hpp>

namespace hookd::spool::wal_gather {

namespace {

constexpr const char* name = "hookd";
// Gathered bytes are written out once they pass this (a commit of 1 000 events writes ~6 MiB).
constexpr std::size_t max_gathered = std::size_t{1} << 20;
// The unix VFS writes at most 128 KiB - 1 per xWrite (it masks the length with 0x1ffff, and a
// longer write comes back short: SQLITE_FULL): gathered bytes go out in pieces of this size.
constexpr std::size_t max_write = std::size_t{124} * 1024;

sqlite3_vfs* base_vfs = nullptr;  // the default VFS, set once by vfs_name()
sqlite3_vfs vfs{};
std::atomic<unsigned long long> flush_count{0};
std::atomic<unsigned long long> gathered_count{0};

thread_local gather_scope* current = nullptr;

}  // namespace

/// A WAL file opened through the VFS: SQLite's sqlite3_file header, then the default VFS's own
/// file object, in the memory SQLite allocated for it (vfs.szOsFile).
struct wal_file {
  sqlite3_file base;   // pMethods: wal_methods (first member: SQLite casts to it)
  sqlite3_file* real;  // the default VFS's file, after this struct
  std::vector<unsigned char> pending;
  sqlite3_int64 pending_offset = 0;

  static wal_file& of(sqlite3_file* f) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite's C inheritance
    return *reinterpret_cast<wal_file*>(f);
  }
  const sqlite3_io_methods& io() const { return *real->pMethods; }

  /// Writes out what is gathered: SQLITE_OK, or the error the write met (the bytes are then
  /// dropped: the transaction they belong to fails with that error).
  int flush() {
    if (pending.empty()) return SQLITE_OK;
    int rc = SQLITE_OK;
    for (std::size_t done = 0; done < pending.size() && rc == SQLITE_OK; done += max_write) {
      const std::size_t n = std::min(max_write, pending.size() - done);
      rc = io().xWrite(real, pending.data() + done, static_cast<int>(n),
                       pending_offset + static_cast<sqlite3_int64>(done));
    }
    pending.clear();
    flush_count.fetch_add(1, std::memory_order_relaxed);
    return rc;
  }

  /// Gathers one write if the calling thread has a gather_scope open: true. Else (or when it
  /// cannot: out of memory) the caller writes it through, after flush().
  bool gather(const void* data, int amount, sqlite3_int64 offset) {
    if (current == nullptr || amount <= 0) return false;
    const auto n = static_cast<std::size_t>(amount);
    if (!pending.empty() && offset != pending_offset + static_cast<sqlite3_int64>(pending.size())) {
      return false;  // not a continuation
    }
    try {
      if (pending.empty()) {
        pending_offset = offset;
        auto& files = current->files_;
        if (std::find(files.begin(), files.end(), this) == files.end()) files.push_back(this);
      }
      const auto* bytes = static_cast<const unsigned char*>(data);
      pending.insert(pending.end(), bytes, bytes + n);
    } catch (...) {  // bad_alloc: `pending` is unchanged (strong guarantee)
      return false;
    }
    gathered_count.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void forget() noexcept {
    if (current == nullptr) return;
    auto& files = current->files_;
    files.erase(std::remove(files.begin(), files.end(), this), files.end());
  }
};

namespace {

int wal_close(sqlite3_file* f) {
  auto& w = wal_file::of(f);
  const int flushed = w.flush();
  w.forget();
  const int rc = w.io().xClose(w.real);
  w.~wal_file();
  return flushed != SQLITE_OK ? flushed : rc;
}

int wal_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  auto& w = wal_file::of(f);
  // Reads of frames committed earlier do not touch the gathered range: no need to write it out.
  const auto end = w.pending_offset + static_cast<sqlite3_int64>(w.pending.size());
  if (!w.pending.empty() && offset < end && offset + amount > w.pending_offset) {
    if (const int rc = w.flush(); rc != SQLITE_OK) return rc;
  }
  return w.io().xRead(w.real, out, amount, offset);
}

int wal_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  auto& w = wal_file::of(f);
  if (w.gather(data, amount, offset)) {
    return w.pending.size() >= max_gathered ? w.flush() : SQLITE_OK;
  }
  if (const int rc = w.flush(); rc != SQLITE_OK) return rc;
  if (w.gather(data, amount, offset)) return SQLITE_OK;  // starts the next run
  return w.io().xWrite(w.real, data, amount, offset);
}

// The calls below write out what is gathered first, then pass the call on.
int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
  auto& w = wal_file::of(f);
  if (const int rc = w.flush(); rc != SQLITE_OK) return rc;
  return w.io().xTruncate(w.real, size);
}

int wal_sync(sqlite3_file* f, int flags) {
  auto& w = wal_file::of(f);
  if (const int rc = w.flush(); rc != SQLITE_OK) return rc;
  return w.io().xSync(w.real, flags);
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
  auto& w = wal_file::of(f);
  if (const int rc = w.flush(); rc != SQLITE_OK) return rc;
  return w.io().xFileSize(w.real, size);
}

int wal_file_control(sqlite3_file* f, int op, void* arg) {
  auto& w = wal_file::of(f);
  if (const int rc = w.flush(); rc != SQLITE_OK) return rc;
  return w.io().xFileControl(w.real, op, arg);
}

int wal_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** p) {
  auto& w = wal_file::of(f);
  if (const int rc = w.flush(); rc != SQLITE_OK) return rc;
  if (w.io().iVersion < 3) {
    *p = nullptr;  // no memory map: SQLite reads instead
    return SQLITE_OK;
  }
  return w.io().xFetch(w.real, offset, amount, p);
}

// Passed on as they are: they neither read nor write the file's bytes.
int wal_lock(sqlite3_file* f, int level) {
  auto& w = wal_file::of(f);
  return w.io().xLock(w.real, level);
}
int wal_unlock(sqlite3_file* f, int level) {
  auto& w = wal_file::of(f);
  return w.io().xUnlock(w.real, level);
}
int wal_check_reserved_lock(sqlite3_file* f, int* out) {
  auto& w = wal_file::of(f);
  return w.io().xCheckReservedLock(w.real, out);
}
int wal_sector_size(sqlite3_file* f) {
  auto& w = wal_file::of(f);
  return w.io().xSectorSize(w.real);
}
int wal_device_characteristics(sqlite3_file* f) {
  auto& w = wal_file::of(f);
  return w.io().xDeviceCharacteristics(w.real);
}
// SQLite keeps the WAL index in the database file's shared memory, never the WAL's; these only
// pass the call on, if the default VFS has them.
int wal_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** p) {
  auto& w = wal_file::of(f);
  return w.io().iVersion >= 2 ? w.io().xShmMap(w.real, page, size, extend, p) : SQLITE_IOERR;
}
int wal_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  auto& w = wal_file::of(f);
  return w.io().iVersion >= 2 ? w.io().xShmLock(w.real, offset, n, flags) : SQLITE_IOERR;
}
void wal_shm_barrier(sqlite3_file* f) {
  auto& w = wal_file::of(f);
  if (w.io().iVersion >= 2) w.io().xShmBarrier(w.real);
}
int wal_shm_unmap(sqlite3_file* f, int delete_flag) {
  auto& w = wal_file::of(f);
  return w.io().iVersion >= 2 ? w.io().xShmUnmap(w.real, delete_flag) : SQLITE_OK;
}
int wal_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  auto& w = wal_file::of(f);
  return w.io().iVersion >= 3 ? w.io().xUnfetch(w.real, offset, p) : SQLITE_OK;
}

constexpr sqlite3_io_methods wal_methods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved_lock,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

// The real file sits after wal_file, aligned for anything.
constexpr std::size_t real_offset = (sizeof(wal_file) + alignof(std::max_align_t) - 1) /
                                    alignof(std::max_align_t) * alignof(std::max_align_t);

int vfs_open(sqlite3_vfs*, const char* file, sqlite3_file* out, int flags, int* out_flags) {
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    // Anything else is the default VFS's own file, in the same memory (szOsFile is larger).
    return base_vfs->xOpen(base_vfs, file, out, flags, out_flags);
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): placed in SQLite's memory
  auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<unsigned char*>(out) + real_offset);
  real->pMethods = nullptr;
  const int rc = base_vfs->xOpen(base_vfs, file, real, flags, out_flags);
  if (real->pMethods == nullptr) {
    out->pMethods = nullptr;  // nothing to close
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  auto* w = new (out) wal_file{};
  w->real = real;
  w->base.pMethods = &wal_methods;
  return rc;  // an error with the file open: SQLite closes it
}

}  // namespace

const char* vfs_name() {
  // Before sqlite3_vfs_find below initializes SQLite, or its settings could no longer be made
  // (they were not, from 9153e34 until this call was added: memory statistics stayed on).
  sqlite::configure();
  static std::once_flag once;
  std::call_once(once, [] {
    base_vfs = sqlite3_vfs_find(nullptr);
    vfs = *base_vfs;  // every other method is the default VFS's
    vfs.zName = name;
    vfs.szOsFile = static_cast<int>(real_offset) + base_vfs->szOsFile;
    vfs.pNext = nullptr;
    vfs.xOpen = vfs_open;
    sqlite3_vfs_register(&vfs, 0);
  });
  return name;
}

gather_scope::gather_scope() noexcept : outermost_(current == nullptr) {
  if (outermost_) current = this;
}

gather_scope::~gather_scope() {
  if (!outermost_) return;
  current = nullptr;
  for (auto* f : files_)
    static_cast<void>(f->flush());
}

counters stats() noexcept {
  return {flush_count.load(std::memory_order_relaxed),
          gathered_count.load(std::memory_order_relaxed)};
}

}  // namespace hookd::spool::wal_gather
