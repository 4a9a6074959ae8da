// hookd: parse the command line and hand over to a command (commands.hpp). Exit codes:
// 0 ok, 1 invalid config or runtime error, 2 usage error.
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"

namespace {

using namespace hookd::cli;

constexpr std::string_view main_usage = R"(usage: hookd <command> [options]

hookd receives webhooks, verifies them, and hands them to handlers.

commands:
  run --config FILE     serve in the foreground (SIGINT/SIGTERM: graceful stop)
  check --config FILE   validate FILE and everything built from it, then exit
  events ACTION …       list, show, replay the events in the spool; stats
  version               print the version

options:
  -h, --help            show this help; `hookd <command> --help` for a command's

exit codes: 0 ok, 1 invalid config or runtime error, 2 usage error
)";

constexpr std::string_view run_usage = R"(usage: hookd run --config FILE

Serves webhooks in the foreground, logging to stderr, until SIGINT or SIGTERM; then stops
accepting, finishes the requests in flight within server.shutdown_grace, delivers queued events,
and exits 0.

signals:
  SIGTERM, SIGINT       graceful stop (a second one: stop at once)
  SIGHUP                reload FILE: endpoints, providers, routes, handlers and log are
                        replaced at once, requests in flight finishing on the old ones; a file
                        with any problem is refused, every problem logged, the old config kept.
                        server.*, spool.*, admin.* and dispatch.workers need a restart: a
                        change to them is logged and not applied
  SIGUSR1               reopen the file handlers' files (logrotate)

under systemd (Type=notify): READY=1 once the spool is open and every listener accepts,
RELOADING=1 ... READY=1 around a reload, STOPPING=1, WATCHDOG=1 when WatchdogSec= is set, STATUS=
with events accepted, pending and dead. With socket activation (hookd.socket) it serves the
inherited sockets and ignores server.listen.

options:
  -c, --config FILE     the config file (YAML or JSON)
  -h, --help            show this help

exit codes: 0 stopped cleanly, 1 invalid config or start-up failure, 2 usage error
)";

constexpr std::string_view check_usage = R"(usage: hookd check --config FILE

Loads FILE with the same loader `run` uses and builds every endpoint and handler, without
serving. Prints "FILE: ok", or one "FILE: key.path: problem" line per problem on stderr.

options:
  -c, --config FILE     the config file (YAML or JSON)
  -h, --help            show this help

exit codes: 0 valid, 1 invalid, 2 usage error
)";

constexpr std::string_view version_usage = R"(usage: hookd version

Prints "hookd <version>".
)";

int usage_error(const std::string& problem) {
  std::cerr << "hookd: " << problem << "\nTry 'hookd --help'.\n";
  return exit_usage;
}

bool is_help(std::string_view arg) {
  return arg == "-h" || arg == "--help";
}

/// The options of `run` and `check`: exactly one --config FILE, or --help.
struct config_args {
  bool help = false;
  std::optional<std::string> file;
  std::string error;
};

config_args parse_config_args(const std::vector<std::string_view>& args) {
  config_args out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto arg = args[i];
    if (is_help(arg)) {
      out.help = true;
      return out;
    }
    std::optional<std::string> value;
    if (arg == "-c" || arg == "--config") {
      if (i + 1 == args.size()) {
        out.error = std::string(arg) + " needs a FILE";
        return out;
      }
      value = std::string(args[++i]);
    } else if (arg.starts_with("--config=")) {
      value = std::string(arg.substr(9));
    } else {
      out.error = "unexpected argument '" + std::string(arg) + "'";
      return out;
    }
    if (out.file) {
      out.error = "--config given twice";
      return out;
    }
    if (value->empty()) {
      out.error = "--config needs a FILE";
      return out;
    }
    out.file = std::move(value);
  }
  if (!out.file) out.error = "missing --config FILE";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << main_usage;
    return exit_usage;
  }
  const auto command = args.front();
  const std::vector<std::string_view> rest(args.begin() + 1, args.end());

  if (is_help(command)) {
    std::cout << main_usage;
    return exit_ok;
  }
  if (command == "version" || command == "--version") {
    if (!rest.empty() && is_help(rest.front())) {
      std::cout << version_usage;
      return exit_ok;
    }
    if (!rest.empty()) return usage_error("version takes no arguments");
    std::cout << "hookd " HOOKD_VERSION "\n";
    return exit_ok;
  }
  if (command == "run" || command == "check") {
    const auto parsed = parse_config_args(rest);
    if (parsed.help) {
      std::cout << (command == "run" ? run_usage : check_usage);
      return exit_ok;
    }
    if (!parsed.error.empty()) return usage_error(std::string(command) + ": " + parsed.error);
    return command == "run" ? run_command(*parsed.file) : check_command(*parsed.file);
  }
  if (command == "events") return events_command(rest);
  return usage_error("unknown command '" + std::string(command) + "'");
}
