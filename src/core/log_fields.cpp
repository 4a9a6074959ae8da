#include <fmt/format.h>

#include <hookd/core/log_fields.hpp>

namespace hookd {

namespace {

// The encoding inside a log message: <message>(US <key> ('=' | '#') <value>)*
constexpr char field_separator = '\x1f';
constexpr char string_mark = '=';
constexpr char number_mark = '#';

constexpr char hex_digits[] = "0123456789abcdef";

bool is_control(unsigned char c) noexcept {
  return c < 0x20 || c == 0x7f;
}

/// Length of the valid UTF-8 sequence at `s[i]`, or 0 when the bytes there are not one.
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte (overlongs, surrogates)
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return n;
}

/// `text` as the inside of a JSON string: escapes, control characters as \u00XX, invalid UTF-8
/// as U+FFFD, so every line stays valid JSON whatever a message holds.
void append_json_string(std::string_view text, std::string& out) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex_digits[c >> 4];
      out += hex_digits[c & 0xf];
    } else if (c >= 0x80) {
      const std::size_t n = utf8_length(text, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
        continue;
      }
      out.append(text.substr(i, n));
      i += n;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
}

/// Calls `field(key, mark, value)` for each field of `payload`; returns the message part.
template <class Field>
std::string_view split_fields(std::string_view payload, Field&& field) {
  const auto first = payload.find(field_separator);
  const std::string_view message = payload.substr(0, first);
  std::size_t at = first;
  while (at != std::string_view::npos) {
    const auto next = payload.find(field_separator, at + 1);
    const std::string_view item = payload.substr(
        at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1);
    const auto mark = item.find_first_of("=#");
    if (mark != std::string_view::npos) {
      field(item.substr(0, mark), item[mark], item.substr(mark + 1));
    }
    at = next;
  }
  return message;
}

}  // namespace

log_fields::log_fields(std::string_view message) : text_(message) {}

log_fields& log_fields::str(std::string_view key, std::string_view value) {
  text_ += field_separator;
  text_ += key;
  text_ += string_mark;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_control(c)) {
      text_ += "\\x";
      text_ += hex_digits[c >> 4];
      text_ += hex_digits[c & 0xf];
    } else {
      text_ += ch;
    }
  }
  return *this;
}

log_fields& log_fields::num(std::string_view key, std::int64_t value) {
  fmt::format_to(std::back_inserter(text_), "{}{}{}{}", field_separator, key, number_mark, value);
  return *this;
}

log_fields& log_fields::num(std::string_view key, std::uint64_t value) {
  fmt::format_to(std::back_inserter(text_), "{}{}{}{}", field_separator, key, number_mark, value);
  return *this;
}

log_fields& log_fields::num(std::string_view key, double value, int decimals) {
  fmt::format_to(std::back_inserter(text_), "{}{}{}{:.{}f}", field_separator, key, number_mark,
                 value, decimals);
  return *this;
}

void render_log_text(std::string_view payload, std::string& out) {
  std::string fields;
  const auto message =
      split_fields(payload, [&](std::string_view key, char mark, std::string_view value) {
        fields += ' ';
        fields += key;
        fields += '=';
        const bool quote = mark == string_mark &&
                           (value.empty() || value.find_first_of(" \"") != std::string_view::npos);
        if (!quote) {
          fields += value;
          return;
        }
        fields += '"';
        for (const char c : value) {
          if (c == '"' || c == '\\') fields += '\\';
          fields += c;
        }
        fields += '"';
      });
  out += message;
  out += fields;
}

void render_log_json(std::string_view payload, std::string& out) {
  std::string fields;
  const auto message =
      split_fields(payload, [&](std::string_view key, char mark, std::string_view value) {
        fields += ",\"";
        append_json_string(key, fields);
        fields += "\":";
        if (mark == number_mark) {
          fields += value;
          return;
        }
        fields += '"';
        append_json_string(value, fields);
        fields += '"';
      });
  out += "\"msg\":\"";
  append_json_string(message, out);
  out += '"';
  out += fields;
}

}  // namespace hookd
