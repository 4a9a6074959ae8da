#include <catch2/catch.hpp>

#include <hookd/providers/signing.hpp>

using hookd::config::hmac_algorithm;

TEST_CASE("signing reproduces the published hex and GitHub vectors", "[signing]") {
  // VECTORS.md: hex over the raw body, and GitHub's documented example.
  CHECK(hookd::providers::hex(
            hookd::providers::hmac(hmac_algorithm::sha256, "secret",
                                   R"({"id":"1233","type":"CustomerCreated","data":{}})")) ==
        "276bd8c33220f145653fe409c6ce9ea173fd1c7aca7f8b9c1b6d980cee073327");
  CHECK(hookd::providers::hex(hookd::providers::hmac(
            hmac_algorithm::sha256, "It's a Secret to Everybody", "Hello, World!")) ==
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST_CASE("signing gives each algorithm's digest length", "[signing]") {
  CHECK(hookd::providers::hmac(hmac_algorithm::sha1, "k", "m").size() == 20);
  CHECK(hookd::providers::hmac(hmac_algorithm::sha512, "k", "m").size() == 64);
}
