#include <stdexcept>
#include <vector>

#include <hookd/providers/signing.hpp>

#include "crypto.hpp"
#include "encoding.hpp"

namespace hookd::providers {

std::string hmac(config::hmac_algorithm algorithm, std::string_view key, std::string_view message) {
  const detail::hmac_keys keys(algorithm, {std::string(key)});
  std::string out(keys.digest_size(), '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): OpenSSL takes unsigned bytes
  if (!keys.compute(0, message, reinterpret_cast<unsigned char*>(out.data()))) {
    throw std::runtime_error("HMAC computation failed");
  }
  return out;
}

std::string hex(std::string_view bytes) {
  return detail::hex_encode(bytes);
}

}  // namespace hookd::providers
