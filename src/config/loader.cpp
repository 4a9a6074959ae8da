// The config loader: YAML or JSON into one document tree, validated once against the schema
// (docs/configuration.md), every problem collected with its key path before anything is thrown.

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>

#include <hookd/config/loader.hpp>

#include "schema.hpp"

namespace hookd::config {

namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

}  // namespace

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

namespace {

using detail::diagnostics;
using detail::expect;
using detail::index_path;
using detail::map_reader;
using detail::node;
using detail::quote;

constexpr std::uint64_t max_unsigned = std::numeric_limits<unsigned>::max();

// Reads one optional key into `into` with `read` (a reader returning an optional).
template <typename T, typename Read>
void optional_key(map_reader& r, std::string_view key, T& into, Read read) {
  if (const node* v = r.take(key)) {
    if (auto value = read(*v, r.path_of(key))) into = static_cast<T>(*value);
  }
}

// ---------------------------------------------------------------------------------------------
// server

bool valid_hostname(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
  });
}

// "host:port", IPv6 in brackets. Returns the problem, or "" when valid.
std::string listen_problem(const std::string& text) {
  constexpr std::string_view example = " (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080)";
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return quote(text) + " is not [IPv6]:port" + std::string(example);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr addr{};
    if (inet_pton(AF_INET6, host.c_str(), &addr) != 1) {
      return quote(host) + " is not an IPv6 address";
    }
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      return quote(text) + " is not host:port" + std::string(example);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return "an IPv6 address goes in brackets, e.g. [::1]:8080";
    }
    if (host.empty()) {
      return quote(text) + " has no host; use 0.0.0.0 to listen on every IPv4 address" +
             std::string(example);
    }
    const bool numeric = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.';
    });
    in_addr addr{};
    if (numeric ? inet_pton(AF_INET, host.c_str(), &addr) != 1 : !valid_hostname(host)) {
      return quote(host) + " is not an IP address or host name";
    }
  }
  const bool digits =
      !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      });
  if (!digits || std::stoul(port) > 65535) {
    return "port " + quote(port) + " is not a number from 1 to 65535 (0: any free port)";
  }
  return {};
}

void read_listen(const node& n, const std::string& path, std::vector<std::string>& out,
                 diagnostics& diag) {
  std::vector<std::pair<const node*, std::string>> entries;
  if (n.type == node::kind::string) {
    entries.emplace_back(&n, path);
  } else if (n.type == node::kind::sequence) {
    if (n.items.empty()) diag.add(n, path, "must list at least one host:port");
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      entries.emplace_back(&n.items[i], index_path(path, i));
    }
  } else {
    expect(n, node::kind::string, path, diag, "a \"host:port\" string or a list of them");
    return;
  }
  std::vector<std::string> result;
  bool ok = !entries.empty();
  for (const auto& [item, ipath] : entries) {
    auto text = detail::read_string(*item, ipath, diag);
    if (!text) {
      ok = false;
      continue;
    }
    if (auto problem = listen_problem(*text); !problem.empty()) {
      diag.add(*item, ipath, problem);
      ok = false;
      continue;
    }
    if (std::find(result.begin(), result.end(), *text) != result.end()) {
      diag.add(*item, ipath, quote(*text) + " is listed twice");
      ok = false;
      continue;
    }
    result.push_back(*text);
  }
  if (ok) out = std::move(result);
}

