#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

/// The `hookd` subcommands. Each returns the process exit code:
///   0 success, 1 invalid config or runtime error, 2 usage error (decided in main.cpp).
namespace hookd::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

/// `hookd run --config FILE`: serve in the foreground until SIGINT/SIGTERM, logging to stderr.
int run_command(const std::filesystem::path& config_file);

/// `hookd check --config FILE`: load the config and build everything `run` builds (endpoints,
/// handlers, routes) without serving. Prints "FILE: ok", or one "FILE: key.path: problem" line
/// per problem on stderr.
int check_command(const std::filesystem::path& config_file);

/// `hookd events list|show|replay|stats …` (the arguments after "events"); see events_command.hpp.
int events_command(const std::vector<std::string_view>& args);

}  // namespace hookd::cli
