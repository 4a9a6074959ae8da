#pragma once

#include <string>
#include <string_view>

#include <hookd/config/config.hpp>

/// Computing signatures as providers do: for tools that send signed requests (the load generator,
/// a future `hookd sign`/`send`). Verification does not go through here; it keeps its keyed
/// contexts per endpoint (src/providers/crypto.hpp).
namespace hookd::providers {

/// The raw HMAC of `message` under `key`. Throws std::runtime_error if OpenSSL fails.
std::string hmac(config::hmac_algorithm algorithm, std::string_view key, std::string_view message);

/// Lowercase hex of bytes.
std::string hex(std::string_view bytes);

}  // namespace hookd::providers
