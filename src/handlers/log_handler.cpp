#include "log_handler.hpp"

#include <spdlog/spdlog.h>

#include "text.hpp"

namespace hookd::handlers::detail {

log_handler::log_handler(std::string name) : name_(std::move(name)) {}

result log_handler::deliver(const delivery& d) noexcept {
  try {
    // Values come from the network: escape them so one event stays one log line.
    spdlog::info("event endpoint={} type={} id={} subject={} handler={} attempt={}",
                 escape_control(d.ev.endpoint), escape_control(d.ev.type), escape_control(d.ev.id),
                 escape_control(d.ev.subject), name_, d.attempt);
    return result::success();
  } catch (const std::exception& e) {
    // spdlog reports its own errors through its error handler; this guards allocation failures.
    return result::failure(std::string("log: ") + e.what());
  }
}

}  // namespace hookd::handlers::detail
