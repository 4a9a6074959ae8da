#pragma once

#include <optional>
#include <string>
#include <string_view>

/// Byte-string codecs used by the verification schemes. Private to hookd_providers.
namespace hookd::providers::detail {

/// Hex digits (either case, even count) to bytes; nullopt on any other character or odd length.
std::optional<std::string> hex_decode(std::string_view text);

/// Lowercase hex of arbitrary bytes.
std::string hex_encode(std::string_view bytes);

/// Standard-alphabet base64 (RFC 4648 section 4) to bytes. Padding may be present (exactly as
/// required) or absent; nullopt on any other character, misplaced padding or non-zero trailing
/// bits, so one digest has exactly one accepted spelling besides the padding.
std::optional<std::string> base64_decode(std::string_view text);

/// Decodes one query-string component: `%XX` escapes and `+` as space. A `%` not followed by two
/// hex digits is kept literally (as browsers and most servers do).
std::string form_decode(std::string_view text);

/// The value of the first `name=value` pair of a raw query string (`a=1&b=2`) whose decoded name
/// is `name`, decoded; nullopt when there is none. A bare `name` (no `=`) yields "".
std::optional<std::string> query_param(std::string_view query, std::string_view name);

/// Strips spaces and horizontal tabs at both ends.
std::string_view trim_blanks(std::string_view text) noexcept;

}  // namespace hookd::providers::detail
