#include <string>
#include <tuple>

#include <catch2/catch.hpp>

#include <hookd/providers/endpoint.hpp>

#include "crypto.hpp"
#include "encoding.hpp"
#include "support.hpp"

using namespace hookd;
using namespace hookd::providers;
using namespace hookd::providers::test;
using config::hmac_algorithm;
using config::signature_encoding;

namespace {

config::hmac_scheme hmac(std::string header, hmac_algorithm algorithm, signature_encoding encoding,
                         std::string prefix = "", std::string separator = "") {
  return config::hmac_scheme{std::move(header), algorithm, encoding, std::move(prefix),
                             std::move(separator)};
}

endpoint make(config::hmac_scheme scheme, std::vector<std::string> secrets) {
  return endpoint(endpoint_spec("hooks", "custom", std::move(secrets)), provider_with(scheme));
}

test_request signed_request(std::string body, std::string header, std::string value) {
  test_request r;
  r.body = std::move(body);
  r.headers.add(std::move(header), std::move(value));
  return r;
}

// Computed independently: printf %s "$body" | openssl dgst -sha256 -hmac hookd-test-secret
// (-sha1, -sha512; base64 through -binary | base64).
const std::string own_body = R"({"id":"42","type":"InvoiceDeleted","data":{"id":7}})";
const std::string own_secret = "hookd-test-secret";

}  // namespace

TEST_CASE("hmac: published and recomputed vectors over the raw body verify", "[hmac]") {
  // Each row is a hand-built custom provider: the scheme, the secret, body and header value.
  const auto [label, scheme, secret, body,
              value] = GENERATE(table<std::string, config::hmac_scheme, std::string, std::string,
                                      std::string>({
      {"VECTORS.md hex (Altoviz/Offerte) with encoding hex",
       hmac("X-SIGNATURE", hmac_algorithm::sha256, signature_encoding::hex), "secret",
       R"({"id":"1233","type":"CustomerCreated","data":{}})",
       "276bd8c33220f145653fe409c6ce9ea173fd1c7aca7f8b9c1b6d980cee073327"},
      {"VECTORS.md hex with encoding auto",
       hmac("X-SIGNATURE", hmac_algorithm::sha256, signature_encoding::auto_detect), "secret",
       R"({"id":"1233","type":"CustomerCreated","data":{}})",
       "276bd8c33220f145653fe409c6ce9ea173fd1c7aca7f8b9c1b6d980cee073327"},
      {"VECTORS.md hex, uppercase, with encoding auto",
       hmac("X-SIGNATURE", hmac_algorithm::sha256, signature_encoding::auto_detect), "secret",
       R"({"id":"1233","type":"CustomerCreated","data":{}})",
       "276BD8C33220F145653FE409C6CE9EA173FD1C7ACA7F8B9C1B6D980CEE073327"},
      {"VECTORS.md GitHub sha256= prefix",
       hmac("X-Hub-Signature-256", hmac_algorithm::sha256, signature_encoding::hex, "sha256="),
       "It's a Secret to Everybody", "Hello, World!",
       "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
      {"VECTORS.md Shopify base64",
       hmac("X-Shopify-Hmac-Sha256", hmac_algorithm::sha256, signature_encoding::base64),
       "shop-secret", R"({"id":1})", "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0="},
      {"VECTORS.md Shopify base64 through auto",
       hmac("X-Shopify-Hmac-Sha256", hmac_algorithm::sha256, signature_encoding::auto_detect),
       "shop-secret", R"({"id":1})", "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0="},
      {"own sha256 hex", hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex), own_secret,
       own_body, "4e5b0c4da6d9d0c4b48b1f89064c9e0c34aefb984439438e674e9b4ee96882a1"},
      {"own sha256 base64", hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::base64),
       own_secret, own_body, "TlsMTabZ0MS0ix+JBkyeDDSu+5hEOUOOZ06bTulogqE="},
      {"own sha256 base64 without padding",
       hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::base64), own_secret, own_body,
       "TlsMTabZ0MS0ix+JBkyeDDSu+5hEOUOOZ06bTulogqE"},
      {"own sha1 hex", hmac("X-Sig", hmac_algorithm::sha1, signature_encoding::hex), own_secret,
       own_body, "0049cd76b3b1f8144b0404937ca35a0be8488b23"},
      {"own sha1 base64 through auto",
       hmac("X-Sig", hmac_algorithm::sha1, signature_encoding::auto_detect), own_secret, own_body,
       "AEnNdrOx+BRLBASTfKNaC+hIiyM="},
      {"own sha512 hex", hmac("X-Sig", hmac_algorithm::sha512, signature_encoding::hex), own_secret,
       own_body,
       "f2fa167d2bf28d41b7a16c9424bae1db18ee21c581592136ba44ee14fd7c7091aff5b50c23ec7682d6be848dc"
       "961ff133a0f80ea901eaf2b0e5db88a74714472"},
      {"own sha512 base64", hmac("X-Sig", hmac_algorithm::sha512, signature_encoding::base64),
       own_secret, own_body,
       "8voWfSvyjUG3oWyUJLrh2xjuIcWBWSE2ukTuFP18cJGv9bUMI+x2gta+hI3JYf8TOg+A6pAerysOXbiKdHFEcg=="},
      {"own sha256 hex, header name in another case",
       hmac("x-sig", hmac_algorithm::sha256, signature_encoding::hex), own_secret, own_body,
       "4e5b0c4da6d9d0c4b48b1f89064c9e0c34aefb984439438e674e9b4ee96882a1"},
      {"own sha256 hex, blanks around the value",
       hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex), own_secret, own_body,
       " \t4e5b0c4da6d9d0c4b48b1f89064c9e0c34aefb984439438e674e9b4ee96882a1 "},
  }));
  CAPTURE(label);
  // The GitHub and Shopify bodies are not Altoviz-shaped: use a no-id mapping for them.
  auto provider = provider_with(scheme);
  provider.map = config::mapping{};
  provider.map.type = header("X-Type");
  provider.map.split = config::type_split::dotted;
  auto r = signed_request(body, scheme.header == "x-sig" ? "X-SIG" : scheme.header, value);
  r.headers.add("X-Type", "test.ping");
  const endpoint ep(endpoint_spec("hooks", "custom", {secret}), provider);
  const auto result = ingest(ep, r);
  if (const auto* rej = std::get_if<rejection>(&result)) {
    // GitHub's published vector signs a body that is not JSON: verification passed when the
    // refusal comes from the parser, after it.
    CHECK(rej->reason == "invalid_json");
    CHECK(body == "Hello, World!");
  } else {
    CHECK(std::get<event>(result).type == "test.ping");
  }
}

