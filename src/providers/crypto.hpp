#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include <hookd/config/config.hpp>

/// OpenSSL 3 wrappers for the verification schemes. Private to hookd_providers.
namespace hookd::providers::detail {

struct evp_mac_deleter {
  void operator()(EVP_MAC* p) const noexcept { EVP_MAC_free(p); }
};
struct evp_mac_ctx_deleter {
  void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
};
using evp_mac_ptr = std::unique_ptr<EVP_MAC, evp_mac_deleter>;
using evp_mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, evp_mac_ctx_deleter>;

using sha256_digest = std::array<unsigned char, 32>;

/// SHA-256 of `data`. Never fails in practice; an OpenSSL failure yields all zero bytes, which
/// no credential comparison relies on (both sides of a comparison come from this function).
sha256_digest sha256(std::string_view data) noexcept;

/// Compares `candidate` with every credential in constant time with respect to the contents and
/// the lengths of both: each side is reduced to its SHA-256 first, then compared with
/// CRYPTO_memcmp, and every credential is compared (no early exit on a match).
class credential_set {
 public:
  explicit credential_set(const std::vector<std::string>& credentials);
  bool matches(std::string_view candidate) const noexcept;
  bool empty() const noexcept { return digests_.empty(); }

 private:
  std::vector<sha256_digest> digests_;
};

/// HMAC keyed by each of several secrets (rotation). One MAC context per secret is initialized
/// with its key at construction; each computation duplicates it, so a request neither re-derives
/// the key pads nor touches shared mutable state: safe from any number of threads.
class hmac_keys {
 public:
  /// Throws std::runtime_error when OpenSSL cannot provide the algorithm (broken installation).
  hmac_keys(config::hmac_algorithm algorithm, const std::vector<std::string>& secrets);

  std::size_t digest_size() const noexcept { return digest_size_; }
  std::size_t size() const noexcept { return keyed_.size(); }

  /// HMAC of `message` with the key at `index` into `out` (digest_size() bytes). False on an
  /// OpenSSL failure (allocation), which callers treat as "no match".
  bool compute(std::size_t index, std::string_view message, unsigned char* out) const noexcept;

 private:
  std::size_t digest_size_ = 0;
  std::vector<evp_mac_ctx_ptr> keyed_;
};

}  // namespace hookd::providers::detail
