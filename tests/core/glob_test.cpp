#include <catch2/catch.hpp>

#include <hookd/core/glob.hpp>

using hookd::glob_match;

TEST_CASE("glob matches whole strings with * and ?", "[glob]") {
  CHECK(glob_match("invoice.*", "invoice.created"));
  CHECK(glob_match("invoice.*", "invoice."));
  CHECK_FALSE(glob_match("invoice.*", "customer.created"));
  CHECK_FALSE(glob_match("invoice.*", "xinvoice.created"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*.created", "lead.created"));
  CHECK(glob_match("lead.?aid", "lead.paid"));
  CHECK_FALSE(glob_match("lead.?aid", "lead.aid"));
  CHECK(glob_match("a*b*c", "aXXbYYc"));
  CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
  CHECK(glob_match("code*", "codecustomer"));
  CHECK_FALSE(glob_match("", "x"));
  CHECK(glob_match("", ""));
  CHECK(glob_match("**", "anything"));
}
