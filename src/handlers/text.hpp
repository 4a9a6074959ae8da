#pragma once

#include <string>
#include <string_view>

namespace hookd::handlers::detail {

/// `text` with control characters and backslashes escaped (`\n`, `\t`, `\x1b`, `\\`), so that
/// untrusted values (a provider's subject, a script's output) stay on one log line and cannot
/// forge log records.
std::string escape_control(std::string_view text);

/// The last `max` bytes of `text` (all of it when shorter), escaped as by escape_control.
std::string escaped_tail(std::string_view text, std::size_t max);

/// strerror_r as a std::string (thread-safe).
std::string errno_text(int err);

}  // namespace hookd::handlers::detail
