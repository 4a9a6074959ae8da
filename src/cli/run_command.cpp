#include <csignal>
#include <exception>
#include <iostream>
#include <variant>

#include <spdlog/spdlog.h>

#include <hookd/config/loader.hpp>
#include <hookd/core/units.hpp>
#include <hookd/http/server.hpp>

#include "commands.hpp"
#include "logging.hpp"
#include "runtime.hpp"

namespace hookd::cli {

namespace {

const char* handler_type(const config::handler_kind& kind) {
  if (std::holds_alternative<config::log_handler>(kind)) return "log";
  if (std::holds_alternative<config::file_handler>(kind)) return "file";
  return "exec";
}

}  // namespace

int run_command(const std::filesystem::path& config_file) {
  setup_default_logging();
  config::config cfg;
  try {
    cfg = config::load_file(config_file);
    setup_logging(cfg.log);
  } catch (const config::config_error& e) {
    for (const auto& p : e.problems())
      std::cerr << p << '\n';
    return exit_failure;
  } catch (const std::exception& e) {
    std::cerr << config_file.string() << ": " << e.what() << '\n';
    return exit_failure;
  }
  spdlog::info("hookd {} starting with config {}", HOOKD_VERSION, config_file.string());

  // A client or a child closing its end must come back as an error code, not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);

  try {
    runtime rt = build_runtime(cfg);
    for (const auto& ep : cfg.endpoints) {
      spdlog::info("endpoint {}: POST /hooks/{} (provider {}{})", ep.name, ep.name, ep.provider,
                   ep.verify_none ? ", verify: none" : "");
    }
    for (const auto& h : cfg.handlers) {
      spdlog::info("handler {}: {}", h.name, handler_type(h.kind));
    }
    auto endpoints = std::make_shared<http::endpoint_snapshot>(rt.endpoints);
    // Declared after the dispatcher (inside rt): destroyed first, after the dispatcher has run
    // every completion it was given (stop below).
    http::server server(cfg.server, std::move(endpoints), *rt.dispatcher);
    server.on_reopen([&rt] { rt.dispatcher->reopen(); });
    for (const auto& address : server.addresses()) {
      spdlog::info("listening on {}", address.to_string());
    }
    server.run();
    spdlog::info("http server stopped; finishing deliveries in flight for up to {}",
                 format_duration(cfg.server.shutdown_grace));
    rt.dispatcher->stop(cfg.server.shutdown_grace);
    // Commits what is still queued and runs every append completion while the server (their
    // destination) still exists: http::server's lifetime contract.
    rt.spool.reset();
  } catch (const config::config_error& e) {
    for (const auto& p : e.problems())
      spdlog::critical("{}", p);
    return exit_failure;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return exit_failure;
  }
  spdlog::info("stopped");
  return exit_ok;
}

}  // namespace hookd::cli
