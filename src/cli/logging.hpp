#pragma once

#include <hookd/config/config.hpp>

namespace hookd::cli {

/// Sets the level and the format (text, or one JSON object per line) of the default logger made by
/// setup_default_logging(). Thread-safe: a reload calls it while other threads log. Throws
/// std::invalid_argument for an unknown level or format (the loader rejects them first).
void setup_logging(const config::log_config& log);

/// Before the config is read (once, before other threads exist): stderr, text, info.
void setup_default_logging();

}  // namespace hookd::cli
