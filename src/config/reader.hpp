#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <hookd/core/units.hpp>

#include "tree.hpp"

// Validation helpers shared by the schema code: problem collection with key paths, strict
// mapping readers and typed scalar readers. Private to the config module.
namespace hookd::config::detail {

/// Collects "FILE: key.path: problem" lines and returns them in document order.
class diagnostics {
 public:
  explicit diagnostics(std::string file) : file_(std::move(file)) {}

  /// A problem at `path` (empty: the document itself), sorted by the position of `at`.
  void add(const node& at, std::string_view path, std::string_view message);
  /// A problem without a position (sorted first), e.g. a file that cannot be read.
  void add_raw(std::string line);

  bool empty() const noexcept { return problems_.empty(); }
  std::size_t size() const noexcept { return problems_.size(); }
  /// All problems, in the document order of the nodes they concern (stable for ties).
  std::vector<std::string> sorted() const;

 private:
  struct problem {
    std::size_t order;
    std::string text;
  };
  std::string file_;
  std::vector<problem> problems_;
};

/// "a.b" / "a[3]" key paths.
std::string join_path(std::string_view path, std::string_view key);
std::string index_path(std::string_view path, std::size_t index);

/// Reads one mapping strictly: every key the schema asks for is recorded, and finish() reports
/// every other key as unknown (with a suggestion when one is close), and duplicates.
class map_reader {
 public:
  /// `n` must be a mapping (check with expect_mapping first).
  map_reader(const node& n, std::string path, diagnostics& diag);

  /// The value of `key`, or nullptr; `key` becomes a known key either way.
  const node* take(std::string_view key);
  /// As take(), reporting "missing required key" when absent.
  const node* require(std::string_view key);
  /// Marks keys as known without reading them (keys of another variant, handled elsewhere).
  void allow(std::initializer_list<std::string_view> keys);
  std::string path_of(std::string_view key) const { return join_path(path_, key); }
  const std::string& path() const noexcept { return path_; }
  const node& self() const noexcept { return node_; }
  /// Reports unknown keys. `context` (e.g. "for a handler of type file") refines the message.
  void finish(std::string_view context = {});

 private:
  const node& node_;
  std::string path_;
  diagnostics& diag_;
  std::vector<std::string> known_;
};

/// Reports "expected <what>, got <kind>" unless `n` is of kind `k`. Never echoes the value.
bool expect(const node& n, node::kind k, std::string_view path, diagnostics& diag,
            std::string_view what = {});

std::optional<std::string> read_string(const node& n, std::string_view path, diagnostics& diag);
/// A non-empty string.
std::optional<std::string> read_name(const node& n, std::string_view path, diagnostics& diag);
std::optional<bool> read_bool(const node& n, std::string_view path, diagnostics& diag);
/// An integer in [min, max].
std::optional<std::uint64_t> read_count(const node& n, std::string_view path, diagnostics& diag,
                                        std::uint64_t min, std::uint64_t max);
/// `500ms`, `30s`, `5m`, `1h`, `7d`; at least `min`.
std::optional<duration> read_duration(const node& n, std::string_view path, diagnostics& diag,
                                      duration min);
/// `512KiB`, `1MiB`, ... or an integer number of bytes; at least `min`.
std::optional<std::uint64_t> read_size(const node& n, std::string_view path, diagnostics& diag,
                                       std::uint64_t min);
/// One of `choices`; returns its index.
std::optional<std::size_t> read_choice(const node& n, std::string_view path, diagnostics& diag,
                                       std::initializer_list<std::string_view> choices,
                                       std::string_view what);

/// `"text"`, with control characters replaced so a message stays on one line.
std::string quote(std::string_view text);

/// "a, b or c"
std::string or_list(const std::vector<std::string>& items);

}  // namespace hookd::config::detail
