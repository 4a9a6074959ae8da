#pragma once

#include <shared_mutex>
#include <string>

#include <hookd/handlers/handler.hpp>

#include "unique_fd.hpp"

namespace hookd::handlers::detail {

/// `type: file`: appends each event's CloudEvents JSON and '\n' to `path` with a single write()
/// on an O_APPEND descriptor, so lines from concurrent writers (threads or processes) never
/// interleave. There is no user-space buffer: a line is in the kernel when deliver() returns;
/// with `fsync: true` it is also on disk.
///
/// Thread-safety: deliver() and reopen() may be called from any threads at once. Writes share the
/// descriptor (a shared lock); reopen() swaps it under an exclusive lock.
class file_handler final : public handler {
 public:
  /// Creates the parent directories and opens the file (0640 when created). Throws
  /// std::runtime_error ("path: <why>", with the OS error) when it cannot.
  file_handler(std::string name, const config::file_handler& spec);

  const std::string& name() const noexcept override { return name_; }
  result deliver(const delivery& d) noexcept override;
  /// Closes and reopens the path (after logrotate renamed it). On failure the old descriptor is
  /// kept, so events still land somewhere, and the error is logged.
  void reopen() noexcept override;

 private:
  std::string name_;
  std::string path_;
  bool fsync_;
  std::shared_mutex mutex_;  // guards fd_ against reopen()
  unique_fd fd_;
};

}  // namespace hookd::handlers::detail
