#include "runtime.hpp"

#include <algorithm>
#include <exception>
#include <set>
#include <string>
#include <vector>

#include <hookd/handlers/handler.hpp>

namespace hookd::cli {

pipeline build_pipeline(const config::config& cfg, const reusable_handlers* reuse,
                        build_mode mode) {
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

  pipeline out;
  std::set<std::string> usable;  // handlers built (run) or checked (check), for the routes
  for (const auto& spec : cfg.handlers) {
    if (mode == build_mode::check) {
      try {
        handlers::check_handler(spec);
        usable.insert(spec.name);
      } catch (const std::exception& e) {
        problem("handlers." + spec.name, e.what());
      }
      continue;
    }
    if (reuse != nullptr) {
      const auto& old = reuse->specs;
      const auto same = std::find(old.begin(), old.end(), spec);
      const auto running = reuse->handlers.find(spec.name);
      if (same != old.end() && running != reuse->handlers.end()) {
        out.handlers.emplace(spec.name, running->second);
        out.retry.emplace(spec.name, spec.retry);
        usable.insert(spec.name);
        continue;
      }
    }
    try {
      out.handlers.emplace(spec.name, handlers::make_handler(spec));
      out.retry.emplace(spec.name, spec.retry);
      usable.insert(spec.name);
    } catch (const std::exception& e) {
      problem("handlers." + spec.name, e.what());
    }
  }
  if (!problems.empty()) throw config::config_error(std::move(problems));

  try {
    out.endpoints = std::make_shared<const providers::endpoint_table>(cfg);
  } catch (const std::exception& e) {
    problem("endpoints", e.what());
  }
  out.routes = dispatch::route_table(cfg.routes);
  for (const auto& name : out.routes.handler_names()) {
    if (usable.count(name) == 0) problem("routes", "unknown handler " + name);
  }
  if (!problems.empty()) throw config::config_error(std::move(problems));
  return out;
}

runtime build_runtime(const config::config& cfg, build_mode mode, const runtime_hooks& hooks) {
  runtime rt;
  rt.parts = build_pipeline(cfg, nullptr, mode);
  if (mode == build_mode::check) return rt;

  const std::string file = cfg.file.string();
  rt.wake = std::make_shared<dispatch::wakeup>();
  spool::options so;
  so.path = cfg.spool.path;
  so.dedup_window = cfg.spool.dedup_window;
  so.retention = cfg.spool.retention;
  so.max_backlog = cfg.spool.max_backlog;
  so.on_commit = [wake = rt.wake] { wake->notify(); };
  so.on_batch = hooks.on_batch;
  so.on_migrating = hooks.on_migrating;
  try {
    rt.spool = std::make_unique<spool::store>(std::move(so));
  } catch (const std::exception& e) {
    throw config::config_error({file + ": spool.path: " + e.what()});
  }
  auto dispatch_options = dispatch::durable_dispatcher::options_from(cfg, rt.wake);
  dispatch_options.on_attempt = hooks.on_attempt;
  try {
    rt.dispatcher = std::make_unique<dispatch::durable_dispatcher>(
        *rt.spool, rt.parts.routes, rt.parts.handlers, std::move(dispatch_options));
  } catch (const std::exception& e) {
    throw config::config_error({file + ": routes: " + e.what()});
  }
  return rt;
}

}  // namespace hookd::cli
