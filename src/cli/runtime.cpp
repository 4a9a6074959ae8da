#include "runtime.hpp"

#include <exception>
#include <string>
#include <vector>

#include <hookd/dispatch/routes.hpp>
#include <hookd/handlers/handler.hpp>

namespace hookd::cli {

runtime build_runtime(const config::config& cfg, bool open_spool) {
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

  dispatch::durable_dispatcher::handler_map handlers;
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
  // The check the dispatcher makes, also done without a spool (for `check`).
  for (const auto& name : dispatch::route_table(cfg.routes).handler_names()) {
    if (handlers.count(name) == 0) problem("routes", "unknown handler " + name);
  }
  if (!problems.empty() || !open_spool) {
    if (!problems.empty()) throw config::config_error(std::move(problems));
    return rt;
  }

  rt.wake = std::make_shared<dispatch::wakeup>();
  spool::options so;
  so.path = cfg.spool.path;
  so.dedup_window = cfg.spool.dedup_window;
  so.retention = cfg.spool.retention;
  so.max_backlog = cfg.spool.max_backlog;
  so.on_commit = [wake = rt.wake] { wake->notify(); };
  try {
    rt.spool = std::make_unique<spool::store>(std::move(so));
  } catch (const std::exception& e) {
    problem("spool.path", e.what());
    throw config::config_error(std::move(problems));
  }
  try {
    rt.dispatcher = std::make_unique<dispatch::durable_dispatcher>(
        *rt.spool, dispatch::route_table(cfg.routes), std::move(handlers),
        dispatch::durable_dispatcher::options_from(cfg, rt.wake));
  } catch (const std::exception& e) {
    problem("routes", e.what());
  }
  if (!problems.empty()) throw config::config_error(std::move(problems));
  return rt;
}

}  // namespace hookd::cli
