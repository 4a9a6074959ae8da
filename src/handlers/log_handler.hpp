#pragma once

#include <string>

#include <hookd/handlers/handler.hpp>

namespace hookd::handlers::detail {

/// `type: log`: one info line per event on the default spdlog logger with the endpoint, type, id
/// and subject. Never the data (it may hold personal data), never a credential.
/// Thread-safe: spdlog's default logger is.
class log_handler final : public handler {
 public:
  explicit log_handler(std::string name);
  const std::string& name() const noexcept override { return name_; }
  result deliver(const delivery& d) noexcept override;

 private:
  std::string name_;
};

}  // namespace hookd::handlers::detail
