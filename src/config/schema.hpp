#pragma once

#include <map>
#include <string>
#include <string_view>

#include <hookd/config/config.hpp>

#include "reader.hpp"

// The parts of the schema shared by the user's config and the embedded presets. Private.
namespace hookd::config::detail {

/// Names of endpoints, handlers and providers: [A-Za-z0-9._-]+, not only dots (they appear as
/// URL path segments, where "." and ".." would be normalized away).
bool valid_name(std::string_view name) noexcept;

/// Reads a `providers:` mapping (user or built-in: the same code). Providers named in `reserved`
/// are refused (a user provider may not shadow a built-in one). Valid ones go into `out`.
void read_providers(const node& section, std::string_view path, bool builtin,
                    const std::map<std::string, provider_spec>& reserved,
                    std::map<std::string, provider_spec>& out, diagnostics& diag);

/// The presets document embedded at build time (generated from src/config/presets.yaml).
extern const char* const embedded_presets;

}  // namespace hookd::config::detail
