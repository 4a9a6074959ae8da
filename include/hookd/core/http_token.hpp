#pragma once

#include <string_view>

namespace hookd {

/// Whether `text` is an RFC 9110 token (one or more of A-Z a-z 0-9 ! # $ % & ' * + - . ^ _ ` | ~):
/// what an HTTP field name may be.
bool is_http_token(std::string_view text) noexcept;

}  // namespace hookd
