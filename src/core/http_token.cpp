#include <algorithm>

#include <hookd/core/http_token.hpp>

namespace hookd {

bool is_http_token(std::string_view text) noexcept {
  constexpr std::string_view punctuation = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           punctuation.find(c) != std::string_view::npos;
  });
}

}  // namespace hookd