void read_server(const node& n, const std::string& path, server_config& out, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return;
  map_reader r(n, path, diag);
  if (const node* v = r.take("listen")) read_listen(*v, r.path_of("listen"), out.listen, diag);
  auto count = [&diag](std::uint64_t min, std::uint64_t max) {
    return [&diag, min, max](const node& v, const std::string& p) {
      return detail::read_count(v, p, diag, min, max);
    };
  };
  auto size = [&diag](std::uint64_t min) {
    return [&diag, min](const node& v, const std::string& p) {
      return detail::read_size(v, p, diag, min);
    };
  };
  auto time = [&diag](duration min) {
    return [&diag, min](const node& v, const std::string& p) {
      return detail::read_duration(v, p, diag, min);
    };
  };
  optional_key(r, "threads", out.threads, count(0, max_unsigned));
  optional_key(r, "max_body", out.max_body, size(1));
  optional_key(r, "max_header", out.max_header, size(1));
  optional_key(r, "max_connections", out.max_connections, count(1, max_unsigned));
  optional_key(r, "request_timeout", out.request_timeout, time(1ms));
  optional_key(r, "idle_timeout", out.idle_timeout, time(1ms));
  optional_key(r, "shutdown_grace", out.shutdown_grace, time(0ms));
  r.finish();
}

void read_spool(const node& n, const std::string& path, spool_config& out, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return;
  map_reader r(n, path, diag);
  auto time = [&diag](const node& v, const std::string& p) {
    return detail::read_duration(v, p, diag, 0ms);
  };
  optional_key(r, "path", out.path, [&diag](const node& v, const std::string& p) {
    return detail::read_name(v, p, diag);
  });
  // At least a minute: an event is its own dedup key from its arrival (the io thread's clock),
  // so a window shorter than a request's wait for the spool's writer would let two copies
  // through together; providers retry after seconds at the earliest.
  optional_key(r, "dedup_window", out.dedup_window, [&diag](const node& v, const std::string& p) {
    return detail::read_duration(v, p, diag, 1min);
  });
  optional_key(r, "retention", out.retention, time);
  optional_key(r, "max_backlog", out.max_backlog, [&diag](const node& v, const std::string& p) {
    return detail::read_count(v, p, diag, 1, max_unsigned);
  });
  r.finish();
}

void read_dispatch(const node& n, const std::string& path, dispatch_config& out,
                   diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return;
  map_reader r(n, path, diag);
  auto count = [&diag](const node& v, const std::string& p) {
    return detail::read_count(v, p, diag, 1, max_unsigned);
  };
  optional_key(r, "workers", out.workers, count);
  r.finish();
}

void read_admin(const node& n, const std::string& path, admin_config& out, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return;
  map_reader r(n, path, diag);
  if (const node* v = r.take("listen")) {
    // Unset (`listen:` with no value, ~, "" or []) turns the admin listener off.
    const bool off = v->type == node::kind::null ||
                     (v->type == node::kind::string && v->text.empty()) ||
                     (v->type == node::kind::sequence && v->items.empty());
    if (off) {
      out.listen.clear();
    } else {
      read_listen(*v, r.path_of("listen"), out.listen, diag);
    }
  }
  r.finish();
}

void read_log(const node& n, const std::string& path, log_config& out, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return;
  map_reader r(n, path, diag);
  if (const node* v = r.take("level")) {
    if (detail::read_choice(*v, r.path_of("level"), diag,
                            {"trace", "debug", "info", "warn", "error", "critical", "off"},
                            "log level")) {
      out.level = v->text;
    }
  }
  if (const node* v = r.take("format")) {
    if (detail::read_choice(*v, r.path_of("format"), diag, {"text", "json"}, "log format")) {
      out.format = v->text;
    }
  }
  r.finish();
}

std::string list_names(const std::set<std::string>& names) {
  if (names.empty()) return "none are defined";
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// endpoints and their credentials. No message here may contain a credential's value: wrong-type
// messages name the kind of value only, and env/file problems name the variable or the path.

constexpr std::array credential_keys{"secret", "secrets", "token", "tokens", "api_key", "api_keys"};

bool valid_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front())) != 0) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

