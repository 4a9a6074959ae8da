#include "file_handler.hpp"

#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "text.hpp"

namespace hookd::handlers::detail {

namespace {

/// Opens `path` for appending, creating it and its parent directories. Returns the descriptor or
/// an error message.
int open_append(const std::string& path, std::string& error) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) {
      error = "cannot create directory " + p.parent_path().string() + " for " + path + ": " +
              ec.message();
      return -1;
    }
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) error = "cannot open " + path + ": " + errno_text(errno);
  return fd;
}

/// Why open_append(path) would fail, found without creating or opening anything; "" when it
/// would succeed as far as this process can tell.
std::string append_problem(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  std::error_code ec;
  const auto status = fs::status(p, ec);
  if (fs::exists(status)) {
    if (fs::is_directory(status)) return "cannot open " + path + ": " + errno_text(EISDIR);
    if (::access(path.c_str(), W_OK) != 0) return "cannot open " + path + ": " + errno_text(errno);
    return {};
  }
  // The file would be created: its nearest existing ancestor must be a directory this process
  // may write into (create_directories makes the rest).
  const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  fs::path ancestor = parent;
  while (!fs::exists(ancestor, ec)) {
    if (ec)
      return "cannot create directory " + parent.string() + " for " + path + ": " + ec.message();
    if (!ancestor.has_parent_path() || ancestor == ancestor.parent_path()) {
      ancestor = ancestor.is_absolute() ? ancestor.root_path() : fs::path(".");
      break;
    }
    ancestor = ancestor.parent_path();
  }
  if (!fs::is_directory(ancestor, ec)) {
    return "cannot create directory " + parent.string() + " for " + path + ": " +
           errno_text(ENOTDIR);
  }
  if (::access(ancestor.c_str(), W_OK | X_OK) != 0) {
    const int err = errno;
    return ancestor == parent ? "cannot open " + path + ": " + errno_text(err)
                              : "cannot create directory " + parent.string() + " for " + path +
                                    ": " + errno_text(err);
  }
  return {};
}

/// The mutex of `path` in this process (see file_handler's thread-safety).
std::shared_ptr<std::mutex> path_mutex(const std::string& path) {
  static std::mutex registry_mu;
  static std::map<std::string, std::weak_ptr<std::mutex>> registry;
  std::error_code ec;
  auto key = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (ec) key = path;
  std::lock_guard lock(registry_mu);
  std::erase_if(registry, [](const auto& entry) { return entry.second.expired(); });
  auto& slot = registry[key];
  auto m = slot.lock();
  if (!m) {
    m = std::make_shared<std::mutex>();
    slot = m;
  }
  return m;
}

}  // namespace

void file_handler::check(const config::file_handler& spec) {
  if (spec.path.empty()) throw std::runtime_error("path: is empty");
  if (auto problem = append_problem(spec.path); !problem.empty()) {
    throw std::runtime_error("path: " + problem);
  }
}

file_handler::file_handler(std::string name, const config::file_handler& spec)
    : name_(std::move(name)), path_(spec.path), fsync_(spec.fsync), mutex_(path_mutex(path_)) {
  if (path_.empty()) throw std::runtime_error("path: is empty");
  std::string error;
  fd_.reset(open_append(path_, error));
  if (!fd_) throw std::runtime_error("path: " + error);
}

result file_handler::deliver(const delivery& d) noexcept {
  try {
    std::string line;
    line.reserve(d.cloudevent.size() + 1);
    line.append(d.cloudevent);
    line.push_back('\n');

    // Exclusive: the bytes this delivery wrote are the last ones in the file when it has to
    // take them back (undo), since every line written to this path in the process is written
    // under its mutex.
    std::lock_guard lock(*mutex_);
    std::size_t done = 0;
    // Puts the file back as it was: a partial line followed by the retry's whole line would be
    // one corrupt JSONL line. O_APPEND put this delivery's `done` bytes at the end, so the file
    // is cut back by that much; its size is only read then, never on the way that succeeds (an
    // fstat per event). Only a regular file has a size to go back to (the path may name a
    // device or a FIFO).
    auto undo = [&](std::string why) {
      if (done == 0) return result::failure(std::move(why));
      const auto written = static_cast<off_t>(done);
      struct stat now {};
      if (::fstat(fd_.get(), &now) != 0) {
        why += "; stat to truncate the partial line failed too: " + errno_text(errno);
      } else if (!S_ISREG(now.st_mode)) {
        // nothing to go back to
      } else if (now.st_size < written) {
        why += "; the file is shorter than the partial line (truncated meanwhile?): left as is";
      } else if (::ftruncate(fd_.get(), now.st_size - written) != 0) {
        why += "; truncating the partial line failed too: " + errno_text(errno);
      }
      return result::failure(std::move(why));
    };
    while (done < line.size()) {
      // One write() of the whole line in the common case; O_APPEND puts it at the end.
      const ssize_t n = ::write(fd_.get(), line.data() + done, line.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return undo("write " + path_ + ": " + errno_text(errno));
      }
      // A short write only happens when the disk fills up mid-line; finish the line if it can.
      done += static_cast<std::size_t>(n);
    }
    if (fsync_ && ::fsync(fd_.get()) != 0) {
      // The delivery fails and is retried: the line must not stay, or it would be there twice.
      return undo("fsync " + path_ + ": " + errno_text(errno));
    }
    return result::success();
  } catch (const std::exception& e) {
    return result::failure(std::string("file: ") + e.what());
  }
}

void file_handler::reopen() noexcept {
  try {
    std::string error;
    unique_fd fresh(open_append(path_, error));
    if (!fresh) {
      spdlog::error("handler {}: reopen failed, still writing to the old file: {}", name_, error);
      return;
    }
    std::lock_guard lock(*mutex_);
    fd_ = std::move(fresh);
  } catch (const std::exception& e) {
    spdlog::error("handler {}: reopen failed: {}", name_, e.what());
  }
}

}  // namespace hookd::handlers::detail
