#pragma once

#include <memory>

#include <hookd/config/config.hpp>
#include <hookd/dispatch/memory_dispatcher.hpp>
#include <hookd/providers/endpoint.hpp>

namespace hookd::cli {

/// What a config turns into at start-up, shared by `run` and `check` so that check fails exactly
/// where run would.
struct runtime {
  std::shared_ptr<const providers::endpoint_table> endpoints;
  std::unique_ptr<dispatch::memory_dispatcher> dispatcher;  ///< started: stop() it when done
};

/// Builds every endpoint and handler and the dispatcher. Throws config::config_error listing
/// every part that could not be built, each "FILE: key.path: problem".
runtime build_runtime(const config::config& cfg);

}  // namespace hookd::cli
