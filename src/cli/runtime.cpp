#include "runtime.hpp"

#include <exception>
#include <string>
#include <vector>

#include <hookd/dispatch/routes.hpp>
#include <hookd/handlers/handler.hpp>

namespace hookd::cli {

runtime build_runtime(const config::config& cfg) {
  std::vector<std::string> problems;
  const std::string file = cfg.file.string();
  const auto problem = [&](const std::string& key, const std::string& what) {
    problems.push_back(file + ": " + key + ": " + what);
  };

  // Each endpoint on its own first, so every failing one is named, not only the first.
  for (const auto& spec : cfg.endpoints) {
    const auto key = "endpoints." + spec.name;
    const auto provider = cfg.providers.find(spec.provider);
    if (provider == cfg.providers.end()) {
      problem(key + ".provider", "unknown provider \"" + spec.provider + "\"");
      continue;
    }
    try {
      providers::endpoint check(spec, provider->second);
    } catch (const std::exception& e) {
      problem(key, e.what());
    }
  }

  dispatch::memory_dispatcher::handler_map handlers;
  for (const auto& spec : cfg.handlers) {
    try {
      handlers.emplace(spec.name, handlers::make_handler(spec));
    } catch (const std::exception& e) {
      problem("handlers." + spec.name, e.what());
    }
  }
  if (!problems.empty()) throw config::config_error(std::move(problems));

  runtime rt;
  try {
    rt.endpoints = std::make_shared<const providers::endpoint_table>(cfg);
  } catch (const std::exception& e) {
    problem("endpoints", e.what());
  }
  try {
    rt.dispatcher = std::make_unique<dispatch::memory_dispatcher>(
        dispatch::route_table(cfg.routes), std::move(handlers), cfg.dispatch.queue);
  } catch (const std::exception& e) {
    problem("routes", e.what());
  }
  if (!problems.empty()) throw config::config_error(std::move(problems));
  return rt;
}

}  // namespace hookd::cli
