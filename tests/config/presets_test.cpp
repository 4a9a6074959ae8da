#include <catch2/catch.hpp>

#include <hookd/config/loader.hpp>

#include "config_test_support.hpp"

using namespace hookd::config;

namespace {

const provider_spec& preset(const std::string& name) {
  const auto& all = builtin_providers();
  auto it = all.find(name);
  REQUIRE(it != all.end());
  return it->second;
}

field_source body(std::string pointer) {
  return {field_source::origin::body, std::move(pointer)};
}

void check_source(const std::optional<field_source>& actual, const field_source& expected) {
  REQUIRE(actual.has_value());
  CHECK(actual->from == expected.from);
  CHECK(actual->name == expected.name);
}

}  // namespace

TEST_CASE("the built-in presets are the four seed providers", "[config][presets]") {
  const auto& all = builtin_providers();
  REQUIRE(all.size() == 4);
  for (const auto& [name, spec] : all) {
    INFO(name);
    CHECK(spec.name == name);
    CHECK(spec.builtin);
  }
}

TEST_CASE("altoviz: hmac sha256 in X-SIGNATURE, hex or base64, type split by suffix",
          "[config][presets]") {
  const auto& p = preset("altoviz");
  const auto* s = std::get_if<hmac_scheme>(&p.verify);
  REQUIRE(s != nullptr);
  CHECK(s->header == "X-SIGNATURE");
  CHECK(s->algorithm == hmac_algorithm::sha256);
  CHECK(s->encoding == signature_encoding::auto_detect);
  CHECK(s->prefix.empty());
  CHECK(s->separator.empty());
  check_source(p.map.id, body("/id"));
  check_source(p.map.type, body("/type"));
  CHECK(p.map.split == type_split::suffix);
  CHECK_FALSE(p.map.entity.has_value());
  REQUIRE(p.map.subject.size() == 1);
  check_source(p.map.subject[0], body("/data/id"));
  CHECK(p.map.data == "/data");
  CHECK(p.map.subject_required);
  CHECK(p.map.data_required);
  CHECK(p.map.subject_by_type.empty());
  CHECK(std::string(credential_key(p.verify)) == "secret");
}

TEST_CASE("offerte-adviseur: hex hmac, dotted type, subject id or lead_id", "[config][presets]") {
  const auto& p = preset("offerte-adviseur");
  const auto* s = std::get_if<hmac_scheme>(&p.verify);
  REQUIRE(s != nullptr);
  CHECK(s->header == "x-offerte-adviseur-signature");
  CHECK(s->encoding == signature_encoding::hex);
  CHECK(p.map.split == type_split::dotted);
  REQUIRE(p.map.subject.size() == 2);
  check_source(p.map.subject[0], body("/payload/id"));
  check_source(p.map.subject[1], body("/payload/lead_id"));
  CHECK(p.map.data == "/payload");
  CHECK(p.map.subject_required);
  CHECK(p.map.data_required);
}

TEST_CASE("alphatouch: api_key body field, entity and action, no id", "[config][presets]") {
  const auto& p = preset("alphatouch");
  const auto* s = std::get_if<body_field_scheme>(&p.verify);
  REQUIRE(s != nullptr);
  CHECK(s->field == "api_key");
  CHECK_FALSE(p.map.id.has_value());
  CHECK_FALSE(p.map.type.has_value());
  check_source(p.map.entity, body("/entity"));
  check_source(p.map.action, body("/action"));
  REQUIRE(p.map.subject.size() == 1);
  check_source(p.map.subject[0], body("/entity_id"));
  CHECK(p.map.data.empty());
  CHECK(p.map.subject_required);     // entity_id
  CHECK_FALSE(p.map.data_required);  // a delete has no data
  CHECK(std::string(credential_key(p.verify)) == "api_key");
}

TEST_CASE("weavy: query token, type from the path, prefix split with new -> created",
          "[config][presets]") {
  const auto& p = preset("weavy");
  const auto* s = std::get_if<token_scheme>(&p.verify);
  REQUIRE(s != nullptr);
  CHECK(s->in == token_location::query);
  CHECK(s->name == "token");
  REQUIRE(p.map.type.has_value());
  CHECK(p.map.type->from == field_source::origin::path);
  CHECK(p.map.split == type_split::prefix);
  CHECK(p.map.actions == std::map<std::string, std::string>{{"new", "created"}});
  REQUIRE(p.map.subject.size() == 1);
  check_source(p.map.subject[0], body("/result/code*"));
  // The record's own code field where Divalto documents it, not the first code... field.
  CHECK(p.map.subject_by_type.size() == 3);
  for (const auto& [type, field] : {std::pair{"customer.created", "/result/codecustomer"},
                                    std::pair{"deal.created", "/result/codedeal"},
                                    std::pair{"opportunity.created", "/result/codedeal"}}) {
    CAPTURE(type);
    REQUIRE(p.map.subject_by_type.count(type) == 1);
    REQUIRE(p.map.subject_by_type.at(type).size() == 1);
    check_source(p.map.subject_by_type.at(type)[0], body(field));
  }
  CHECK(p.map.data == "/result");
  CHECK_FALSE(p.map.subject_required);
  CHECK(p.map.data_required);
  CHECK(std::string(credential_key(p.verify)) == "token");
}

TEST_CASE("a loaded config holds the built-in presets", "[config][presets]") {
  auto cfg = load_text("{}", "hookd.json");
  CHECK(cfg.providers.size() == builtin_providers().size());
  CHECK(cfg.providers.count("weavy") == 1);
}

TEST_CASE("a user provider is read by the same code as the presets", "[config][presets]") {
  // The altoviz preset's text, under another name, gives the same provider (builtin aside).
  auto cfg = load_text(R"(
providers:
  altoviz-copy:
    scheme: {type: hmac, header: X-SIGNATURE, algorithm: sha256, encoding: auto}
    mapping:
      id: /id
      type: /type
      split: suffix
      subject: [/data/id]
      data: /data
      required: [subject, data]
)",
                       "hookd.yaml");
  const auto& mine = cfg.providers.at("altoviz-copy");
  const auto& builtin = preset("altoviz");
  CHECK_FALSE(mine.builtin);
  const auto& a = std::get<hmac_scheme>(mine.verify);
  const auto& b = std::get<hmac_scheme>(builtin.verify);
  CHECK(a.header == b.header);
  CHECK(a.encoding == b.encoding);
  CHECK(mine.map.data == builtin.map.data);
  CHECK(mine.map.subject.size() == builtin.map.subject.size());
  CHECK(mine.map.subject_required == builtin.map.subject_required);
  CHECK(mine.map.data_required == builtin.map.data_required);
}
