#include <string>

#include <catch2/catch.hpp>

#include <hookd/providers/endpoint.hpp>

#include "support.hpp"

using namespace hookd;
using namespace hookd::providers;
using namespace hookd::providers::test;
using config::token_location;

namespace {

const std::string token = "s3cr3t tok/en";  // a space and a slash: must be percent-encoded in URLs
const std::string body = R"({"result":{"codecustomer":"COLOMB","name":"Colombes SA"}})";

/// A Weavy-like provider (event name from the URL path) with the token where the row says.
endpoint make(token_location in, std::string name = "token") {
  config::provider_spec p = weavy_preset();
  p.name = "custom";
  p.verify = config::token_scheme{in, std::move(name)};
  return endpoint(endpoint_spec("weavy", "custom", {"other-token", token}), p);
}

test_request request(std::string rest, std::string query = "") {
  test_request r;
  r.body = body;
  r.rest = std::move(rest);
  r.query = std::move(query);
  return r;
}

}  // namespace

TEST_CASE("token in the query: good, percent-encoded, bad, missing", "[token]") {
  const auto ep = make(token_location::query);
  const auto [label, query, reason] = GENERATE(table<std::string, std::string, std::string>({
      {"percent-encoded with %20", "token=s3cr3t%20tok%2Fen", ""},
      {"'+' for the space, among other parameters", "a=1&token=s3cr3t+tok%2fen&b", ""},
      {"the first of two wins", "token=s3cr3t%20tok%2Fen&token=nope", ""},
      {"wrong token", "token=s3cr3t", "bad_token"},
      {"a longer token with the right start", "token=s3cr3t%20tok%2Fen2", "bad_token"},
      {"a stray % after the token", "token=s3cr3t%20tok/en%", "bad_token"},
      {"missing", "a=1&tokens=x", "missing_token"},
      {"empty", "token=", "missing_token"},
      {"no query at all", "", "missing_token"},
  }));
  CAPTURE(label);
  const auto result = ingest(ep, request("NewCustomer", query));
  if (reason.empty()) {
    const event e = accepted(result);
    CHECK(e.type == "customer.created");
    CHECK(e.subject == "COLOMB");
  } else {
    const rejection r = refused(result);
    CHECK(r.status == 401);
    CHECK(r.reason == reason);
    CHECK_THAT(r.message, Catch::Contains("token query parameter"));
    CHECK_THAT(r.message, !Catch::Contains("s3cr3t"));
  }
}

TEST_CASE("token in a header: good, bad, missing", "[token]") {
  const auto ep = make(token_location::header, "X-Hook-Token");
  auto r = request("NewCustomer");

  SECTION("good") {
    r.headers.add("x-hook-token", token);
    CHECK(accepted(ingest(ep, r)).entity == "customer");
  }
  SECTION("bad") {
    r.headers.add("X-Hook-Token", "s3cr3t tok/eN");
    const rejection rej = refused(ingest(ep, r));
    CHECK(rej.reason == "bad_token");
    CHECK(rej.message == "X-Hook-Token header does not match");
  }
  SECTION("missing") {
    r.query = "X-Hook-Token=" + token;  // in the query instead: not where it is configured
    const rejection rej = refused(ingest(ep, r));
    CHECK(rej.status == 401);
    CHECK(rej.reason == "missing_token");
    CHECK(rej.message == "missing X-Hook-Token header");
  }
}

TEST_CASE("token in the path: the first segment, removed before mapping", "[token]") {
  const auto ep = make(token_location::path);
  const auto [label, rest, reason,
              type] = GENERATE(table<std::string, std::string, std::string, std::string>({
      // rest is already percent-decoded by the HTTP layer; the token has a '/' itself, so
      // use a token-shaped URL for the path tests below.
      {"good token, then the event name", "other-token/NewOpportunity", "", "opportunity.created"},
      {"bad token", "nope/NewCustomer", "bad_token", ""},
      {"token only, no event name", "other-token", "bad_path", ""},
      {"empty first segment", "/NewCustomer", "missing_token", ""},
      {"nothing after the endpoint", "", "missing_token", ""},
  }));
  CAPTURE(label);
  auto r = request(rest);
  r.body = R"({"result":{"codedeal":"2010000000014","label":"Big deal"}})";
  const auto result = ingest(ep, r);
  if (reason.empty()) {
    const event e = accepted(result);
    CHECK(e.type == type);
    CHECK(e.providertype == "NewOpportunity");
    CHECK(e.subject == "2010000000014");
  } else {
    const rejection rej = refused(result);
    CHECK(rej.reason == reason);
    CHECK_THAT(rej.message, !Catch::Contains("other-token"));
    CHECK_THAT(rej.message, !Catch::Contains("nope"));
  }
}

TEST_CASE("token in the path: the stable id does not depend on the token", "[token]") {
  // Rotating the token must not turn a provider's retry into a new event.
  config::provider_spec p = weavy_preset();
  p.verify = config::token_scheme{token_location::path, "token"};
  const endpoint ep(endpoint_spec("weavy", "weavy", {"old-token", "new-token"}), p);
  const event a = accepted(ingest(ep, request("old-token/NewCustomer")));
  const event b = accepted(ingest(ep, request("new-token/NewCustomer")));
  CHECK(a.id == b.id);
}

TEST_CASE("token: verify none accepts without a token but keeps the URL layout", "[token]") {
  config::provider_spec p = weavy_preset();
  p.verify = config::token_scheme{token_location::path, "token"};
  const endpoint ep(endpoint_spec("weavy", "weavy", {}, /*verify_none=*/true), p);
  CHECK(accepted(ingest(ep, request("anything/NewCustomer"))).type == "customer.created");
}
