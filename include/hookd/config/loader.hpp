#pragma once

#include <filesystem>
#include <string_view>

#include <hookd/config/config.hpp>

namespace hookd::config {

enum class format { yaml, json, detect };

/// What the loader does with endpoint credentials.
enum class credentials {
  resolve,  ///< read `{env:}` and `{file:}` references; a missing one is an error (run, check)
  /// Check every credential's form (and everything else) but read no variable or file, and keep
  /// no credential: endpoint_spec::credentials stays empty, so endpoints cannot be built from
  /// such a config. For tools that only need the rest of it (`hookd events` needs spool.path),
  /// run by an operator who has not the daemon's environment or secret files.
  skip,
};

/// Reads and validates a config file: YAML or JSON (by extension .json/.yaml/.yml, else by
/// content), strict (unknown keys are errors), secrets resolved from env vars and files.
/// Throws config_error listing every problem with the file name and key path.
config load_file(const std::filesystem::path& file, credentials mode = credentials::resolve);

/// The same from text already in memory; `file` names it in messages (and, with format::detect,
/// decides the syntax by its extension as load_file does). Relative paths anywhere in
/// the config (spool, handler files, `{file: PATH}` secrets) are relative to the working directory.
config load_text(std::string_view text, const std::filesystem::path& file,
                 format fmt = format::detect, credentials mode = credentials::resolve);

/// The built-in provider presets, parsed from the embedded presets document.
const std::map<std::string, provider_spec>& builtin_providers();

}  // namespace hookd::config
