#include <string>

#include <catch2/catch.hpp>

#include <hookd/providers/endpoint.hpp>

#include "support.hpp"

using namespace hookd;
using namespace hookd::providers;
using namespace hookd::providers::test;

namespace {

const std::string api_key = "UNIQUE_API_KEY_4f1c";

endpoint alphatouch(std::vector<std::string> keys = {"previous-key", api_key}) {
  return endpoint(endpoint_spec("alphatouch", "alphatouch", std::move(keys)), alphatouch_preset());
}

test_request request(std::string body) {
  test_request r;
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("body-field: the right key passes and never reaches the event", "[body-field]") {
  const auto ep = alphatouch();
  const event e = accepted(ingest(
      ep, request(R"({"api_key":"UNIQUE_API_KEY_4f1c","action":"update","entity":"resident",)"
                  R"("entity_id":17,"data":{"id":17,"name":"Jane"}})")));
  CHECK(e.type == "resident.updated");
  const std::string serialized = to_cloudevent(e).dump();
  CHECK_THAT(serialized, !Catch::Contains(api_key));
  CHECK_THAT(serialized, !Catch::Contains("api_key"));
  CHECK(e.data == json::parse(R"({"action":"update","entity":"resident","entity_id":17,)"
                              R"("data":{"id":17,"name":"Jane"}})"));
}

TEST_CASE("body-field: refusals", "[body-field]") {
  const auto ep = alphatouch();
  const auto [label, body, status, reason, message] =
      GENERATE(table<std::string, std::string, unsigned, std::string, std::string>({
          {"wrong key", R"({"api_key":"UNIQUE_API_KEY","action":"update","entity":"resident"})",
           401, "bad_api_key", "api_key field does not match"},
          {"key with a different case",
           R"({"api_key":"unique_api_key_4f1c","action":"update","entity":"resident"})", 401,
           "bad_api_key", "api_key field does not match"},
          {"missing key", R"({"action":"update","entity":"resident","entity_id":17})", 401,
           "missing_api_key", "missing api_key field"},
          {"nested key does not count",
           R"({"data":{"api_key":"UNIQUE_API_KEY_4f1c"},"action":"update","entity":"resident"})",
           401, "missing_api_key", "missing api_key field"},
          {"non-string key", R"({"api_key":12345,"action":"update","entity":"resident"})", 401,
           "bad_api_key", "api_key field must be a string"},
          {"array body", R"([{"api_key":"UNIQUE_API_KEY_4f1c"}])", 400, "invalid_json",
           "body must be a JSON object"},
          {"not JSON", R"({"api_key":"UNIQUE_API_KEY_4f1c",)", 400, "invalid_json",
           "body is not valid JSON (at byte 34)"},
      }));
  CAPTURE(label);
  const rejection r = refused(ingest(ep, request(body)));
  CHECK(r.status == status);
  CHECK(r.reason == reason);
  CHECK(r.message == message);
  CHECK_THAT(r.message, !Catch::Contains("UNIQUE"));
}

TEST_CASE("body-field: with verify none the key is still removed", "[body-field]") {
  const endpoint ep(endpoint_spec("alphatouch", "alphatouch", {}, /*verify_none=*/true),
                    alphatouch_preset());
  const event e = accepted(ingest(
      ep,
      request(R"({"api_key":"whatever","action":"delete","entity":"resident","entity_id":17})")));
  CHECK(e.type == "resident.deleted");
  CHECK_FALSE(e.data.contains("api_key"));
  CHECK_THAT(to_cloudevent(e).dump(), !Catch::Contains("whatever"));
}
