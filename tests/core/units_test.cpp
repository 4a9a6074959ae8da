#include <catch2/catch.hpp>

#include <hookd/core/units.hpp>

using namespace std::chrono_literals;
using hookd::parse_duration;
using hookd::parse_size;

TEST_CASE("durations parse in every documented unit", "[units]") {
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("30s") == 30s);
  CHECK(parse_duration("5m") == 5min);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("7d") == 7 * 24h);
  CHECK(parse_duration("0s") == 0ms);
}

TEST_CASE("durations without a known unit or with junk are refused", "[units]") {
  for (const char* bad : {"", "30", "s", "-1s", "1.5s", "30 s", "30sec", "1w", "99999999999999999999d"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("sizes parse in binary and decimal units", "[units]") {
  CHECK(parse_size("1024") == 1024U);
  CHECK(parse_size("10B") == 10U);
  CHECK(parse_size("512KiB") == 512U * 1024U);
  CHECK(parse_size("1MiB") == 1024U * 1024U);
  CHECK(parse_size("2GiB") == 2ULL * 1024 * 1024 * 1024);
  CHECK(parse_size("5kB") == 5000U);
  CHECK(parse_size("3MB") == 3000000U);
}

TEST_CASE("sizes with junk or overflow are refused", "[units]") {
  for (const char* bad : {"", "MiB", "1.5MiB", "1 MiB", "1mib", "-1", "99999999999999999999GiB"}) {
    INFO(bad);
    CHECK_FALSE(parse_size(bad).has_value());
  }
}

TEST_CASE("formatting reads back as the same value", "[units]") {
  CHECK(hookd::format_duration(90s) == "90s");
  CHECK(hookd::format_duration(7 * 24h) == "7d");
  CHECK(hookd::format_duration(1500ms) == "1500ms");
  CHECK(hookd::format_size(1 << 20) == "1MiB");
  CHECK(hookd::format_size(1536) == "1536B");
  CHECK(parse_duration(hookd::format_duration(3h)) == 3h);
}
