#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include <hookd/core/json_parse.hpp>

namespace hookd {

namespace {

constexpr std::uint64_t ones = 0x0101010101010101ULL;
constexpr std::uint64_t highs = 0x8080808080808080ULL;

/// Whether any byte of `x` is zero (the classic bit trick: exact for "any").
constexpr bool any_zero_byte(std::uint64_t x) noexcept {
  return ((x - ones) & ~x & highs) != 0;
}

/// Whether all eight bytes of `x` are plain (see plain_prefix). A borrow or a carry across
/// bytes only happens past a byte that is already not plain, so each test is exact for "any".
constexpr bool all_plain(std::uint64_t x) noexcept {
  const bool below_space = ((x - ones * 0x20) & ~x & highs) != 0;  // a byte < 0x20
  const bool del_or_high = (((x + ones) | x) & highs) != 0;        // a byte >= 0x7F
  return !below_space && !del_or_high && !any_zero_byte(x ^ (ones * '"')) &&
         !any_zero_byte(x ^ (ones * '\\'));
}

constexpr bool is_plain(unsigned char c) noexcept {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

// nlohmann's own limit is none (its parser keeps an explicit stack); this one recurses, so past
// this depth it hands the text over.
constexpr int max_depth = 512;

/// A recursive-descent parser of RFC 8259 JSON into nlohmann::ordered_json. Every function
/// returns false when it cannot or will not produce the value nlohmann's parser would: then
/// parse_json() lets nlohmann parse the whole text.
class fast_parser {
 public:
  explicit fast_parser(std::string_view text) noexcept
      : p_(text.data()), end_(text.data() + text.size()) {}

  bool document(json& out) {
    // A byte order mark (nlohmann skips one, and rejects a broken one): nlohmann's business.
    if (p_ != end_ && static_cast<unsigned char>(*p_) == 0xEF) return false;
    skip_whitespace();
    if (!value(out, 0)) return false;
    skip_whitespace();
    return p_ == end_;
  }

 private:
  void skip_whitespace() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
      ++p_;
  }

  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size()) return false;
    if (std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  bool value(json& out, int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(out, depth + 1);
      case '[':
        return array(out, depth + 1);
      case '"': {
        std::string s;
        if (!string(s)) return false;
        out = std::move(s);
        return true;
      }
      case 't':
        out = true;
        return literal("true");
      case 'f':
        out = false;
        return literal("false");
      case 'n':
        out = nullptr;
        return literal("null");
      default:
        return number(out);
    }
  }

