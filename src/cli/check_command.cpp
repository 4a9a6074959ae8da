#include <exception>
#include <iostream>

#include <spdlog/spdlog.h>

#include <hookd/config/loader.hpp>

#include "commands.hpp"
#include "logging.hpp"
#include "runtime.hpp"

namespace hookd::cli {

int check_command(const std::filesystem::path& config_file) {
  // Only warnings and errors from building the runtime, on stderr: stdout carries the verdict.
  setup_default_logging();
  spdlog::set_level(spdlog::level::warn);
  try {
    const auto cfg = config::load_file(config_file);
    // The same construction `run` does, so check fails where run would, but without side
    // effects: no spool (a running daemon holds its lock) and no file created or opened.
    build_runtime(cfg, build_mode::check);
  } catch (const config::config_error& e) {
    for (const auto& p : e.problems())
      std::cerr << p << '\n';
    return exit_failure;
  } catch (const std::exception& e) {
    std::cerr << config_file.string() << ": " << e.what() << '\n';
    return exit_failure;
  }
  std::cout << config_file.string() << ": ok\n";
  return exit_ok;
}

}  // namespace hookd::cli
