#include "logging.hpp"

#include <memory>
#include <stdexcept>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace hookd::cli {

namespace {

/// %* in a pattern: the message as the inside of a JSON string (quotes, backslashes and control
/// characters escaped), so `format: json` lines stay valid JSON whatever a message contains.
class json_message_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char hex[] = "0123456789abcdef";
    for (const char c : msg.payload) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\r':
          dest.append(std::string_view("\\r"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const auto u = static_cast<unsigned char>(c);
            const char esc[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 0xf]};
            dest.append(esc, esc + sizeof esc);
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_message_flag>();
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
  auto logger = stderr_logger();
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

void setup_logging(const config::log_config& log) {
  const auto level = spdlog::level::from_str(log.level);
  if (level == spdlog::level::off && log.level != "off") {
    throw std::invalid_argument("log.level: unknown level \"" + log.level + "\"");
  }
  auto logger = stderr_logger();
  logger->set_level(level);
  if (log.format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<json_message_flag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})");
    logger->set_formatter(std::move(formatter));
  } else if (log.format == "text") {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  } else {
    throw std::invalid_argument("log.format: unknown format \"" + log.format + "\"");
  }
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace hookd::cli
