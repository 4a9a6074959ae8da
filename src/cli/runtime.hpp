#pragma once

#include <memory>

#include <hookd/config/config.hpp>
#include <hookd/dispatch/durable_dispatcher.hpp>
#include <hookd/providers/endpoint.hpp>
#include <hookd/spool/spool.hpp>

namespace hookd::cli {

/// What a config turns into at start-up, shared by `run` and `check` so that check fails exactly
/// where run would.
struct runtime {
  std::shared_ptr<const providers::endpoint_table> endpoints;
  /// Shared by the spool's on_commit hook and the dispatcher's workers.
  std::shared_ptr<dispatch::wakeup> wake;
  /// The spool (daemon role: holds the file's lock). Declared before the dispatcher, which uses
  /// it: destroyed after it. Null when built with open_spool = false.
  std::unique_ptr<spool::store> spool;
  /// Started: stop() it when done. Null when built with open_spool = false.
  std::unique_ptr<dispatch::durable_dispatcher> dispatcher;
};

/// Builds every endpoint and handler, and with `open_spool` the spool and the dispatcher over it.
/// `check` passes false: it must not take the spool's lock from a running daemon. Throws
/// config::config_error listing every part that could not be built, each
/// "FILE: key.path: problem".
runtime build_runtime(const config::config& cfg, bool open_spool = true);

}  // namespace hookd::cli
