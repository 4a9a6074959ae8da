#include <string>

#include <catch2/catch.hpp>

#include <hookd/core/http_token.hpp>

using hookd::is_http_token;

TEST_CASE("HTTP tokens: field names", "[http-token]") {
  for (const char* ok : {"X-SIGNATURE", "Content-Type", "x-offerte-adviseur-signature", "a",
                         "!#$%&'*+-.^_`|~09AZaz"}) {
    CHECK(is_http_token(ok));
  }
  using namespace std::string_literals;
  for (const std::string& bad :
       {""s, "X A"s, "X:A"s, "X\r\nA"s, "X\0A"s, "(x)"s, "\"x\""s, "é"s, "x/y"s, "x@y"s}) {
    CHECK_FALSE(is_http_token(bad));
  }
}
