#pragma once

#include <filesystem>
#include <string_view>

#include <hookd/config/config.hpp>

namespace hookd::config {

enum class format { yaml, json, detect };

/// Reads and validates a config file: YAML or JSON (by extension .json/.yaml/.yml, else by
/// content), strict (unknown keys are errors), secrets resolved from env vars and files.
/// Throws config_error listing every problem with the file name and key path.
config load_file(const std::filesystem::path& file);

/// The same from text already in memory; `file` names it in messages (and, with format::detect,
/// decides the syntax by its extension as load_file does). Relative paths anywhere in
/// the config (spool, handler files, `{file: PATH}` secrets) are relative to the working directory.
config load_text(std::string_view text, const std::filesystem::path& file,
                 format fmt = format::detect);

/// The built-in provider presets, parsed from the embedded presets document.
const std::map<std::string, provider_spec>& builtin_providers();

}  // namespace hookd::config
