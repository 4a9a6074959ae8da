#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/config/config.hpp>
#include <hookd/providers/endpoint.hpp>

/// Helpers shared by the providers tests: an in-memory request and hand-built specs.
namespace hookd::providers::test {

using namespace std::chrono_literals;

/// Headers as the HTTP layer would expose them: first match wins, names case-insensitive.
class header_map : public header_source {
 public:
  header_map() = default;
  header_map(std::initializer_list<std::pair<std::string, std::string>> init) : items_(init) {}
  void add(std::string name, std::string value) {
    items_.emplace_back(std::move(name), std::move(value));
  }

  std::optional<std::string_view> get(std::string_view name) const override {
    for (const auto& [k, v] : items_) {
      if (k.size() == name.size() &&
          std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return std::string_view(v);
      }
    }
    return std::nullopt;
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

/// A request that owns its bytes; view() lends them to ingest().
struct test_request {
  std::string body;
  header_map headers;
  std::string rest;
  std::string query;
  std::chrono::system_clock::time_point received{
      std::chrono::sys_days{std::chrono::November / 22 / 2026} + 10h + 123ms};

  request_view view() const { return request_view{rest, query, headers, body, received}; }
};

inline ingest_result ingest(const endpoint& ep, const test_request& r) {
  return ep.ingest(r.view());
}

/// The event, failing the test (with the rejection's message) when the request was refused.
inline event accepted(const ingest_result& result) {
  if (const auto* r = std::get_if<rejection>(&result)) {
    FAIL_CHECK("refused: " << r->status << " " << r->reason << ": " << r->message);
    return event{};
  }
  return std::get<event>(result);
}

/// The rejection, failing the test when the request was accepted.
inline rejection refused(const ingest_result& result) {
  if (const auto* e = std::get_if<event>(&result)) {
    FAIL_CHECK("accepted as " << e->type << " id " << e->id);
    return rejection{0, "", ""};
  }
  return std::get<rejection>(result);
}

inline config::field_source body(std::string pointer) {
  return config::field_source{config::field_source::origin::body, std::move(pointer)};
}
inline config::field_source header(std::string name) {
  return config::field_source{config::field_source::origin::header, std::move(name)};
}
inline config::field_source path() {
  return config::field_source{config::field_source::origin::path, ""};
}

/// A provider with the given scheme and an Altoviz-like mapping (id, type suffix, data).
inline config::provider_spec provider_with(config::scheme verify, std::string name = "custom") {
  config::provider_spec p;
  p.name = std::move(name);
  p.verify = std::move(verify);
  p.map.id = body("/id");
  p.map.type = body("/type");
  p.map.split = config::type_split::suffix;
  p.map.subject = {body("/data/id")};
  p.map.data = "/data";
  return p;
}

inline config::endpoint_spec endpoint_spec(std::string name, std::string provider,
                                           std::vector<std::string> credentials,
                                           bool verify_none = false) {
  config::endpoint_spec e;
  e.name = std::move(name);
  e.provider = std::move(provider);
  e.credentials = std::move(credentials);
  e.verify_none = verify_none;
  return e;
}

// The presets, built by hand exactly as src/config/presets.yaml writes them.
inline config::provider_spec altoviz_preset() {
  config::provider_spec p;
  p.name = "altoviz";
  p.builtin = true;
  p.verify = config::hmac_scheme{"X-SIGNATURE", config::hmac_algorithm::sha256,
                                 config::signature_encoding::auto_detect, "", ""};
  p.map.id = body("/id");
  p.map.type = body("/type");
  p.map.split = config::type_split::suffix;
  p.map.subject = {body("/data/id")};
  p.map.data = "/data";
  p.map.subject_required = true;
  p.map.data_required = true;
  return p;
}

inline config::provider_spec offerte_preset() {
  config::provider_spec p;
  p.name = "offerte-adviseur";
  p.builtin = true;
  p.verify = config::hmac_scheme{"x-offerte-adviseur-signature", config::hmac_algorithm::sha256,
                                 config::signature_encoding::hex, "", ""};
  p.map.id = body("/id");
  p.map.type = body("/type");
  p.map.split = config::type_split::dotted;
  p.map.subject = {body("/payload/id"), body("/payload/lead_id")};
  p.map.data = "/payload";
  p.map.subject_required = true;
  p.map.data_required = true;
  return p;
}

inline config::provider_spec alphatouch_preset() {
  config::provider_spec p;
  p.name = "alphatouch";
  p.builtin = true;
  p.verify = config::body_field_scheme{"api_key"};
  p.map.entity = body("/entity");
  p.map.action = body("/action");
  p.map.subject = {body("/entity_id")};
  p.map.data = "";
  p.map.subject_required = true;  // a delete has no data
  return p;
}

inline config::provider_spec weavy_preset() {
  config::provider_spec p;
  p.name = "weavy";
  p.builtin = true;
  p.verify = config::token_scheme{config::token_location::query, "token"};
  p.map.type = path();
  p.map.split = config::type_split::prefix;
  p.map.actions = {{"new", "created"}};
  p.map.subject_by_type = {{"customer.created", {body("/result/codecustomer")}},
                           {"deal.created", {body("/result/codedeal")}},
                           {"opportunity.created", {body("/result/codedeal")}}};
  p.map.subject = {body("/result/code*")};
  p.map.data = "/result";
  p.map.data_required = true;
  return p;
}

}  // namespace hookd::providers::test

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace hookd::providers::test {

/// Lowercase hex HMAC-SHA256, the way a provider signs (the scheme vectors are in hmac_test.cpp;
/// this only lets mapping tests pass verification).
inline std::string sign(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &size);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(digits[mac[i] >> 4]);
    out.push_back(digits[mac[i] & 0x0f]);
  }
  return out;
}

}  // namespace hookd::providers::test