// Reads a secret file: the content minus one trailing "\n" or "\r\n" (what `echo` and editors
// add). Bounded, since a credential is short and the path might name something huge.
void read_secret_file(const node& at, const std::string& path, const std::string& file,
                      std::vector<std::string>& out, diagnostics& diag) {
  constexpr std::size_t limit = std::size_t{64} * 1024;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) {
    diag.add(at, path,
             "cannot read file " + quote(file) + ": " + std::system_category().message(errno));
    return;
  }
  std::string content(limit + 1, '\0');
  const std::size_t n = std::fread(content.data(), 1, content.size(), f.get());
  if (std::ferror(f.get()) != 0) {
    diag.add(at, path,
             "cannot read file " + quote(file) + ": " + std::system_category().message(errno));
    return;
  }
  if (n > limit) {
    diag.add(at, path, "file " + quote(file) + " is larger than 64KiB; is it the right file?");
    return;
  }
  content.resize(n);
  if (!content.empty() && content.back() == '\n') {
    content.pop_back();
    if (!content.empty() && content.back() == '\r') content.pop_back();
  }
  if (content.empty()) {
    diag.add(at, path, "file " + quote(file) + " is empty");
    return;
  }
  out.push_back(std::move(content));
}

// One credential: a literal string, {env: NAME} or {file: PATH}. With credentials::skip the
// reference is checked for its form (a valid variable name, a non-empty path) but not read.
void read_credential(const node& n, const std::string& path, credentials mode,
                     std::vector<std::string>& out, diagnostics& diag) {
  if (n.type == node::kind::string) {
    if (n.text.empty()) {
      diag.add(n, path, "is empty");
    } else {
      out.push_back(n.text);
    }
    return;
  }
  constexpr std::string_view forms = "a string, {env: NAME} or {file: PATH}";
  if (n.type != node::kind::mapping) {
    expect(n, node::kind::mapping, path, diag, forms);
    return;
  }
  map_reader r(n, path, diag);
  const node* env = r.take("env");
  const node* file = r.take("file");
  r.finish();
  if (env != nullptr && file != nullptr) {
    diag.add(n, path, "give either `env` or `file`, not both");
    return;
  }
  if (env != nullptr) {
    auto name = detail::read_name(*env, r.path_of("env"), diag);
    if (!name) return;
    if (!valid_env_name(*name)) {
      diag.add(*env, r.path_of("env"), quote(*name) + " is not a valid environment variable name");
      return;
    }
    if (mode == credentials::skip) return;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): hookd never changes its environment once threads run.
    const char* value = std::getenv(name->c_str());
    if (value == nullptr) {
      diag.add(n, path, "env var " + *name + " is not set");
    } else if (*value == '\0') {
      diag.add(n, path, "env var " + *name + " is empty");
    } else {
      out.emplace_back(value);
    }
    return;
  }
  if (file != nullptr) {
    if (auto name = detail::read_name(*file, r.path_of("file"), diag)) {
      if (mode == credentials::resolve) read_secret_file(n, path, *name, out, diag);
    }
    return;
  }
  // Unknown keys were reported by finish(), with the keys expected; only an empty mapping is left.
  if (n.members.empty()) diag.add(n, path, "expected " + std::string(forms));
}

// `secret: X` (one) or `secrets: [X, Y]` (rotation: any one verifies).
void read_credentials(const node& n, const std::string& path, bool plural, credentials mode,
                      std::vector<std::string>& out, diagnostics& diag) {
  if (!plural) {
    read_credential(n, path, mode, out, diag);
    return;
  }
  if (!expect(n, node::kind::sequence, path, diag,
              "a list (of strings, {env: NAME} or {file: PATH})")) {
    return;
  }
  if (n.items.empty()) diag.add(n, path, "must list at least one credential");
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    read_credential(n.items[i], index_path(path, i), mode, out, diag);
  }
}

std::string scheme_description(const scheme& s) {
  struct visitor {
    std::string operator()(const no_scheme&) const { return "nothing"; }
    std::string operator()(const hmac_scheme&) const { return "an hmac signature"; }
    std::string operator()(const token_scheme&) const { return "a token"; }
    std::string operator()(const body_field_scheme& b) const {
      return "a key in the body field `" + b.field + "`";
    }
  };
  return std::visit(visitor{}, s);
}

