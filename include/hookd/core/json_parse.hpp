#pragma once

#include <cstddef>
#include <string_view>

#include <hookd/core/json.hpp>

namespace hookd {

/// Parses `text` into `out` exactly as `json::parse(text, nullptr, false)` does (one value, with
/// whitespace around it; RFC 8259 strings, numbers and UTF-8): returns false, `out` discarded,
/// when that would discard it.
///
/// Faster on a request's body: nlohmann's lexer takes each byte of a string through a virtual-
/// like `get()` and a `push_back`, 40 % of an io thread's instructions per event. Here a run of
/// plain bytes is found in one loop and appended at once. Whatever this parser does not
/// handle itself, and any input it finds invalid, it hands to nlohmann's parser (which then
/// decides): a number outside the 64-bit range, a float `std::from_chars` reports out of range
/// or that is not finite, a byte order mark, nesting deeper than 512 levels. So its answer and its
/// value are nlohmann's by construction on every path it does not take, and on the paths it takes a
/// differential test (tests/core/json_parse_test.cpp) compares both on a corpus and on random
/// mutations of it.
bool parse_json(std::string_view text, json& out);

/// The length of the longest prefix of `text` that a JSON string holds as it is: printable
/// ASCII (0x20 to 0x7E) but the quote and the backslash. Eight bytes per step.
std::size_t plain_prefix(std::string_view text) noexcept;

namespace detail {
/// parse_json()'s own parser alone: false when it hands the text to nlohmann's (for tests).
bool parse_json_fast(std::string_view text, json& out);
}  // namespace detail

}  // namespace hookd
