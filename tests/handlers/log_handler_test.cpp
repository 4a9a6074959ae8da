#include <memory>
#include <sstream>

#include <catch2/catch.hpp>

#include <hookd/handlers/handler.hpp>

#include "captured_log.hpp"
#include "sample_event.hpp"

using hookd::handlers::delivery;

using hookd::test::captured_log;

TEST_CASE("log handler writes one info line with endpoint, type, id and subject", "[log]") {
  captured_log log;
  const auto h = hookd::handlers::make_handler({"console", hookd::config::log_handler{}, {}});
  const auto ev = hookd::test::sample_event();
  const std::string text = hookd::to_cloudevent(ev).dump();
  REQUIRE(h->deliver(delivery{ev, text, 2}).ok);
  CHECK(log.text() ==
        "info|event endpoint=altoviz type=customer.created id=1233 subject=370 handler=console "
        "attempt=2\n");
  CHECK_THAT(log.text(), !Catch::Contains("Auchan") && !Catch::Contains("secret@example.com"));
}

TEST_CASE("log handler escapes control characters so an event stays one line", "[log]") {
  captured_log log;
  const auto h = hookd::handlers::make_handler({"console", hookd::config::log_handler{}, {}});
  auto ev = hookd::test::sample_event();
  ev.subject = "370\ninfo|event endpoint=forged";
  REQUIRE(h->deliver(delivery{ev, "{}", 1}).ok);
  CHECK(log.text() ==
        "info|event endpoint=altoviz type=customer.created id=1233 "
        "subject=\"370\\\\x0ainfo|event endpoint=forged\" handler=console attempt=1\n");
}
