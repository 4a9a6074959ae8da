#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <hookd/spool/spool.hpp>

/// `hookd events list|show|replay|stats`: the operator's view of the spool. Opens the spool named
/// by the config's spool.path in the client role, so it works while the daemon runs: read-only
/// for list, show and stats, never migrating the schema. The config is validated in full, but
/// its credentials (`{env:}`, `{file:}`) are not read.
namespace hookd::cli {

enum class events_action { none, list, show, replay, stats };

/// The parsed command line of `hookd events …` (everything after "events"). Parsing never
/// touches the file system; `error` non-empty is a usage error (exit 2).
struct events_args {
  events_action action = events_action::none;
  bool help = false;
  std::string error;
  std::string config_file;
  bool json = false;  ///< list, show, stats: machine-readable output
  // list
  spool::list_filter filter;
  // show, replay
  std::vector<std::string> ids;         ///< show: exactly one; replay: one or more
  std::optional<std::string> endpoint;  ///< list filter; show/replay: disambiguates an event id
  // replay
  bool dead = false;
  std::optional<std::string> handler;
};

events_args parse_events_args(const std::vector<std::string_view>& args);

/// The help text of `hookd events` (action none) or of one action.
std::string_view events_usage(events_action action);

/// Runs `hookd events …`: 0 ok, 1 error (no spool, unknown id, SQLite error), 2 usage error.
int events_command(const std::vector<std::string_view>& args);

}  // namespace hookd::cli
