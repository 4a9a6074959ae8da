// Server settings that need their own config: several listen addresses, a full queue (503).
#include <regex>
#include <signal.h>

#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace hookd;
using namespace hookd::it;

TEST_CASE("several listen addresses, each with its own port", "[integration]") {
  test::temp_dir dir;
  std::string text = make_config(dir);
  const std::string one = "  listen: \"127.0.0.1:0\"\n";
  text.replace(text.find(one), one.size(), "  listen: [\"127.0.0.1:0\", \"127.0.0.2:0\"]\n");
  const auto config = dir.write("hookd.yaml", text);
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
  const auto second = h.process().wait_for_line("listening on 127.0.0.2:", 10s);
  REQUIRE(second);
  const auto port2 = static_cast<std::uint16_t>(std::stoul(second->substr(second->rfind(':') + 1)));

  for (const auto& [host, port] : std::vector<std::pair<std::string, std::uint16_t>>{
           {"127.0.0.1", h.port()}, {"127.0.0.2", port2}}) {
    INFO(host);
    test::raw_connection c(port, host);
    REQUIRE(c.send(test::make_request("GET", "/healthz")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
  }
}

TEST_CASE("a full queue answers 503 with Retry-After, and nothing is lost silently",
          "[integration]") {
  test::temp_dir dir;
  std::string text = make_config(dir);
  // One slow handler and room for one queued event: a burst must overflow.
  const std::string audit = text.substr(text.find("  audit: {type: file"));
  text.replace(text.find(audit), audit.size(),
               "  slow: {type: exec, command: [\"/bin/sleep\", \"2\"], timeout: 10s}\n"
               "routes:\n"
               "  - to: [slow]\n"
               "dispatch:\n"
               "  queue: 1\n");
  const auto config = dir.write("hookd.yaml", text);
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");

  int unavailable = 0;
  for (int i = 1; i <= 3; ++i) {
    const std::string body =
        R"({"id":")" + std::to_string(i) + R"(","type":"CustomerCreated","data":{"id":1}})";
    const auto r = test::send_request(h.port(), altoviz_request(body));
    REQUIRE(r);
    if (r->status == 503) {
      ++unavailable;
      CHECK(r->header("Retry-After") == "5");
      CHECK(json::parse(r->body) == json{{"error", "spool unavailable, retry later"}});
    } else {
      CHECK(r->status == 200);
    }
  }
  // At most one event is being delivered and one queued: of three, at least one is refused.
  CHECK(unavailable >= 1);

  h.process().signal(SIGTERM);
  const auto code = h.process().wait_exit(30s);
  REQUIRE(code);
  CHECK(*code == 0);
}
