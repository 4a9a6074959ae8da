#include "log_handler.hpp"

#include <spdlog/spdlog.h>

#include <hookd/core/log_fields.hpp>

namespace hookd::handlers::detail {

log_handler::log_handler(std::string name) : name_(std::move(name)) {}

result log_handler::deliver(const delivery& d) noexcept {
  try {
    // Values come from the network: log_fields escapes them, so one event stays one log line.
    spdlog::info("{}", log_fields("event")
                           .str("endpoint", d.ev.endpoint)
                           .str("type", d.ev.type)
                           .str("id", d.ev.id)
                           .str("subject", d.ev.subject)
                           .str("handler", name_)
                           .num("attempt", d.attempt)
                           .text());
    return result::success();
  } catch (const std::exception& e) {
    // spdlog reports its own errors through its error handler; this guards allocation failures.
    return result::failure(std::string("log: ") + e.what());
  }
}

}  // namespace hookd::handlers::detail