TEST_CASE("hmac: refusals name the header and never echo the signature or secret", "[hmac]") {
  const std::string good = "4e5b0c4da6d9d0c4b48b1f89064c9e0c34aefb984439438e674e9b4ee96882a1";
  const std::string good_b64 = "TlsMTabZ0MS0ix+JBkyeDDSu+5hEOUOOZ06bTulogqE=";
  const auto [label, scheme, secrets, body, value, reason] =
      GENERATE_REF(table<std::string, config::hmac_scheme, std::vector<std::string>, std::string,
                         std::string, std::string>({
          {"tampered body",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex),
           {own_secret},
           R"({"id":"42","type":"InvoiceDeleted","data":{"id":8}})",
           good,
           "bad_signature"},
          {"wrong secret",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex),
           {"not-the-secret"},
           own_body,
           good,
           "bad_signature"},
          {"hex where base64 is expected",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::base64),
           {own_secret},
           own_body,
           good,
           "malformed_signature"},
          {"base64 where hex is expected",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex),
           {own_secret},
           own_body,
           good_b64,
           "malformed_signature"},
          {"uppercase hex is fine but one digit changed",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::auto_detect),
           {own_secret},
           own_body,
           "4E5B0C4DA6D9D0C4B48B1F89064C9E0C34AEFB984439438E674E9B4EE96882A2",
           "bad_signature"},
          {"sha256 digest where sha1 is configured",
           hmac("X-Sig", hmac_algorithm::sha1, signature_encoding::hex),
           {own_secret},
           own_body,
           good,
           "malformed_signature"},
          {"truncated hex",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex),
           {own_secret},
           own_body,
           good.substr(0, 62),
           "malformed_signature"},
          {"empty header",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex),
           {own_secret},
           own_body,
           "",
           "malformed_signature"},
          {"prefix missing",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex, "sha256="),
           {own_secret},
           own_body,
           good,
           "malformed_signature"},
          {"another prefix",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex, "sha256="),
           {own_secret},
           own_body,
           "sha1=" + good,
           "malformed_signature"},
          {"base64 with bad padding",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::base64),
           {own_secret},
           own_body,
           good_b64 + "=",
           "malformed_signature"},
          {"several signatures, none matching",
           hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex, "", ","),
           {own_secret},
           own_body,
           "59d54560e1a81ccab9fe049d353fd8ecd2ae922451960fc68c3a8c7166faafd4, "
           "562415b4fdd93946cd6464d049d7a8db8cf0a258bd98c86e64e81521276c0cbe",
           "bad_signature"},
      }));
  CAPTURE(label);
  const endpoint ep(endpoint_spec("hooks", "custom", secrets), provider_with(scheme));
  const rejection r = refused(ingest(ep, signed_request(body, "X-Sig", value)));
  CHECK(r.status == 401);
  CHECK(r.reason == reason);
  CHECK_THAT(r.message, Catch::Contains("X-Sig"));
  if (!value.empty()) CHECK_THAT(r.message, !Catch::Contains(value.substr(0, 16)));
  for (const auto& s : secrets)
    CHECK_THAT(r.message, !Catch::Contains(s));
}

TEST_CASE("hmac: a missing header is refused as missing_signature", "[hmac]") {
  const auto ep = make(hmac("X-SIGNATURE", hmac_algorithm::sha256, signature_encoding::auto_detect),
                       {own_secret});
  test_request r;
  r.body = own_body;
  r.headers.add("X-Other", "4e5b0c4da6d9d0c4b48b1f89064c9e0c34aefb984439438e674e9b4ee96882a1");
  const rejection rej = refused(ingest(ep, r));
  CHECK(rej.status == 401);
  CHECK(rej.reason == "missing_signature");
  CHECK(rej.message == "missing X-SIGNATURE header");
}