std::optional<endpoint_spec> read_endpoint(const node& n, const std::string& path,
                                           const std::string& name,
                                           const std::map<std::string, provider_spec>& providers,
                                           const std::set<std::string>& declared_providers,
                                           credentials mode, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return std::nullopt;
  const std::size_t problems_before = diag.size();
  map_reader r(n, path, diag);
  endpoint_spec out;
  out.name = name;

  const provider_spec* provider = nullptr;
  if (const node* v = r.require("provider")) {
    if (auto p = detail::read_name(*v, r.path_of("provider"), diag)) {
      out.provider = *p;
      if (auto it = providers.find(*p); it != providers.end()) {
        provider = &it->second;
      } else if (declared_providers.count(*p) == 0) {
        diag.add(*v, r.path_of("provider"),
                 "unknown provider " + quote(*p) +
                     " (providers: " + list_names(declared_providers) + ")");
      }
    }
  }

  const node* verify = r.take("verify");
  if (verify != nullptr) {
    if (verify->type == node::kind::string && verify->text == "none") {
      out.verify_none = true;
    } else if (expect(*verify, node::kind::string, r.path_of("verify"), diag)) {
      diag.add(*verify, r.path_of("verify"),
               "unknown value " + quote(verify->text) +
                   "; the only value is \"none\" (accept unverified requests); leave `verify` out "
                   "to verify with the provider's scheme");
    }
  }

  std::vector<std::pair<std::string, const node*>> given;
  for (const char* key : credential_keys) {
    if (const node* v = r.take(key)) given.emplace_back(key, v);
  }
  r.finish();

  // Which credential keys this endpoint may use, from its provider's scheme.
  std::string singular;
  if (provider != nullptr) singular = credential_key(provider->verify);
  const std::string plural = singular.empty() ? std::string() : singular + "s";
  const bool scheme_known = provider != nullptr;

  const node* single_node = nullptr;
  const node* plural_node = nullptr;
  bool wrong_key = false;  // already told which key to use: no "needs" message on top
  for (const auto& [key, v] : given) {
    const std::string kpath = r.path_of(key);
    if (scheme_known && singular.empty()) {
      diag.add(*v, kpath,
               "provider " + out.provider +
                   " does not verify requests (scheme none) and takes no credentials");
      continue;
    }
    if (scheme_known && key != singular && key != plural) {
      wrong_key = true;
      std::string message = "provider " + out.provider + " verifies with ";
      message += scheme_description(provider->verify);
      for (const char* part : {" and takes `", singular.c_str(), "` or `", plural.c_str(),
                               "`, not `", key.c_str(), "`"}) {
        message += part;
      }
      diag.add(*v, kpath, message);
      continue;
    }
    if (scheme_known) (key == singular ? single_node : plural_node) = v;
    if (out.verify_none) continue;  // reported once below
    const bool is_plural = key.back() == 's';
    read_credentials(*v, kpath, is_plural, mode, out.credentials, diag);
  }

  if (out.verify_none && !given.empty()) {
    diag.add(*verify, r.path_of("verify"),
             "`verify: none` cannot be combined with credentials (`" + given.front().first +
                 "`); remove one of them");
  }
  if (single_node != nullptr && plural_node != nullptr) {
    diag.add(*plural_node, r.path_of(plural),
             "give either `" + singular + "` or `" + plural + "`, not both (`" + plural +
                 "` lists several for rotation)");
  }
  if (scheme_known && !singular.empty() && !out.verify_none && !wrong_key &&
      single_node == nullptr && plural_node == nullptr) {
    diag.add(
        n, path,
        "provider " + out.provider + " verifies with " + scheme_description(provider->verify) +
            " and needs `" + singular + "` or `" + plural + "` (or `verify: none` to accept " +
            (std::holds_alternative<hmac_scheme>(provider->verify) ? "unsigned" : "unverified") +
            " requests)");
  }
  // A token carried in the URL path is one segment: a '/' in it could never match.
  if (scheme_known) {
    if (const auto* t = std::get_if<token_scheme>(&provider->verify);
        t != nullptr && t->in == token_location::path) {
      for (const auto& c : out.credentials) {
        if (c.find('/') != std::string::npos) {
          diag.add(n, path, "a token carried in the URL path cannot contain \"/\"");
          break;
        }
      }
    }
  }
  if (diag.size() != problems_before) return std::nullopt;
  // Literal values were read for the checks above; without resolution none is kept, so the
  // spec never holds some of its credentials and not others.
  if (mode == credentials::skip) out.credentials.clear();
  return out;
}

