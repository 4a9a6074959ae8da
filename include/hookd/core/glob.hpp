#pragma once

#include <string_view>

namespace hookd {

/// Shell-style match of the whole text: `*` any run (also empty), `?` one character, anything
/// else literally. No character classes. Linear in practice, no recursion.
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

}  // namespace hookd
