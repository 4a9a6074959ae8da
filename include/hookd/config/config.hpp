#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <hookd/core/units.hpp>

/// The config schema: plain, validated data. The loader (loader.hpp) reads YAML or JSON into
/// these structs; every later stage builds its runtime objects from them and never sees the file.
/// See docs/configuration.md for every key and its default.
namespace hookd::config {

using namespace std::chrono_literals;

struct server_config {
  std::vector<std::string> listen{"127.0.0.1:8080"};  ///< "host:port" each; IPv6 as "[::1]:8080"
  unsigned threads = 0;                               ///< io threads; 0 = number of cores
  std::uint64_t max_body = 1ULL << 20;                ///< bytes; larger bodies get 413
  std::uint64_t max_header = 16ULL << 10;  ///< bytes for the request line + headers; 431 beyond
  std::size_t max_connections = 10000;     ///< further connections wait in the kernel's backlog
  duration request_timeout = 30s;          ///< deadline to read one whole request
  duration idle_timeout = 60s;             ///< a keep-alive connection idle this long is closed
  duration shutdown_grace = 10s;           ///< SIGTERM: time given to requests in flight
  bool operator==(const server_config&) const = default;
};

struct spool_config {
  std::string path = "./var/hookd.db";
  duration dedup_window = 7 * 24h;  ///< how long (endpoint, event id) keys are remembered
  duration retention = 7 * 24h;     ///< how long delivered events are kept
  std::size_t max_backlog = 10000;  ///< appends waiting for the writer; beyond: 503
  bool operator==(const spool_config&) const = default;
};

/// The admin listener (/healthz, /readyz, /metrics), apart from the public one so that exposing
/// /hooks/ never exposes it. Empty `listen`: no admin listener.
struct admin_config {
  std::vector<std::string> listen{"127.0.0.1:9090"};  ///< "host:port" each, as server.listen
  bool operator==(const admin_config&) const = default;
};

struct dispatch_config {
  unsigned workers = 4;  ///< threads running handlers
  bool operator==(const dispatch_config&) const = default;
};

struct log_config {
  std::string level = "info";   ///< trace|debug|info|warn|error|critical|off
  std::string format = "text";  ///< text|json
  bool operator==(const log_config&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Providers: a signature scheme plus a field mapping. Built-in presets are written in the same
// syntax (src/config/presets.yaml) and loaded by the same code as the user's `providers:`.

enum class hmac_algorithm { sha1, sha256, sha512 };
enum class signature_encoding { hex, base64, auto_detect };  ///< auto: hex or base64, by shape

/// HMAC over the raw body. `signatures` lists several in one header, split by `separator`.
struct hmac_scheme {
  std::string header;  ///< e.g. "X-SIGNATURE" (case-insensitive)
  hmac_algorithm algorithm = hmac_algorithm::sha256;
  signature_encoding encoding = signature_encoding::hex;
  std::string prefix;     ///< stripped from each signature, e.g. "sha256="
  std::string separator;  ///< empty: the header holds one signature
};

enum class token_location { path, query, header };

/// A shared secret token in the URL or a header. `path`: the first segment after the endpoint
/// name (/hooks/<endpoint>/<token>[/<rest>]); `query`: parameter `name`; `header`: header `name`.
struct token_scheme {
  token_location in = token_location::query;
  std::string name = "token";
};

/// A top-level JSON body field compared with the configured key, then removed from the event.
struct body_field_scheme {
  std::string field;  ///< e.g. "api_key"
};

/// No verification. Only reachable with an explicit `verify: none` on the endpoint, or a custom
/// provider whose scheme says `type: none`.
struct no_scheme {};

using scheme = std::variant<no_scheme, hmac_scheme, token_scheme, body_field_scheme>;

/// Where a mapped value comes from.
struct field_source {
  enum class origin { body, header, path };
  origin from = origin::body;
  /// body: a JSON pointer (RFC 6901) whose last segment may be a glob (`/result/code*`: the first
  /// member in document order whose key matches); header: the header name; path: unused (the URL
  /// rest after /hooks/<endpoint>/, token segment removed).
  std::string name;
};

/// How the provider's own type name splits into entity and action.
enum class type_split {
  suffix,  ///< PascalCase, action last: CustomerCreated -> customer + created
  prefix,  ///< PascalCase, action first: NewCustomer -> customer + new (renamed by `actions`)
  dotted,  ///< entity.action: lead.sold -> lead + sold
};

struct mapping {
  std::optional<field_source> id;    ///< none: a stable hash of endpoint and raw body
  std::optional<field_source> type;  ///< the provider's type name; or entity + action below
  type_split split = type_split::suffix;
  std::optional<field_source> entity;  ///< used when `type` is absent
  std::optional<field_source> action;  ///< used when `type` is absent
  /// Verb renames applied after the built-in ones (add/create/update/delete/move -> past tense).
  std::map<std::string, std::string> actions;
  std::vector<field_source> subject;  ///< first present wins; arrays are joined with ","
  /// Per event type (`type` as hookd writes it, `<entity>.<action>` lowercase, after renames):
  /// sources that replace `subject` for events of that type.
  std::map<std::string, std::vector<field_source>> subject_by_type;
  std::string data;  ///< JSON pointer to the payload; "" = the whole body
  /// `required: [subject, data]`: a request from which the subject (or data) cannot be read is
  /// refused with 400 naming the field, instead of being accepted without it.
  bool subject_required = false;
  bool data_required = false;
};

struct provider_spec {
  std::string name;
  scheme verify;
  mapping map;
  bool builtin = false;
};

/// Which key holds the credentials a scheme needs, for messages and for the loader.
/// hmac: secret/secrets; token: token/tokens; body-field: api_key/api_keys; none: nothing.
const char* credential_key(const scheme& s);

// ---------------------------------------------------------------------------------------------

struct endpoint_spec {
  std::string name;      ///< served at POST /hooks/<name>
  std::string provider;  ///< a key of config::providers
  /// Resolved credentials (literal, env or file), any one of which verifies (rotation).
  /// Empty only when verify_none is set or the provider's scheme is no_scheme.
  std::vector<std::string> credentials;
  bool verify_none = false;  ///< `verify: none` given explicitly
};

struct retry_policy {
  unsigned attempts = 12;  ///< total attempts, the first included
  duration initial = 1s;   ///< delay before the second attempt
  duration max = 1h;       ///< cap on the delay
  bool operator==(const retry_policy&) const = default;
};

struct log_handler {
  bool operator==(const log_handler&) const = default;
};

struct file_handler {
  std::string path;
  bool fsync = false;  ///< fsync after each event (the spool already makes events durable)
  bool operator==(const file_handler&) const = default;
};

struct exec_handler {
  std::vector<std::string> command;  ///< argv; command[0] an absolute path or on PATH
  duration timeout = 30s;
  std::map<std::string, std::string> env;  ///< added to the minimal environment
  unsigned concurrency = 1;
  std::uint64_t max_output = 64ULL << 10;  ///< bytes of stdout+stderr kept for the log
  bool operator==(const exec_handler&) const = default;
};

using handler_kind = std::variant<log_handler, file_handler, exec_handler>;

struct handler_spec {
  std::string name;
  handler_kind kind;
  retry_policy retry;
  bool operator==(const handler_spec&) const = default;
};

/// An empty match field matches everything; values are globs (`*`, `?`).
struct route_spec {
  std::string endpoint;
  std::string provider;
  std::string type;
  std::vector<std::string> to;  ///< handler names
  bool operator==(const route_spec&) const = default;
};

struct config {
  std::filesystem::path file;  ///< the file it was loaded from (for messages)
  server_config server;
  spool_config spool;
  admin_config admin;
  dispatch_config dispatch;
  log_config log;
  std::map<std::string, provider_spec> providers;  ///< built-in presets and the user's
  std::vector<endpoint_spec> endpoints;            ///< sorted by name
  std::vector<handler_spec> handlers;              ///< sorted by name
  std::vector<route_spec> routes;                  ///< in file order
};

/// Every problem found in a config, each "FILE: key.path: problem", in file order.
class config_error : public std::runtime_error {
 public:
  explicit config_error(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  std::vector<std::string> problems_;
};

}  // namespace hookd::config
