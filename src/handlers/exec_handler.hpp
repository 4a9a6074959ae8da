#pragma once

#include <string>
#include <vector>

#include <hookd/handlers/handler.hpp>

namespace hookd::handlers::detail {

/// `type: exec`: runs `command` (an argv, never a shell) once per event, the event's CloudEvents
/// JSON and '\n' on its stdin, in a minimal fixed environment plus the HOOKD_* variables and the
/// configured `env`. The child leads its own process group; on `timeout` the group gets SIGTERM,
/// then SIGKILL after a grace period; when the command exits, whatever it left running in its
/// group is killed. stdout and stderr are captured (merged, up to `max_output` bytes) and logged.
/// Exit status 0 is success, anything else a failure. See docs/handlers.md for the contract.
///
/// Thread-safety: deliver() keeps all its state on the stack, so concurrent calls are safe; the
/// dispatcher limits them to concurrency().
class exec_handler final : public handler {
 public:
  /// The fixed search path for a command[0] without '/', and the child's PATH.
  static constexpr const char* search_path = "/usr/local/bin:/usr/bin:/bin";

  /// Validates the spec (non-empty command, env names, concurrency >= 1); throws
  /// std::runtime_error naming the key at fault otherwise.
  exec_handler(std::string name, const config::exec_handler& spec);

  const std::string& name() const noexcept override { return name_; }
  result deliver(const delivery& d) noexcept override;
  unsigned concurrency() const noexcept override { return spec_.concurrency; }

 private:
  std::string name_;
  config::exec_handler spec_;
};

}  // namespace hookd::handlers::detail