void read_endpoints(const node& section, const std::string& path,
                    const std::map<std::string, provider_spec>& providers,
                    const std::set<std::string>& declared_providers, credentials mode,
                    std::vector<endpoint_spec>& out, diagnostics& diag) {
  if (section.type == node::kind::null) return;
  if (!expect(section, node::kind::mapping, path, diag)) return;
  map_reader r(section, path, diag);
  std::set<std::string> seen;
  for (const auto& [name, value] : section.members) {
    if (!seen.insert(name).second) continue;
    const std::string epath = r.path_of(name);
    if (!detail::valid_name(name)) {
      diag.add(value, epath,
               "invalid endpoint name " + quote(name) +
                   "; use letters, digits, '.', '_' and '-' (it is a URL path segment)");
      continue;
    }
    if (auto spec = read_endpoint(value, epath, name, providers, declared_providers, mode, diag)) {
      out.push_back(std::move(*spec));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const endpoint_spec& a, const endpoint_spec& b) { return a.name < b.name; });
}

// ---------------------------------------------------------------------------------------------
// handlers

void read_retry(const node& n, const std::string& path, retry_policy& out, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return;
  map_reader r(n, path, diag);
  optional_key(r, "attempts", out.attempts, [&diag](const node& v, const std::string& p) {
    return detail::read_count(v, p, diag, 1, max_unsigned);
  });
  auto time = [&diag](const node& v, const std::string& p) {
    return detail::read_duration(v, p, diag, 1ms);
  };
  optional_key(r, "initial", out.initial, time);
  const node* max = r.take("max");
  if (max != nullptr) {
    if (auto value = time(*max, r.path_of("max"))) {
      if (*value < out.initial) {
        diag.add(*max, r.path_of("max"),
                 "must be at least `initial` (" + format_duration(out.initial) + ")");
      } else {
        out.max = *value;
      }
    }
  } else if (out.max < out.initial) {
    diag.add(n, path,
             "`initial` (" + format_duration(out.initial) + ") exceeds the default `max` (" +
                 format_duration(out.max) + "); set `max` as well");
  }
  r.finish();
}

// Exec environment names: a portable shell name, and not HOOKD_* (hookd sets those itself).
void read_exec_env(const node& n, const std::string& path, std::map<std::string, std::string>& out,
                   diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return;
  map_reader r(n, path, diag);
  for (const auto& [name, value] : n.members) {
    const std::string vpath = r.path_of(name);
    if (!valid_env_name(name)) {
      diag.add(value, vpath,
               "invalid environment variable name " + quote(name) +
                   "; use letters, digits and '_', not starting with a digit");
      continue;
    }
    if (name.rfind("HOOKD_", 0) == 0) {
      diag.add(value, vpath,
               "names starting with HOOKD_ are reserved for the variables hookd sets itself");
      continue;
    }
    if (auto text = detail::read_string(value, vpath, diag)) out.emplace(name, *text);
  }
}

