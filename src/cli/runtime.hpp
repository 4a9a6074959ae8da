#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hookd/config/config.hpp>
#include <hookd/dispatch/durable_dispatcher.hpp>
#include <hookd/dispatch/routes.hpp>
#include <hookd/providers/endpoint.hpp>
#include <hookd/spool/spool.hpp>

namespace hookd::cli {

/// What a reload replaces as one: the endpoints (with their providers), the routes, the handlers
/// and their retry policies, all built from one config and valid together.
struct pipeline {
  std::shared_ptr<const providers::endpoint_table> endpoints;
  dispatch::route_table routes;
  dispatch::durable_dispatcher::handler_map handlers;
  std::map<std::string, config::retry_policy> retry;
};

/// The handlers of a running pipeline and the specs they were built from: a reload takes a
/// handler whose spec did not change from here instead of building it again, so it keeps its
/// open file and its state.
struct reusable_handlers {
  const std::vector<config::handler_spec>& specs;
  const dispatch::durable_dispatcher::handler_map& handlers;
};

/// What a build is for. `check` (`hookd check`) validates exactly what `run` would build, but
/// has no side effects: it opens no spool (a running daemon holds its lock) and no handler file
/// (it may run as another user than the daemon; a file it created would belong to that user).
enum class build_mode { run, check };

/// Builds every endpoint, handler and route of `cfg` and checks them against each other. Throws
/// config::config_error listing every part that could not be built, each
/// "FILE: key.path: problem". With build_mode::check, handlers are only checked
/// (handlers::check_handler) and the pipeline has none.
pipeline build_pipeline(const config::config& cfg, const reusable_handlers* reuse = nullptr,
                        build_mode mode = build_mode::run);

/// What a config turns into at start-up, shared by `run` and `check` so that check fails exactly
/// where run would.
struct runtime {
  pipeline parts;
  /// Shared by the spool's on_commit hook and the dispatcher's workers.
  std::shared_ptr<dispatch::wakeup> wake;
  /// The spool (daemon role: holds the file's lock). Declared before the dispatcher, which uses
  /// it: destroyed after it. Null when built with build_mode::check.
  std::unique_ptr<spool::store> spool;
  /// Started: stop() it when done. Null when built with build_mode::check.
  std::unique_ptr<dispatch::durable_dispatcher> dispatcher;
};

/// Hooks the daemon gives the stages it builds (metrics).
struct runtime_hooks {
  std::function<void(const spool::batch_info&)> on_batch;  ///< spool::options::on_batch
  /// dispatch::durable_dispatcher::options::on_attempt
  std::function<void(std::string_view, std::string_view, double)> on_attempt;
  std::function<void()> on_migrating;  ///< spool::options::on_migrating
};

/// Builds the pipeline, and with build_mode::run the spool and the dispatcher over it. Throws
/// config::config_error as build_pipeline() does; a spool that cannot be opened is reported under
/// `spool.path`.
runtime build_runtime(const config::config& cfg, build_mode mode = build_mode::run,
                      const runtime_hooks& hooks = {});

}  // namespace hookd::cli
