#include "reader.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace hookd::config::detail {

void diagnostics::add(const node& at, std::string_view path, std::string_view message) {
  std::string line = file_;
  line += ": ";
  if (!path.empty()) {
    line += path;
    line += ": ";
  }
  line += message;
  problems_.push_back({at.order, std::move(line)});
}

void diagnostics::add_raw(std::string line) {
  problems_.push_back({0, std::move(line)});
}

std::vector<std::string> diagnostics::sorted() const {
  std::vector<problem> copy = problems_;
  std::stable_sort(copy.begin(), copy.end(),
                   [](const problem& a, const problem& b) { return a.order < b.order; });
  std::vector<std::string> out;
  out.reserve(copy.size());
  for (auto& p : copy)
    out.push_back(std::move(p.text));
  return out;
}

std::string join_path(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string index_path(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';  // keep messages on one line
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

std::string or_list(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += (i + 1 == items.size()) ? " or " : ", ";
    out += items[i];
  }
  return out;
}

namespace {

// Levenshtein distance, for "did you mean" suggestions on short key names.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

map_reader::map_reader(const node& n, std::string path, diagnostics& diag)
    : node_(n), path_(std::move(path)), diag_(diag) {
  for (std::size_t i = 0; i < node_.members.size(); ++i) {
    const auto& [key, value] = node_.members[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (node_.members[j].first == key) {
        diag_.add(value, path_of(key), "duplicate key (given more than once)");
        break;
      }
    }
  }
}

const node* map_reader::take(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  for (const auto& [k, value] : node_.members) {
    if (k == key) return &value;
  }
  return nullptr;
}

const node* map_reader::require(std::string_view key) {
  const node* n = take(key);
  if (n == nullptr) {
    diag_.add(node_, path_, "missing required key `" + std::string(key) + "`");
  }
  return n;
}

void map_reader::allow(std::initializer_list<std::string_view> keys) {
  for (auto key : keys) {
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  }
}

void map_reader::finish(std::string_view context) {
  for (const auto& [key, value] : node_.members) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string message = "unknown key";
    if (!context.empty()) {
      message += ' ';
      message += context;
    }
    const std::string* best = nullptr;
    std::size_t best_distance = 3;
    for (const auto& candidate : known_) {
      std::size_t d = edit_distance(key, candidate);
      if (d < best_distance && d < candidate.size()) {
        best = &candidate;
        best_distance = d;
      }
    }
    if (best != nullptr) message += " (did you mean `" + *best + "`?)";
    if (known_.empty()) {
      message += "; no keys are allowed here";
    } else {
      std::vector<std::string> sorted = known_;
      std::sort(sorted.begin(), sorted.end());
      message += "; expected one of: ";
      for (std::size_t i = 0; i < sorted.size(); ++i) {
        if (i > 0) message += ", ";
        message += sorted[i];
      }
    }
    diag_.add(value, key.empty() ? path_ : path_of(key), message);
  }
}

bool expect(const node& n, node::kind k, std::string_view path, diagnostics& diag,
            std::string_view what) {
  if (n.type == k) return true;
  std::string message = "expected ";
  message += what.empty() ? std::string_view(kind_name(k)) : what;
  message += ", got ";
  message += kind_name(n.type);
  // A YAML user writing `token: 12345` gets an integer; say how to make it the string meant.
  if (k == node::kind::string && n.is_scalar()) message += " (quote it to make it a string)";
  diag.add(n, path, message);
  return false;
}

std::optional<std::string> read_string(const node& n, std::string_view path, diagnostics& diag) {
  if (!expect(n, node::kind::string, path, diag)) return std::nullopt;
  return n.text;
}

std::optional<std::string> read_name(const node& n, std::string_view path, diagnostics& diag) {
  auto s = read_string(n, path, diag);
  if (s && s->empty()) {
    diag.add(n, path, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> read_bool(const node& n, std::string_view path, diagnostics& diag) {
  if (!expect(n, node::kind::boolean, path, diag, "a boolean (true or false)")) return std::nullopt;
  return n.text == "true";
}

namespace {

// Integer text as written in the document ("+5", "-1", "0042"); nullopt on overflow.
std::optional<std::uint64_t> parse_unsigned(std::string_view text, bool& negative) {
  negative = false;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (!text.empty() && text.front() == '-') {
    negative = true;
    return std::nullopt;
  }
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::uint64_t> read_count(const node& n, std::string_view path, diagnostics& diag,
                                        std::uint64_t min, std::uint64_t max) {
  if (!expect(n, node::kind::integer, path, diag)) return std::nullopt;
  bool negative = false;
  auto value = parse_unsigned(n.text, negative);
  if (!value || *value < min || *value > max) {
    diag.add(
        n, path,
        (max == std::numeric_limits<unsigned>::max()
             ? "must be an integer of at least " + std::to_string(min)
             : "must be an integer from " + std::to_string(min) + " to " + std::to_string(max)) +
            ", got " + n.text);
    return std::nullopt;
  }
  return value;
}

std::optional<duration> read_duration(const node& n, std::string_view path, diagnostics& diag,
                                      duration min) {
  if (!expect(n, node::kind::string, path, diag, "a duration such as 500ms, 30s, 5m, 1h or 7d")) {
    return std::nullopt;
  }
  auto value = parse_duration(n.text);
  if (!value) {
    diag.add(n, path,
             quote(n.text) +
                 " is not a duration; expected an integer and a unit (ms, s, m, h, d), "
                 "e.g. 500ms, 30s, 5m, 1h, 7d");
    return std::nullopt;
  }
  if (*value < min) {
    diag.add(n, path, "must be at least " + format_duration(min));
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint64_t> read_size(const node& n, std::string_view path, diagnostics& diag,
                                       std::uint64_t min) {
  std::optional<std::uint64_t> value;
  if (n.type == node::kind::integer) {
    bool negative = false;
    value = parse_unsigned(n.text, negative);
  } else if (n.type == node::kind::string) {
    value = parse_size(n.text);
  } else {
    expect(n, node::kind::string, path, diag,
           "a size such as 512KiB or 1MiB, or an integer number of bytes");
    return std::nullopt;
  }
  if (!value) {
    diag.add(n, path,
             quote(n.text) +
                 " is not a size; expected an integer number of bytes, optionally with a unit "
                 "(B, KiB, MiB, GiB, kB, MB, GB), e.g. 512KiB, 1MiB");
    return std::nullopt;
  }
  if (*value < min) {
    diag.add(n, path, "must be at least " + format_size(min));
    return std::nullopt;
  }
  return value;
}

std::optional<std::size_t> read_choice(const node& n, std::string_view path, diagnostics& diag,
                                       std::initializer_list<std::string_view> choices,
                                       std::string_view what) {
  std::vector<std::string> names(choices.begin(), choices.end());
  if (!expect(n, node::kind::string, path, diag, "a string (" + or_list(names) + ")")) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == n.text) return i;
  }
  diag.add(n, path,
           "unknown " + std::string(what) + " " + quote(n.text) + "; expected " + or_list(names));
  return std::nullopt;
}

}  // namespace hookd::config::detail
