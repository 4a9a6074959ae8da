#pragma once

#include <hookd/config/config.hpp>

namespace hookd::cli {

/// Makes the default spdlog logger write to stderr, at `level`, as text or one JSON object per
/// line. Throws std::invalid_argument for an unknown level or format (the loader rejects them
/// first).
void setup_logging(const config::log_config& log);

/// Before the config is read: stderr, info.
void setup_default_logging();

}  // namespace hookd::cli