std::optional<handler_kind> read_exec(map_reader& r, diagnostics& diag) {
  exec_handler h;
  const std::size_t problems_before = diag.size();
  if (const node* v = r.require("command")) {
    const std::string cpath = r.path_of("command");
    if (expect(*v, node::kind::sequence, cpath, diag,
               "a list of strings (the argv: program, then its arguments; no shell)")) {
      if (v->items.empty()) diag.add(*v, cpath, "must name at least the program to run");
      for (std::size_t i = 0; i < v->items.size(); ++i) {
        const std::string ipath = index_path(cpath, i);
        if (auto arg = detail::read_string(v->items[i], ipath, diag)) {
          if (i == 0 && arg->empty()) diag.add(v->items[i], ipath, "the program must not be empty");
          h.command.push_back(*arg);
        }
      }
    }
  }
  optional_key(r, "timeout", h.timeout, [&diag](const node& v, const std::string& p) {
    return detail::read_duration(v, p, diag, 1ms);
  });
  if (const node* v = r.take("env")) read_exec_env(*v, r.path_of("env"), h.env, diag);
  optional_key(r, "concurrency", h.concurrency, [&diag](const node& v, const std::string& p) {
    return detail::read_count(v, p, diag, 1, max_unsigned);
  });
  optional_key(r, "max_output", h.max_output, [&diag](const node& v, const std::string& p) {
    return detail::read_size(v, p, diag, 0);
  });
  if (diag.size() != problems_before) return std::nullopt;
  return h;
}

std::optional<handler_kind> read_file_handler(map_reader& r, diagnostics& diag) {
  file_handler h;
  const std::size_t problems_before = diag.size();
  if (const node* v = r.require("path")) {
    if (auto p = detail::read_name(*v, r.path_of("path"), diag)) h.path = *p;
  }
  optional_key(r, "fsync", h.fsync, [&diag](const node& v, const std::string& p) {
    return detail::read_bool(v, p, diag);
  });
  if (diag.size() != problems_before) return std::nullopt;
  return h;
}

std::optional<handler_spec> read_handler(const node& n, const std::string& path,
                                         const std::string& name, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return std::nullopt;
  const std::size_t problems_before = diag.size();
  map_reader r(n, path, diag);
  handler_spec out;
  out.name = name;
  if (const node* v = r.take("retry")) read_retry(*v, r.path_of("retry"), out.retry, diag);
  const node* type = r.require("type");
  std::optional<std::size_t> kind;
  if (type != nullptr) {
    kind = detail::read_choice(*type, r.path_of("type"), diag, {"log", "file", "exec"},
                               "handler type");
  }
  std::optional<handler_kind> parsed;
  if (!kind) {
    // Without a known type the other keys cannot be judged: the type's message is enough.
    return std::nullopt;
  }
  switch (*kind) {
    case 0:
      parsed = log_handler{};
      r.finish("for a handler of type log");
      break;
    case 1:
      parsed = read_file_handler(r, diag);
      r.finish("for a handler of type file");
      break;
    default:
      parsed = read_exec(r, diag);
      r.finish("for a handler of type exec");
      break;
  }
  if (!parsed || diag.size() != problems_before) return std::nullopt;
  out.kind = std::move(*parsed);
  return out;
}

void read_handlers(const node& section, const std::string& path, std::vector<handler_spec>& out,
                   diagnostics& diag) {
  if (section.type == node::kind::null) return;
  if (!expect(section, node::kind::mapping, path, diag)) return;
  map_reader r(section, path, diag);
  std::set<std::string> seen;
  for (const auto& [name, value] : section.members) {
    if (!seen.insert(name).second) continue;
    const std::string hpath = r.path_of(name);
    if (!detail::valid_name(name)) {
      diag.add(value, hpath,
               "invalid handler name " + quote(name) + "; use letters, digits, '.', '_' and '-'");
      continue;
    }
    if (auto spec = read_handler(value, hpath, name, diag)) out.push_back(std::move(*spec));
  }
  std::sort(out.begin(), out.end(),
            [](const handler_spec& a, const handler_spec& b) { return a.name < b.name; });
}

