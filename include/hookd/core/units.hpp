#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hookd {

using duration = std::chrono::milliseconds;

/// Parses `500ms`, `30s`, `5m`, `1h`, `7d` (a non-negative integer and one unit).
/// Returns nullopt for anything else, including a missing unit or an overflow.
std::optional<duration> parse_duration(std::string_view text);

/// Parses a byte size: a plain integer (bytes), or an integer followed by `B`, `KiB`, `MiB`,
/// `GiB` (powers of 1024) or `kB`, `MB`, `GB` (powers of 1000). Nullopt for anything else.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// The shortest exact spelling of a duration in the syntax parse_duration reads (`90s`, `1h`).
std::string format_duration(duration d);

/// A human-readable size (`1MiB`, `1536B`), exact when possible.
std::string format_size(std::uint64_t bytes);

}  // namespace hookd
