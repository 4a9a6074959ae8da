#include "logging.hpp"

#include <memory>
#include <stdexcept>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <hookd/core/log_fields.hpp>

namespace hookd::cli {

namespace {

/// %* in a pattern: the message with its structured fields (core/log_fields.hpp), rendered as
/// text or as JSON members, so `format: json` lines stay valid JSON whatever a message contains.
template <bool Json>
class message_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string out;
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if constexpr (Json) {
      render_log_json(payload, out);
    } else {
      render_log_text(payload, out);
    }
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<message_flag>();
  }
};

std::shared_ptr<spdlog::logger> stderr_logger() {
  auto logger =
      std::make_shared<spdlog::logger>("hookd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  // Flushed per line: stderr goes to journald or a test's file, and a line must not wait.
  logger->flush_on(spdlog::level::trace);
  return logger;
}

}  // namespace

void setup_default_logging() {
  spdlog::set_default_logger(stderr_logger());
  setup_logging(config::log_config{});
}

void setup_logging(const config::log_config& log) {
  const auto level = spdlog::level::from_str(log.level);
  if (level == spdlog::level::off && log.level != "off") {
    throw std::invalid_argument("log.level: unknown level \"" + log.level + "\"");
  }
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (log.format == "json") {
    formatter->add_flag<message_flag<true>>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%*})");
  } else if (log.format == "text") {
    formatter->add_flag<message_flag<false>>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %*");
  } else {
    throw std::invalid_argument("log.format: unknown format \"" + log.format + "\"");
  }
  // Changes the logger in place rather than replacing it: other threads may be logging through
  // it (a reload), and both calls are thread-safe (atomic level, the sink's own mutex).
  auto logger = spdlog::default_logger();
  logger->set_formatter(std::move(formatter));
  logger->set_level(level);
}

}  // namespace hookd::cli