// ---------------------------------------------------------------------------------------------
// routes

struct declared_names {
  std::set<std::string> endpoints;
  std::set<std::string> providers;
  std::set<std::string> handlers;
};

std::set<std::string> keys_of(const node* section) {
  std::set<std::string> out;
  if (section != nullptr && section->type == node::kind::mapping) {
    for (const auto& member : section->members)
      out.insert(member.first);
  }
  return out;
}

void read_match(const node& n, const std::string& path, route_spec& out,
                const declared_names& names, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return;
  map_reader r(n, path, diag);
  // A value without glob characters must name something that exists: a typo would otherwise
  // make the route silently match nothing.
  auto glob = [&](const char* key, std::string& into, const std::set<std::string>* existing,
                  const char* what) {
    const node* v = r.take(key);
    if (v == nullptr) return;
    auto text = detail::read_string(*v, r.path_of(key), diag);
    if (!text) return;
    const bool literal = text->find_first_of("*?") == std::string::npos;
    if (existing != nullptr && literal && !text->empty() && existing->count(*text) == 0) {
      diag.add(*v, r.path_of(key),
               "no " + std::string(what) + " named " + quote(*text) + " (" + what +
                   "s: " + list_names(*existing) + ")");
      return;
    }
    into = *text;
  };
  glob("endpoint", out.endpoint, &names.endpoints, "endpoint");
  glob("provider", out.provider, &names.providers, "provider");
  glob("type", out.type, nullptr, "type");
  r.finish();
}

void read_routes(const node& section, const std::string& path, const declared_names& names,
                 std::vector<route_spec>& out, diagnostics& diag) {
  if (section.type == node::kind::null) return;
  if (!expect(section, node::kind::sequence, path, diag)) return;
  for (std::size_t i = 0; i < section.items.size(); ++i) {
    const node& item = section.items[i];
    const std::string rpath = index_path(path, i);
    if (!expect(item, node::kind::mapping, rpath, diag)) continue;
    map_reader r(item, rpath, diag);
    route_spec route;
    if (const node* m = r.take("match")) read_match(*m, r.path_of("match"), route, names, diag);
    if (const node* to = r.require("to")) {
      const std::string tpath = r.path_of("to");
      if (expect(*to, node::kind::sequence, tpath, diag, "a list of handler names")) {
        if (to->items.empty()) diag.add(*to, tpath, "must name at least one handler");
        for (std::size_t j = 0; j < to->items.size(); ++j) {
          const std::string hpath = index_path(tpath, j);
          auto name = detail::read_name(to->items[j], hpath, diag);
          if (!name) continue;
          if (names.handlers.count(*name) == 0) {
            diag.add(to->items[j], hpath,
                     "unknown handler " + quote(*name) +
                         " (handlers: " + list_names(names.handlers) + ")");
            continue;
          }
          if (std::find(route.to.begin(), route.to.end(), *name) != route.to.end()) {
            diag.add(to->items[j], hpath, "handler " + quote(*name) + " is listed twice");
            continue;
          }
          route.to.push_back(*name);
        }
      }
    }
    r.finish();
    out.push_back(std::move(route));
  }
}

// ---------------------------------------------------------------------------------------------

bool looks_like_json(std::string_view text) {
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) continue;
    return c == '{' || c == '[';
  }
  return false;
}

[[noreturn]] void throw_syntax(const std::string& file, const char* language,
                               const detail::syntax_error& e) {
  throw config_error({file + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) +
                      ": invalid " + language + ": " + e.message});
}

format by_extension(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".json") return format::json;
  if (ext == ".yaml" || ext == ".yml") return format::yaml;
  return format::detect;
}

