#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <hookd/handlers/handler.hpp>

#include "unique_fd.hpp"

namespace hookd::handlers::detail {

/// `type: file`: appends each event's CloudEvents JSON and '\n' to `path` on an O_APPEND
/// descriptor. There is no user-space buffer: a line is in the kernel when deliver() returns;
/// with `fsync: true` it is also on disk. A delivery that fails leaves the file as it found it:
/// a line cut short by a full disk is truncated away, so the retry appends a whole line and the
/// file stays valid JSONL.
///
/// Thread-safety: deliver() and reopen() may be called from any threads at once; both hold one
/// mutex, shared by every file handler of the process on the same path (two names for one file,
/// or the old and the new handler during a reload), so deliveries write (and, on failure,
/// truncate) one at a time and never cut another delivery's line. Another process appending to
/// the same file, or another spelling of the path through a symlink, is not supported.
class file_handler final : public handler {
 public:
  /// Creates the parent directories and opens the file (0640 when created). Throws
  /// std::runtime_error ("path: <why>", with the OS error) when it cannot.
  file_handler(std::string name, const config::file_handler& spec);

  /// What the constructor checks, without creating or opening anything (handlers::check_handler):
  /// the file is writable, or could be created. Throws as the constructor does.
  static void check(const config::file_handler& spec);

  const std::string& name() const noexcept override { return name_; }
  result deliver(const delivery& d) noexcept override;
  /// Closes and reopens the path (after logrotate renamed it). On failure the old descriptor is
  /// kept, so events still land somewhere, and the error is logged.
  void reopen() noexcept override;

 private:
  std::string name_;
  std::string path_;
  bool fsync_;
  std::shared_ptr<std::mutex> mutex_;  // the path's: guards fd_, serializes writes (deliver())
  unique_fd fd_;
};

}  // namespace hookd::handlers::detail
