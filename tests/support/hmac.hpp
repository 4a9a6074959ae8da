#pragma once

#include <string>
#include <string_view>

namespace hookd::test {

/// HMAC-SHA256(key, message), computed with OpenSSL independently of hookd's own code, for
/// signing requests in tests.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
std::string hmac_sha256_base64(std::string_view key, std::string_view message);

}  // namespace hookd::test
