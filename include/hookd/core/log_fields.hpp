#pragma once

#include <cstdint>
#include <string>
#include <string_view>

/// Structured log lines: a message plus named fields, written once and rendered by the logger's
/// formatter as `message key=value ...` (log.format: text) or as members of the line's JSON
/// object (log.format: json), so a log shipper gets stable field names rather than text to parse:
///
///     spdlog::info("{}", log_fields("request").str("endpoint", name).num("status", 200).text());
///
/// The fields travel inside the log message, separated by ASCII control characters (unit
/// separator, then '=' for a string or '#' for a number). str() escapes every control character in
/// a value, so a value from the network can neither forge a field nor break a line.
namespace hookd {

class log_fields {
 public:
  explicit log_fields(std::string_view message);

  /// A string field; control characters in `value` are written as \xNN.
  log_fields& str(std::string_view key, std::string_view value);
  /// A number field.
  log_fields& num(std::string_view key, std::int64_t value);
  log_fields& num(std::string_view key, std::uint64_t value);
  log_fields& num(std::string_view key, unsigned value) {
    return num(key, static_cast<std::uint64_t>(value));
  }
  log_fields& num(std::string_view key, int value) {
    return num(key, static_cast<std::int64_t>(value));
  }
  /// A number with `decimals` digits after the point (durations in milliseconds).
  log_fields& num(std::string_view key, double value, int decimals = 3);

  /// The encoded message, to log as is.
  const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
};

/// Renders a logged message for text logs: `message key=value key="value with spaces"`. A
/// message without fields is copied as is.
void render_log_text(std::string_view payload, std::string& out);

/// Renders a logged message as the inside of a JSON object: `"msg":"message","key":"value",...`,
/// numbers unquoted, strings escaped. A message without fields gives `"msg":"..."` alone.
void render_log_json(std::string_view payload, std::string& out);

}  // namespace hookd
