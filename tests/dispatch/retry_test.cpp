#include <catch2/catch.hpp>

#include <hookd/dispatch/retry.hpp>

using namespace std::chrono_literals;
using hookd::duration;
using hookd::config::retry_policy;
using hookd::dispatch::exhausted;
using hookd::dispatch::next_delay;
using hookd::dispatch::nominal_delay;

TEST_CASE("backoff doubles from initial and is capped at max", "[retry]") {
  const retry_policy p{12, 1s, 1h};
  CHECK(nominal_delay(p, 1) == 1s);
  CHECK(nominal_delay(p, 2) == 2s);
  CHECK(nominal_delay(p, 3) == 4s);
  CHECK(nominal_delay(p, 12) == 2048s);
  CHECK(nominal_delay(p, 13) == 1h);  // 4096s > 3600s
  CHECK(nominal_delay(p, 100) == 1h);
  CHECK(nominal_delay(p, 4000000000U) == 1h);  // no overflow however large the attempt
  CHECK(nominal_delay(retry_policy{5, 500ms, 3s}, 4) == 3s);
  CHECK(nominal_delay(retry_policy{5, 10s, 3s}, 1) == 3s);  // initial above max: max
  CHECK(nominal_delay(retry_policy{5, 0ms, 3s}, 3) == 0ms);
}

TEST_CASE("jitter stays within [d/2, d] and actually varies", "[retry]") {
  const retry_policy p{12, 1s, 1h};
  std::mt19937_64 rng(42);
  for (unsigned attempt = 1; attempt <= 20; ++attempt) {
    const duration d = nominal_delay(p, attempt);
    duration lo = d;
    duration hi = duration::zero();
    for (int i = 0; i < 2000; ++i) {
      const duration x = next_delay(p, attempt, rng);
      REQUIRE(x >= d / 2);
      REQUIRE(x <= d);
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    // 2000 uniform draws cover most of the range: the jitter is real, not a constant.
    CHECK(hi - lo > d / 4);
  }
}

TEST_CASE("jitter bounds hold for odd and tiny delays", "[retry]") {
  std::mt19937_64 rng(7);
  const retry_policy p{3, 1ms, 3ms};
  for (int i = 0; i < 500; ++i) {
    const auto x1 = next_delay(p, 1, rng);
    CHECK((x1 == 0ms || x1 == 1ms));
    const auto x2 = next_delay(p, 2, rng);
    CHECK((x2 >= 1ms && x2 <= 2ms));
    const auto x3 = next_delay(p, 3, rng);
    CHECK((x3 >= 1ms && x3 <= 3ms));
  }
  CHECK(next_delay(retry_policy{3, 0ms, 0ms}, 2, rng) == 0ms);
}

TEST_CASE("the same seed gives the same schedule", "[retry]") {
  const retry_policy p;
  std::mt19937_64 a(1234);
  std::mt19937_64 b(1234);
  for (unsigned attempt = 1; attempt < 12; ++attempt) {
    CHECK(next_delay(p, attempt, a) == next_delay(p, attempt, b));
  }
}

TEST_CASE("a policy is exhausted after its last attempt", "[retry]") {
  const retry_policy p{3, 1s, 1h};
  CHECK_FALSE(exhausted(p, 1));
  CHECK_FALSE(exhausted(p, 2));
  CHECK(exhausted(p, 3));
  CHECK(exhausted(p, 4));
  CHECK(exhausted(retry_policy{1, 1s, 1h}, 1));
}
