#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <hookd/config/config.hpp>
#include <hookd/core/event.hpp>

namespace hookd::providers {

/// Read access to a request's headers, implemented by the HTTP layer (no Beast types here).
class header_source {
 public:
  virtual ~header_source() = default;
  /// The value of the first header with this name (case-insensitive), or nullopt.
  virtual std::optional<std::string_view> get(std::string_view name) const = 0;
};

/// What verification and normalization see of one request. Views into the session's buffers:
/// valid for the duration of the ingest() call only.
struct request_view {
  std::string_view rest;   ///< the path after /hooks/<endpoint>/, percent-decoded, no query
  std::string_view query;  ///< the raw query string, without '?'
  const header_source& headers;
  std::string_view body;  ///< the raw body, exactly as received
  std::chrono::system_clock::time_point received;
};

/// Why a request was refused. `status` is the HTTP status (400 or 401); `reason` is a short,
/// stable label for metrics (`missing_signature`, `bad_signature`, `invalid_json`, ...);
/// `message` is for the client and the log and never contains a credential.
struct rejection {
  unsigned status = 400;
  std::string reason;
  std::string message;
};

using ingest_result = std::variant<event, rejection>;

/// One configured endpoint: its provider's scheme and mapping bound to its credentials. Built
/// once from config, immutable afterwards, safe to use from any number of threads at once.
class endpoint {
 public:
  /// Throws std::invalid_argument if the spec and provider do not fit together (the loader
  /// has already validated them, so this guards internal invariants only).
  endpoint(const config::endpoint_spec& spec, const config::provider_spec& provider);
  ~endpoint();
  endpoint(endpoint&&) noexcept;
  endpoint& operator=(endpoint&&) noexcept;
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  const std::string& name() const noexcept;
  const std::string& provider() const noexcept;

  /// Verifies the request (constant-time), then parses and normalizes it. Never throws.
  /// Raw-byte schemes run before the body is parsed; body-field runs on the parsed body.
  ingest_result ingest(const request_view& request) const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// All endpoints of one config, by name.
class endpoint_table {
 public:
  explicit endpoint_table(const config::config& cfg);
  /// nullptr when no endpoint has that name.
  const endpoint* find(std::string_view name) const noexcept;
  std::size_t size() const noexcept { return endpoints_.size(); }

 private:
  std::map<std::string, endpoint, std::less<>> endpoints_;
};

}  // namespace hookd::providers
