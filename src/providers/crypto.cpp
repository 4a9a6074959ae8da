#include "crypto.hpp"

#include <stdexcept>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

namespace hookd::providers::detail {

namespace {

const char* digest_name(config::hmac_algorithm algorithm) noexcept {
  switch (algorithm) {
    case config::hmac_algorithm::sha1:
      return "SHA1";
    case config::hmac_algorithm::sha256:
      return "SHA256";
    case config::hmac_algorithm::sha512:
      return "SHA512";
  }
  return "SHA256";
}

struct evp_md_deleter {
  void operator()(EVP_MD* p) const noexcept { EVP_MD_free(p); }
};

/// Fetched once per process: EVP_sha256() would look the implementation up on every call.
const EVP_MD* sha256_md() noexcept {
  static const std::unique_ptr<EVP_MD, evp_md_deleter> md{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
  return md ? md.get() : EVP_sha256();
}

}  // namespace

sha256_digest sha256(std::string_view data) noexcept {
  sha256_digest out{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, sha256_md(), nullptr) != 1 ||
      size != out.size()) {
    out.fill(0);
  }
  return out;
}

credential_set::credential_set(const std::vector<std::string>& credentials) {
  digests_.reserve(credentials.size());
  for (const auto& c : credentials)
    digests_.push_back(sha256(c));
}

bool credential_set::matches(std::string_view candidate) const noexcept {
  const sha256_digest d = sha256(candidate);
  int matched = 0;
  for (const auto& expected : digests_) {
    matched |= CRYPTO_memcmp(d.data(), expected.data(), d.size()) == 0 ? 1 : 0;
  }
  return matched != 0;
}

hmac_keys::hmac_keys(config::hmac_algorithm algorithm, const std::vector<std::string>& secrets) {
  const evp_mac_ptr mac{EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
  if (!mac) throw std::runtime_error("OpenSSL: HMAC is not available");
  // OSSL_PARAM wants a mutable char*; OpenSSL only reads it.
  std::string digest = digest_name(algorithm);
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
      OSSL_PARAM_construct_end()};
  // An empty secret still needs a valid key pointer: OpenSSL treats a null key as "keep the
  // previous key" rather than "the empty key".
  static const unsigned char empty_key[1] = {0};
  for (const auto& secret : secrets) {
    evp_mac_ctx_ptr ctx{EVP_MAC_CTX_new(mac.get())};
    const auto* key =
        secret.empty() ? empty_key : reinterpret_cast<const unsigned char*>(secret.data());
    if (!ctx || EVP_MAC_init(ctx.get(), key, secret.size(), params) != 1) {
      throw std::runtime_error(std::string("OpenSSL: cannot set up HMAC-") + digest);
    }
    digest_size_ = EVP_MAC_CTX_get_mac_size(ctx.get());
    keyed_.push_back(std::move(ctx));
  }
  if (keyed_.empty()) {
    // No secret (verify: none): still report the algorithm's size for signature decoding.
    const EVP_MD* md = EVP_get_digestbyname(digest.c_str());
    digest_size_ = md != nullptr ? static_cast<std::size_t>(EVP_MD_get_size(md)) : 0;
  }
}

bool hmac_keys::compute(std::size_t index, std::string_view message,
                        unsigned char* out) const noexcept {
  const evp_mac_ctx_ptr ctx{EVP_MAC_CTX_dup(keyed_[index].get())};
  if (!ctx) return false;
  std::size_t written = 0;
  return EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(message.data()),
                        message.size()) == 1 &&
         EVP_MAC_final(ctx.get(), out, &written, digest_size_) == 1 && written == digest_size_;
}

}  // namespace hookd::providers::detail