  /// The members or items after an opening '{' or '[' (at p_) up to `close`, each read by
  /// `element` (false: give up), separated by commas, with whitespace around them.
  template <class Element>
  bool sequence(char close, Element&& element) {
    ++p_;  // the opening bracket
    skip_whitespace();
    if (p_ != end_ && *p_ == close) {
      ++p_;
      return true;
    }
    for (;;) {
      if (!element()) return false;
      skip_whitespace();
      if (p_ == end_) return false;
      if (*p_ == close) {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      skip_whitespace();
    }
  }

  bool object(json& out, int depth) {
    if (depth > max_depth) return false;
    out = json::object();
    auto& members = out.get_ref<json::object_t&>();
    return sequence('}', [&] {
      if (p_ == end_ || *p_ != '"') return false;
      std::string key;
      if (!string(key)) return false;
      skip_whitespace();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      skip_whitespace();
      // A repeated key keeps its first place and takes the last value, as nlohmann's parser
      // does (operator[] of the ordered map).
      return value(members[key], depth);
    });
  }

  bool array(json& out, int depth) {
    if (depth > max_depth) return false;
    out = json::array();
    auto& items = out.get_ref<json::array_t&>();
    return sequence(']', [&] {
      items.emplace_back();
      return value(items.back(), depth);
    });
  }

  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

  /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? : an integer that fits nlohmann's types
  /// (negative: int64, else uint64), or a double std::from_chars converts without an error
  /// (correctly rounded, as glibc's strtod that nlohmann calls).
  bool number(json& out) {
    const char* start = p_;
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !is_digit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && is_digit(*p_))
        ++p_;
    }
    bool integral = true;
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ == end_ || !is_digit(*p_)) return false;
      while (p_ != end_ && is_digit(*p_))
        ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) return false;
      while (p_ != end_ && is_digit(*p_))
        ++p_;
    }
    if (integral && negative) {
      std::int64_t v = 0;
      const auto r = std::from_chars(start, p_, v);
      if (r.ec != std::errc{} || r.ptr != p_) return false;  // out of range: a float there
      out = v;
      return true;
    }
    if (integral) {
      std::uint64_t v = 0;
      const auto r = std::from_chars(start, p_, v);
      if (r.ec != std::errc{} || r.ptr != p_) return false;
      out = v;
      return true;
    }
    double v = 0;
    const auto r = std::from_chars(start, p_, v);
    if (r.ec != std::errc{} || r.ptr != p_) return false;  // overflow (rejected) or underflow
    // nlohmann rejects a number that overflows: never accept one as an infinity, whatever this
    // standard library's from_chars does with it.
    if (!std::isfinite(v)) return false;
    out = v;
    return true;
  }

  static int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  /// The four hex digits after "\u", or -1.
  int code_unit() noexcept {
    if (end_ - p_ < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(p_[i]);
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    p_ += 4;
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0U | (cp >> 6U));
      out += static_cast<char>(0x80U | (cp & 0x3FU));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0U | (cp >> 12U));
      out += static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU));
      out += static_cast<char>(0x80U | (cp & 0x3FU));
    } else {
      out += static_cast<char>(0xF0U | (cp >> 18U));
      out += static_cast<char>(0x80U | ((cp >> 12U) & 0x3FU));
      out += static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU));
      out += static_cast<char>(0x80U | (cp & 0x3FU));
    }
  }

  /// After a backslash: the escaped character(s) appended, or false.
  bool escape(std::string& out) {
    if (p_ == end_) return false;
    const char c = *p_++;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out += c;
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    const int first = code_unit();
    if (first < 0) return false;
    auto cp = static_cast<unsigned>(first);
    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate first
    if (cp >= 0xD800 && cp <= 0xDBFF) {              // a high one: its low one must follow
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      const int second = code_unit();
      if (second < 0xDC00 || second > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10U) + (static_cast<unsigned>(second) - 0xDC00);
    }
    append_utf8(out, cp);
    return true;
  }

  static bool in(unsigned char c, unsigned lo, unsigned hi) noexcept { return c >= lo && c <= hi; }

  /// A multi-byte UTF-8 sequence starting at p_, well-formed per RFC 3629 (no overlong forms,
  /// no surrogates, nothing past U+10FFFF: the table nlohmann's lexer checks): its length, or 0.
  std::size_t utf8_sequence() const noexcept {
    const auto left = static_cast<std::size_t>(end_ - p_);
    auto at = [this](std::size_t i) { return static_cast<unsigned char>(p_[i]); };
    const unsigned char b = at(0);
    if (in(b, 0xC2, 0xDF)) return left >= 2 && in(at(1), 0x80, 0xBF) ? 2 : 0;
    if (in(b, 0xE0, 0xEF)) {
      if (left < 3) return 0;
      const unsigned lo = b == 0xE0 ? 0xA0 : 0x80;
      const unsigned hi = b == 0xED ? 0x9F : 0xBF;
      return in(at(1), lo, hi) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    }
    if (in(b, 0xF0, 0xF4)) {
      if (left < 4) return 0;
      const unsigned lo = b == 0xF0 ? 0x90 : 0x80;
      const unsigned hi = b == 0xF4 ? 0x8F : 0xBF;
      return in(at(1), lo, hi) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    }
    return 0;
  }

  /// A string at p_ (its opening quote) into `out`.
  bool string(std::string& out) {
    ++p_;  // '"'
    for (;;) {
      // The run of bytes copied as they are: printable ASCII but the quote and the backslash.
      const std::size_t run =
          plain_prefix(std::string_view(p_, static_cast<std::size_t>(end_ - p_)));
      out.append(p_, run);
      p_ += run;
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        ++p_;
        if (!escape(out)) return false;
      } else if (c == 0x7F) {  // DEL: allowed as it is
        out += static_cast<char>(c);
        ++p_;
      } else if (c >= 0x80) {
        const std::size_t n = utf8_sequence();
        if (n == 0) return false;
        out.append(p_, n);
        p_ += n;
      } else {
        return false;  // a control character
      }
    }
  }

  const char* p_;
  const char* end_;
};

}  // namespace

std::size_t plain_prefix(std::string_view text) noexcept {
  const char* p = text.data();
  const std::size_t n = text.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p + i, sizeof word);
    if (!all_plain(word)) break;
  }
  while (i < n && is_plain(static_cast<unsigned char>(p[i])))
    ++i;
  return i;
}

namespace detail {

bool parse_json_fast(std::string_view text, json& out) {
  fast_parser parser(text);
  json value;
  if (!parser.document(value)) return false;
  out = std::move(value);
  return true;
}

}  // namespace detail

bool parse_json(std::string_view text, json& out) {
  if (detail::parse_json_fast(text, out)) return true;
  out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  return !out.is_discarded();
}

}  // namespace hookd
