// Server settings that need their own config: several listen addresses.
// (The spool answering 503 when it cannot commit is tested in durability_test.cpp.)
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