TEST_CASE("hmac: verification runs on the raw bytes before the body is parsed", "[hmac]") {
  // Not JSON at all, and unsigned: the answer is 401, not 400.
  const auto ep =
      make(hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex), {own_secret});
  test_request r;
  r.body = "not json";
  r.headers.add("X-Sig", "4e5b0c4da6d9d0c4b48b1f89064c9e0c34aefb984439438e674e9b4ee96882a1");
  CHECK(refused(ingest(ep, r)).reason == "bad_signature");
}

TEST_CASE("hmac: rotation accepts any configured secret against any signature", "[hmac]") {
  const std::string good = "4e5b0c4da6d9d0c4b48b1f89064c9e0c34aefb984439438e674e9b4ee96882a1";
  const std::string old_sig = "59d54560e1a81ccab9fe049d353fd8ecd2ae922451960fc68c3a8c7166faafd4";

  SECTION("one bad and one good secret, in either order") {
    auto secrets = GENERATE(std::vector<std::string>{"wrong-secret", own_secret},
                            std::vector<std::string>{own_secret, "wrong-secret"});
    const auto ep = make(hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex), secrets);
    CHECK(accepted(ingest(ep, signed_request(own_body, "X-Sig", good))).id == "42");
  }
  SECTION("several signatures in one header with a separator, only the last one good") {
    const auto ep = make(hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex, "v1=", ","),
                         {own_secret});
    // An entry with another prefix is skipped; an undecodable one too.
    const std::string header = "v0=" + good + ", v1=zz, v1=" + old_sig + " ,\tv1=" + good;
    CHECK(accepted(ingest(ep, signed_request(own_body, "X-Sig", header))).id == "42");
  }
  SECTION("a signature made with the old secret still verifies while both are configured") {
    const auto ep = make(hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex),
                         {own_secret, "old-secret"});
    CHECK(accepted(ingest(ep, signed_request(own_body, "X-Sig", old_sig))).id == "42");
  }
  SECTION("a space separator, as Standard Webhooks uses") {
    const auto ep = make(
        hmac("webhook-signature", hmac_algorithm::sha256, signature_encoding::base64, "v1,", " "),
        {own_secret});
    const std::string header = "v1,AAAA v1,TlsMTabZ0MS0ix+JBkyeDDSu+5hEOUOOZ06bTulogqE=";
    CHECK(accepted(ingest(ep, signed_request(own_body, "webhook-signature", header))).id == "42");
  }
}

TEST_CASE("hmac: an empty secret list needs verify: none", "[hmac]") {
  const auto provider =
      provider_with(hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex));
  SECTION("without verify: none the endpoint refuses to exist") {
    CHECK_THROWS_AS(endpoint(endpoint_spec("hooks", "custom", {}), provider),
                    std::invalid_argument);
  }
  SECTION("with verify: none anything passes, even without the header") {
    const endpoint ep(endpoint_spec("hooks", "custom", {}, /*verify_none=*/true), provider);
    test_request r;
    r.body = own_body;
    const event e = accepted(ingest(ep, r));
    CHECK(e.type == "invoice.deleted");
    CHECK(e.subject == "7");
  }
}

TEST_CASE("hmac: an empty secret is a key like any other", "[hmac]") {
  // python3 -c 'import hmac,hashlib; print(hmac.new(b"", body, hashlib.sha256).hexdigest())'
  const auto ep = make(hmac("X-Sig", hmac_algorithm::sha256, signature_encoding::hex), {""});
  const std::string body = R"({"id":"1","type":"PingSent"})";
  CHECK(
      accepted(ingest(ep, signed_request(
                              body, "X-Sig",
                              "090a1952d07ac46ddf6d861cf0fe4e33c8e44b6b9414ad9ccde918d342865d42")))
          .id == "1");
}

TEST_CASE("hmac: every computation gives the key's MAC, keys and messages alternating", "[hmac]") {
  // RFC 4231 test case 2, and the empty key over the empty message.
  const std::string jefe_mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const std::string empty_mac = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
  const detail::hmac_keys keys(hmac_algorithm::sha256, {"Jefe", ""});
  REQUIRE(keys.size() == 2);
  REQUIRE(keys.digest_size() == 32);
  auto mac = [&keys](std::size_t index, std::string_view message) {
    std::string out(keys.digest_size(), '\0');
    REQUIRE(keys.compute(index, message, reinterpret_cast<unsigned char*>(out.data())));
    return detail::hex_encode(out);
  };
  // Again and again, alternating keys, between other messages: each computation starts from
  // its key's context and keeps nothing of the last message.
  for (int i = 0; i < 200; ++i) {
    CHECK(mac(0, "what do ya want for nothing?") == jefe_mac);
    CHECK(mac(1, "") == empty_mac);
    CHECK(mac(0, "another message " + std::to_string(i)) != jefe_mac);
  }
}
