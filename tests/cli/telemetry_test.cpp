// The pace of the daemon's backlog counts (docs/operations.md, "Health and metrics").

#include "telemetry.hpp"

#include <chrono>

#include <catch2/catch.hpp>

using namespace std::chrono_literals;

TEST_CASE("the backlog is counted every second, and never more than 5 % of the time", "[cli]") {
  using hookd::cli::backlog_pause;
  // A small backlog: once a second, as the gauges have always been refreshed.
  CHECK(backlog_pause(0ms) == 1s);
  CHECK(backlog_pause(2ms) == 1s);
  CHECK(backlog_pause(50ms) == 1s);
  // A large one (about 0.1 s per million pending deliveries here): the pause grows with the
  // count, so counting takes a twentieth of the time at most.
  CHECK(backlog_pause(100ms) == 2s);
  CHECK(backlog_pause(1500ms) == 30s);
  for (const std::chrono::milliseconds took : {1ms, 60ms, 700ms, 4000ms, 90000ms}) {
    const auto pause = backlog_pause(took);
    CHECK(pause >= 1s);
    CHECK(took * 20 <= pause);
  }
}

TEST_CASE("a migration asks for 30 s, or twice its time so far, at most once a second", "[cli]") {
  const std::chrono::steady_clock::time_point t0{};
  hookd::cli::migration_pace pace;
  CHECK(pace.next(t0) == 30s);                   // as it starts
  CHECK(pace.next(t0 + 400ms) == std::nullopt);  // within the second
  CHECK(pace.next(t0 + 1s) == 30s);
  CHECK(pace.next(t0 + 14s) == 30s);  // 2 x 14 s is less
  CHECK(pace.next(t0 + 20s) == 40s);  // twice the 20 s so far
  CHECK(pace.next(t0 + 20500ms) == std::nullopt);
  CHECK(pace.next(t0 + 300s) == 600s);
}
