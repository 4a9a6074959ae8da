#include "text.hpp"

#include <string.h>

#include <fmt/format.h>

namespace hookd::handlers::detail {

std::string escape_control(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += fmt::format("\\x{:02x}", u);
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string escaped_tail(std::string_view text, std::size_t max) {
  if (text.size() > max) text = text.substr(text.size() - max);
  return escape_control(text);
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns the message, which may or may not be in buf.
  const char* msg = ::strerror_r(err, buf, sizeof buf);
  return msg;
}

}  // namespace hookd::handlers::detail
