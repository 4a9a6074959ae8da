#pragma once

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/mount.h>

namespace hookd::test {

/// A tmpfs mounted for one test, lazily unmounted (MNT_DETACH) on destruction so a failing test
/// leaves no mount behind. Movable, not copyable.
class tmpfs_mount {
 public:
  /// Mounts a tmpfs of `size` at `dir` (created if missing); nullopt with `why` when the mount
  /// is not permitted here (not root, no CAP_SYS_ADMIN in a container).
  static std::optional<tmpfs_mount> make(const std::filesystem::path& dir, const std::string& size,
                                         bool read_only, std::string& why) {
    std::filesystem::create_directories(dir);
    const std::string data = "size=" + size + ",mode=0755";
    unsigned long flags = MS_NOSUID | MS_NODEV;
    if (read_only) flags |= MS_RDONLY;
    if (::mount("tmpfs", dir.c_str(), "tmpfs", flags, data.c_str()) != 0) {
      why = "mount -t tmpfs " + dir.string() + ": " + std::strerror(errno);
      return std::nullopt;
    }
    return tmpfs_mount(dir);
  }

  ~tmpfs_mount() {
    if (!dir_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  tmpfs_mount(tmpfs_mount&& other) noexcept : dir_(std::move(other.dir_)) { other.dir_.clear(); }
  tmpfs_mount& operator=(tmpfs_mount&& other) noexcept {
    if (this != &other) {
      if (!dir_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
      dir_ = std::move(other.dir_);
      other.dir_.clear();
    }
    return *this;
  }
  tmpfs_mount(const tmpfs_mount&) = delete;
  tmpfs_mount& operator=(const tmpfs_mount&) = delete;

  /// Remounts read-only; false (errno set) on failure.
  bool remount_read_only() const {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                   nullptr) == 0;
  }

 private:
  explicit tmpfs_mount(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace hookd::test