detail::node parse(std::string_view text, const std::filesystem::path& path, format fmt) {
  const std::string file = path.string();
  detail::node root;
  detail::syntax_error error;
  if (fmt == format::detect) fmt = by_extension(path);
  const bool detected = fmt == format::detect;
  if (detected) fmt = looks_like_json(text) ? format::json : format::yaml;
  if (fmt == format::json) {
    if (detail::parse_json(text, root, error)) return root;
    // Detected by content only: "{" also starts a YAML flow mapping ({server: {...}}). Accept
    // that, and report the JSON error when it is no YAML either.
    if (detected) {
      detail::node yaml_root;
      detail::syntax_error yaml_error;
      if (detail::parse_yaml(text, yaml_root, yaml_error)) return yaml_root;
    }
    throw_syntax(file, "JSON", error);
  }
  if (!detail::parse_yaml(text, root, error)) throw_syntax(file, "YAML", error);
  return root;
}

}  // namespace

const std::map<std::string, provider_spec>& builtin_providers() {
  static const std::map<std::string, provider_spec> presets = [] {
    const std::filesystem::path file = "presets.yaml (built-in)";
    detail::node root = parse(detail::embedded_presets, file, format::yaml);
    diagnostics diag(file.string());
    std::map<std::string, provider_spec> out;
    detail::read_providers(root, "", true, {}, out, diag);
    if (!diag.empty()) throw config_error(diag.sorted());
    return out;
  }();
  return presets;
}

config load_text(std::string_view text, const std::filesystem::path& file, format fmt,
                 credentials mode) {
  const std::string name = file.string();
  const detail::node root = parse(text, file, fmt);
  diagnostics diag(name);
  config cfg;
  cfg.file = file;
  cfg.providers = builtin_providers();
  if (root.type == node::kind::null) return cfg;  // an empty document: every default
  if (!expect(root, node::kind::mapping, "", diag, "a mapping at the top level")) {
    throw config_error(diag.sorted());
  }

  map_reader top(root, "", diag);
  // A section key with nothing under it (`server:` followed by comments) means its defaults.
  auto section = [&top](std::string_view key) -> const node* {
    const node* v = top.take(key);
    return v != nullptr && v->type == node::kind::null ? nullptr : v;
  };
  if (const node* v = section("server")) read_server(*v, "server", cfg.server, diag);
  if (const node* v = section("spool")) read_spool(*v, "spool", cfg.spool, diag);
  if (const node* v = section("admin")) read_admin(*v, "admin", cfg.admin, diag);
  if (const node* v = section("dispatch")) read_dispatch(*v, "dispatch", cfg.dispatch, diag);
  if (const node* v = section("log")) read_log(*v, "log", cfg.log, diag);

  const node* providers = top.take("providers");
  if (providers != nullptr) {
    detail::read_providers(*providers, "providers", false, builtin_providers(), cfg.providers,
                           diag);
  }
  // Cross references are checked against every name declared, valid or not, so one broken
  // definition gives one message rather than one more per reference to it.
  declared_names names;
  names.providers = keys_of(providers);
  for (const auto& entry : builtin_providers())
    names.providers.insert(entry.first);
  const node* endpoints = top.take("endpoints");
  const node* handlers = top.take("handlers");
  names.endpoints = keys_of(endpoints);
  names.handlers = keys_of(handlers);

  if (endpoints != nullptr) {
    read_endpoints(*endpoints, "endpoints", cfg.providers, names.providers, mode, cfg.endpoints,
                   diag);
  }
  if (handlers != nullptr) read_handlers(*handlers, "handlers", cfg.handlers, diag);
  if (const node* v = top.take("routes")) read_routes(*v, "routes", names, cfg.routes, diag);
  top.finish();

  if (!diag.empty()) throw config_error(diag.sorted());
  return cfg;
}

config load_file(const std::filesystem::path& file, credentials mode) {
  const std::string name = file.string();
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw config_error({name + ": is a directory"});
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw config_error({name + ": cannot open: " + std::system_category().message(errno)});
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad())
    throw config_error({name + ": cannot read: " + std::system_category().message(errno)});

  return load_text(content.str(), file, format::detect, mode);
}

}  // namespace hookd::config
