#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hookd::test {

using namespace std::chrono_literals;

struct http_response {
  std::string version;  ///< from the status line: "HTTP/1.1"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names as sent
  std::string body;

  /// The first header with this name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const;
};

/// A request as bytes: request line, Host, the given headers, Content-Length (unless
/// `content_length` is false), blank line, body.
std::string make_request(std::string_view method, std::string_view target,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         std::string_view body = {}, bool content_length = true);

/// A plain TCP connection to 127.0.0.1:<port> that sends exactly the bytes it is given, so
/// malformed and slow requests can be written byte for byte. Every wait is bounded.
/// Owns its socket (closed on destruction); not copyable.
class raw_connection {
 public:
  /// Connects to host:port (an IPv4 address); throws std::system_error on failure.
  explicit raw_connection(std::uint16_t port, const std::string& host = "127.0.0.1");
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  /// Sends every byte; false when the peer has closed (EPIPE, ECONNRESET).
  bool send(std::string_view bytes);

  /// Reads one response (status line, headers, body by Content-Length, or to the end of the
  /// connection without one). Nullopt when the connection ends or `timeout` passes first.
  /// Interim 1xx responses are skipped unless `skip_informational` is false.
  std::optional<http_response> read_response(std::chrono::milliseconds timeout = 10s,
                                             bool skip_informational = true);

  /// Reads the response to a HEAD request: status line and headers only, whatever
  /// Content-Length says (RFC 9110 9.3.2). Bytes after the headers stay for the next read.
  std::optional<http_response> read_head_response(std::chrono::milliseconds timeout = 10s);

  /// True when the server closes the connection (end of stream or reset) within `timeout`.
  /// Anything received meanwhile is discarded.
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  /// Reads more into buffer_; false at end of stream, error, or deadline.
  bool fill(std::chrono::steady_clock::time_point deadline);
  std::optional<http_response> read(std::chrono::milliseconds timeout, bool skip_informational,
                                    bool with_body);

  int fd_ = -1;
  std::string buffer_;
};

/// One request on a fresh connection, its response (nullopt on a timeout or closed connection).
std::optional<http_response> send_request(std::uint16_t port, std::string_view bytes,
                                          std::chrono::milliseconds timeout = 10s);

}  // namespace hookd::test
