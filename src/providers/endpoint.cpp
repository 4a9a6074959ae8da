#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <hookd/core/json_parse.hpp>
#include <hookd/providers/endpoint.hpp>

#include "crypto.hpp"
#include "encoding.hpp"
#include "mapping.hpp"

namespace hookd::providers {

namespace {

using detail::compiled_mapping;
using detail::credential_set;
using detail::hmac_keys;

/// Deeper bodies are refused before parsing: the JSON tree is serialized and copied recursively
/// further down the pipeline, and no webhook payload nests anywhere near this deep.
constexpr std::size_t max_json_depth = 512;

const char* algorithm_label(config::hmac_algorithm a) noexcept {
  switch (a) {
    case config::hmac_algorithm::sha1:
      return "HMAC-SHA1";
    case config::hmac_algorithm::sha256:
      return "HMAC-SHA256";
    case config::hmac_algorithm::sha512:
      return "HMAC-SHA512";
  }
  return "HMAC";
}

const char* encoding_label(config::signature_encoding e) noexcept {
  switch (e) {
    case config::signature_encoding::hex:
      return "hex";
    case config::signature_encoding::base64:
      return "base64";
    case config::signature_encoding::auto_detect:
      return "hex or base64";
  }
  return "encoded";
}

bool all_hex(std::string_view text) noexcept {
  for (const char c : text) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// hmac: a MAC of the raw body in a header.

struct hmac_verifier {
  config::hmac_scheme scheme;
  hmac_keys keys;
  std::string malformed_message;

  hmac_verifier(config::hmac_scheme s, const std::vector<std::string>& secrets)
      : scheme(std::move(s)), keys(scheme.algorithm, secrets) {
    malformed_message = "malformed " + scheme.header + " header: expected a " +
                        encoding_label(scheme.encoding) + " " + algorithm_label(scheme.algorithm) +
                        " digest" + (scheme.prefix.empty() ? "" : " after " + scheme.prefix);
  }

  std::optional<std::string> decode(std::string_view text) const {
    const std::size_t size = keys.digest_size();
    std::optional<std::string> raw;
    switch (scheme.encoding) {
      case config::signature_encoding::hex:
        if (text.size() == 2 * size) raw = detail::hex_decode(text);
        break;
      case config::signature_encoding::base64:
        raw = detail::base64_decode(text);
        break;
      case config::signature_encoding::auto_detect:
        raw = text.size() == 2 * size && all_hex(text) ? detail::hex_decode(text)
                                                       : detail::base64_decode(text);
        break;
    }
    if (raw && raw->size() != size) raw.reset();
    return raw;
  }

  std::optional<rejection> check(const request_view& request) const {
    const auto header = request.headers.get(scheme.header);
    if (!header) {
      return rejection{401, "missing_signature", "missing " + scheme.header + " header"};
    }
    // Every usable entry is decoded; several entries in one header allow a provider to sign
    // with an old and a new secret during rotation.
    std::vector<std::string> signatures;
    std::string_view rest = *header;
    while (true) {
      const std::size_t at =
          scheme.separator.empty() ? std::string_view::npos : rest.find(scheme.separator);
      std::string_view entry = detail::trim_blanks(rest.substr(0, at));
      if (!scheme.prefix.empty()) {
        entry = entry.starts_with(scheme.prefix) ? entry.substr(scheme.prefix.size())
                                                 : std::string_view{};
      }
      if (!entry.empty()) {
        if (auto raw = decode(entry)) signatures.push_back(std::move(*raw));
      }
      if (at == std::string_view::npos) break;
      rest = rest.substr(at + scheme.separator.size());
    }
    if (signatures.empty()) return rejection{401, "malformed_signature", malformed_message};

    // Compare every secret's MAC with every signature, without stopping at the first match, so
    // the time taken tells nothing about which one matched.
    std::vector<unsigned char> mac(keys.digest_size());
    int matched = 0;
    for (std::size_t k = 0; k < keys.size(); ++k) {
      if (!keys.compute(k, request.body, mac.data())) continue;
      for (const auto& sig : signatures) {
        matched |= CRYPTO_memcmp(mac.data(), sig.data(), mac.size()) == 0 ? 1 : 0;
      }
    }
    OPENSSL_cleanse(mac.data(), mac.size());
    if (matched == 0) {
      return rejection{401, "bad_signature",
                       "signature in " + scheme.header + " header does not match"};
    }
    return std::nullopt;
  }
};

// ---------------------------------------------------------------------------------------------
// token: a shared secret in the URL path, the query or a header.

struct token_verifier {
  config::token_scheme scheme;
  credential_set tokens;
  std::string where;  // for messages: "token in URL path", "token query parameter", ...

  token_verifier(config::token_scheme s, const std::vector<std::string>& credentials)
      : scheme(std::move(s)), tokens(credentials) {
    switch (scheme.in) {
      case config::token_location::path:
        where = "token in URL path";
        break;
      case config::token_location::query:
        where = scheme.name + " query parameter";
        break;
      case config::token_location::header:
        where = scheme.name + " header";
        break;
    }
  }

  std::optional<rejection> check(const request_view& request, std::string_view path_token) const {
    std::optional<std::string> token;
    switch (scheme.in) {
      case config::token_location::path:
        if (!path_token.empty()) token = std::string(path_token);
        break;
      case config::token_location::query:
        token = detail::query_param(request.query, scheme.name);
        break;
      case config::token_location::header:
        if (auto h = request.headers.get(scheme.name)) token = std::string(*h);
        break;
    }
    if (!token || token->empty()) return rejection{401, "missing_token", "missing " + where};
    std::string& value = *token;
    const bool ok = tokens.matches(value);
    OPENSSL_cleanse(value.data(), value.size());
    if (!ok) return rejection{401, "bad_token", where + " does not match"};
    return std::nullopt;
  }
};

// ---------------------------------------------------------------------------------------------
// body-field: a key inside the JSON body, checked then removed.

struct body_field_verifier {
  std::string field;
  credential_set keys;

  std::optional<rejection> check(const json& body) const {
    const auto it = body.find(field);
    if (it == body.end()) return rejection{401, "missing_api_key", "missing " + field + " field"};
    if (!it->is_string()) {
      return rejection{401, "bad_api_key", field + " field must be a string"};
    }
    if (!keys.matches(it->get_ref<const std::string&>())) {
      return rejection{401, "bad_api_key", field + " field does not match"};
    }
    return std::nullopt;
  }
};

// ---------------------------------------------------------------------------------------------
// JSON parsing with an error position and a depth bound.

/// The deepest nesting of `[`/`{` outside strings; stops counting past `limit`. Runs before the
/// parser so a hostile body cannot build a tree deeper than the rest of hookd can walk.
std::size_t nesting_depth(std::string_view body, std::size_t limit) noexcept {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

/// A SAX consumer that builds nothing and records where parsing failed.
struct error_locator {
  std::size_t position = 0;
  bool null() { return true; }
  bool boolean(bool /*unused*/) { return true; }
  bool number_integer(json::number_integer_t /*unused*/) { return true; }
  bool number_unsigned(json::number_unsigned_t /*unused*/) { return true; }
  bool number_float(json::number_float_t /*unused*/, const json::string_t& /*unused*/) {
    return true;
  }
  bool string(json::string_t& /*unused*/) { return true; }
  bool binary(json::binary_t& /*unused*/) { return true; }
  bool start_object(std::size_t /*unused*/) { return true; }
  bool key(json::string_t& /*unused*/) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t /*unused*/) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t at, const std::string& /*unused*/,
                   const json::exception& /*unused*/) {
    position = at;
    return false;
  }
};

std::optional<rejection> parse_body(std::string_view body, json& out) {
  if (nesting_depth(body, max_json_depth) > max_json_depth) {
    return rejection{400, "invalid_json",
                     "body is nested deeper than " + std::to_string(max_json_depth) + " levels"};
  }
  if (parse_json(body, out)) return std::nullopt;
  // Second pass on the failure path only, to name the byte; the body itself is never echoed.
  error_locator locator;
  json::sax_parse(body.begin(), body.end(), &locator);
  return rejection{400, "invalid_json",
                   "body is not valid JSON (at byte " + std::to_string(locator.position) + ")"};
}

const char* scheme_credential_key(const config::scheme& s) noexcept {
  if (std::holds_alternative<config::hmac_scheme>(s)) return "secret";
  if (std::holds_alternative<config::token_scheme>(s)) return "token";
  if (std::holds_alternative<config::body_field_scheme>(s)) return "api_key";
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct endpoint::impl {
  std::string name;
  std::string provider;
  std::string source;
  compiled_mapping mapping;
  /// The verifier, or monostate when nothing is checked (`verify: none`, or no scheme).
  std::variant<std::monostate, hmac_verifier, token_verifier, body_field_verifier> verifier;
  /// The URL layout and the secret's removal do not depend on whether it is checked.
  bool path_token = false;
  std::string secret_field;  // body-field: removed from the body in every case
  bool needs_object = false;

  impl(const config::endpoint_spec& spec, const config::provider_spec& p)
      : name(spec.name), provider(p.name), source("hookd/" + spec.name), mapping(p.map) {
    if (name.empty()) throw std::invalid_argument("endpoint without a name");
    const bool verify = !spec.verify_none && !std::holds_alternative<config::no_scheme>(p.verify);
    if (verify && spec.credentials.empty()) {
      throw std::invalid_argument("endpoint " + name + ": provider " + p.name + " needs a " +
                                  scheme_credential_key(p.verify) + " (or verify: none)");
    }
    if (const auto* h = std::get_if<config::hmac_scheme>(&p.verify)) {
      if (h->header.empty()) throw std::invalid_argument("hmac scheme without a header");
      if (verify) verifier.emplace<hmac_verifier>(*h, spec.credentials);
    } else if (const auto* t = std::get_if<config::token_scheme>(&p.verify)) {
      if (t->in != config::token_location::path && t->name.empty()) {
        throw std::invalid_argument("token scheme without a name");
      }
      path_token = t->in == config::token_location::path;
      if (verify) verifier.emplace<token_verifier>(*t, spec.credentials);
    } else if (const auto* b = std::get_if<config::body_field_scheme>(&p.verify)) {
      if (b->field.empty()) throw std::invalid_argument("body-field scheme without a field");
      secret_field = b->field;
      if (verify) {
        verifier.emplace<body_field_verifier>(
            body_field_verifier{b->field, credential_set(spec.credentials)});
      }
    }
    needs_object = mapping.needs_object() || !secret_field.empty();
  }

  ingest_result ingest(const request_view& request) const {
    // The token segment is not part of what the mapping sees: /hooks/<endpoint>/<token>/<rest>.
    std::string_view rest = request.rest;
    std::string_view path_token_value;
    if (path_token) {
      const std::size_t slash = rest.find('/');
      path_token_value = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    }

    // 1. Raw-byte schemes, before anything looks at the body.
    if (const auto* h = std::get_if<hmac_verifier>(&verifier)) {
      if (auto r = h->check(request)) return std::move(*r);
    } else if (const auto* t = std::get_if<token_verifier>(&verifier)) {
      if (auto r = t->check(request, path_token_value)) return std::move(*r);
    }

    // 2. Parse once.
    json body;
    if (auto r = parse_body(request.body, body)) return std::move(*r);
    if (needs_object && !body.is_object()) {
      return rejection{400, "invalid_json", "body must be a JSON object"};
    }

    // 3. A key inside the body; removed whether or not it is checked, so it never reaches the
    // event.
    if (const auto* b = std::get_if<body_field_verifier>(&verifier)) {
      if (auto r = b->check(body)) return std::move(*r);
    }
    if (!secret_field.empty()) body.erase(secret_field);

    // 4. Normalize.
    event e;
    const detail::mapping_input in{name, rest, request.headers};
    if (auto r = mapping.apply(body, in, e)) return std::move(*r);
    e.source = source;
    e.time = request.received;
    e.provider = provider;
    e.endpoint = name;
    return e;
  }
};

endpoint::endpoint(const config::endpoint_spec& spec, const config::provider_spec& provider)
    : impl_(std::make_unique<impl>(spec, provider)) {}
endpoint::~endpoint() = default;
endpoint::endpoint(endpoint&&) noexcept = default;
endpoint& endpoint::operator=(endpoint&&) noexcept = default;

const std::string& endpoint::name() const noexcept {
  return impl_->name;
}
const std::string& endpoint::provider() const noexcept {
  return impl_->provider;
}

ingest_result endpoint::ingest(const request_view& request) const noexcept {
  try {
    return impl_->ingest(request);
  } catch (...) {
    // Only allocation failure can get here; the request is refused, the provider retries.
    try {
      return rejection{500, "internal_error", "internal error while verifying the request"};
    } catch (...) {
      std::terminate();
    }
  }
}

endpoint_table::endpoint_table(const config::config& cfg) {
  for (const auto& spec : cfg.endpoints) {
    const auto p = cfg.providers.find(spec.provider);
    if (p == cfg.providers.end()) {
      throw std::invalid_argument("endpoint " + spec.name + ": unknown provider " + spec.provider);
    }
    endpoints_.try_emplace(spec.name, spec, p->second);
  }
}

const endpoint* endpoint_table::find(std::string_view name) const noexcept {
  const auto it = endpoints_.find(name);
  return it == endpoints_.end() ? nullptr : &it->second;
}

}  // namespace hookd::providers
