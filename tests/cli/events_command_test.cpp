// `hookd events …`: argument parsing, and each action run in-process against a real config file
// and a real spool that a daemon-role store holds open at the same time.

#include "events_command.hpp"

#include <future>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/spool/spool.hpp>

#include "../handlers/sample_event.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using hookd::cli::events_action;
using hookd::cli::events_command;
using hookd::cli::parse_events_args;
using hookd::spool::delivery_state;

namespace {

hookd::cli::events_args parse(std::vector<std::string_view> args) {
  return parse_events_args(args);
}

/// Runs events_command with stdout and stderr captured.
struct run_result {
  int code = -1;
  std::string out;
  std::string err;
};

run_result run(std::vector<std::string_view> args) {
  std::ostringstream out;
  std::ostringstream err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  run_result r;
  try {
    r.code = events_command(args);
  } catch (...) {
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    throw;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

hookd::spool::append_status append(hookd::spool::store& s, const std::string& id,
                                   const std::string& endpoint, std::vector<std::string> handlers,
                                   const std::string& type = "customer.created") {
  auto ev = hookd::test::sample_event(id);
  ev.endpoint = endpoint;
  ev.source = "hookd/" + endpoint;
  ev.type = type;
  ev.time = std::chrono::system_clock::now();  // within the dedup window, as a live event is
  auto p = std::make_shared<std::promise<hookd::spool::append_status>>();
  auto f = p->get_future();
  s.append(hookd::spool::make_record(ev, std::move(handlers)),
           [p](hookd::spool::append_status st) { p->set_value(st); });
  REQUIRE(f.wait_for(60s) == std::future_status::ready);
  return f.get();
}

/// Claims `handler`'s next delivery and settles it with `o`.
void settle_next(hookd::spool::store& s, const std::string& handler,
                 const hookd::spool::outcome& o) {
  hookd::spool::claim_request req;
  req.handler = handler;
  const auto c = s.claim(req);
  REQUIRE(c.ok);
  REQUIRE(c.deliveries.size() == 1);
  REQUIRE(s.settle(c.deliveries[0].delivery_id, o) == hookd::spool::settle_status::settled);
}

}  // namespace

TEST_CASE("events: argument parsing", "[events]") {
  SECTION("list with every option") {
    const auto a = parse({"list", "-c", "h.yaml", "--state", "dead", "--endpoint", "altoviz",
                          "--type=invoice.*", "--limit", "5", "--json"});
    REQUIRE(a.error.empty());
    CHECK(a.action == events_action::list);
    CHECK(a.config_file == "h.yaml");
    CHECK(a.filter.state == delivery_state::dead);
    CHECK(a.filter.endpoint == "altoviz");
    CHECK(a.filter.type_glob == "invoice.*");
    CHECK(a.filter.limit == 5);
    CHECK(a.json);
  }
  SECTION("show and replay") {
    auto a = parse({"show", "1233", "--config=h.yaml", "--endpoint", "altoviz"});
    REQUIRE(a.error.empty());
    CHECK(a.ids == std::vector<std::string>{"1233"});
    CHECK(a.endpoint == "altoviz");
    a = parse({"replay", "1", "2", "-c", "h.yaml", "--handler", "audit"});
    REQUIRE(a.error.empty());
    CHECK(a.ids == std::vector<std::string>{"1", "2"});
    CHECK(a.handler == "audit");
    a = parse({"replay", "--dead", "-c", "h.yaml"});
    REQUIRE(a.error.empty());
    CHECK(a.dead);
  }
  SECTION("help") {
    CHECK(parse({"--help"}).help);
    const auto a = parse({"stats", "--help"});
    CHECK(a.help);
    CHECK(a.action == events_action::stats);
    CHECK(hookd::cli::events_usage(events_action::stats).find("usage: hookd events stats") == 0);
  }
  SECTION("usage errors") {
    const std::vector<std::pair<std::vector<std::string_view>, std::string>> cases{
        {{}, "missing action"},
        {{"purge", "-c", "h.yaml"}, "unknown action 'purge'"},
        {{"list"}, "missing --config FILE"},
        {{"list", "-c"}, "-c needs a FILE"},
        {{"list", "-c", "a", "-c", "b"}, "--config given twice"},
        {{"list", "-c", "h", "--state", "stuck"}, "'stuck' is not pending, done or dead"},
        {{"list", "-c", "h", "--limit", "0"}, "--limit needs a positive integer"},
        {{"list", "-c", "h", "--limit", "5x"}, "--limit needs a positive integer"},
        {{"list", "-c", "h", "1233"}, "unexpected argument '1233'"},
        {{"show", "-c", "h"}, "missing ID"},
        {{"show", "-c", "h", "1", "2"}, "takes one ID"},
        {{"replay", "-c", "h"}, "missing ID… or --dead"},
        {{"replay", "-c", "h", "1", "--dead"}, "either ID… or --dead"},
        {{"replay", "-c", "h", "--json", "1"}, "unexpected argument '--json'"},
        {{"stats", "-c", "h", "--endpoint", "x"}, "unexpected argument '--endpoint'"},
    };
    for (const auto& [args, message] : cases) {
      INFO(message);
      const auto a = parse(args);
      CHECK(a.error.find(message) != std::string::npos);
    }
  }
}

TEST_CASE("events: list, show, replay and stats over a spool the daemon holds open", "[events]") {
  hookd::test::temp_dir dir;
  const auto db = dir / "var/hookd.db";
  const auto cfg = dir.write("hookd.yaml", "spool:\n  path: " + db.string() + "\n");
  const std::string c = cfg.string();

  SECTION("no spool yet: an error, exit 1") {
    const auto r = run({"list", "-c", c});
    CHECK(r.code == 1);
    CHECK(r.err.find("no such file") != std::string::npos);
  }

  SECTION("with events") {
    hookd::spool::options o;
    o.path = db;
    hookd::spool::store daemon(o);
    REQUIRE(append(daemon, "1233", "altoviz", {"audit", "hook"}) ==
            hookd::spool::append_status::accepted);
    REQUIRE(append(daemon, "1233", "offerte", {"audit"}, "lead.sold") ==
            hookd::spool::append_status::accepted);
    REQUIRE(append(daemon, "77", "altoviz", {"audit"}, "invoice.created") ==
            hookd::spool::append_status::accepted);
    settle_next(daemon, "audit", hookd::spool::outcome::done());
    settle_next(daemon, "hook", hookd::spool::outcome::dead("exit status 3; output: boom"));

    auto r = run({"list", "-c", c});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("SEQ") == 0);
    CHECK(r.out.find("lead.sold") != std::string::npos);
    CHECK(r.out.find("1 done, 1 dead") != std::string::npos);

    r = run({"list", "-c", c, "--state", "dead", "--json"});
    REQUIRE(r.code == 0);
    auto j = hookd::json::parse(r.out);
    REQUIRE(j.size() == 1);
    CHECK(j[0]["id"] == "1233");
    CHECK(j[0]["endpoint"] == "altoviz");
    CHECK(j[0]["state"] == "dead");

    r = run({"list", "-c", c, "--type", "invoice.*", "--json"});
    j = hookd::json::parse(r.out);
    REQUIRE(j.size() == 1);
    CHECK(j[0]["id"] == "77");

    r = run({"show", "1233", "-c", c, "--endpoint", "altoviz"});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("\"companyName\": \"Auchan\"") != std::string::npos);
    CHECK(r.out.find("hook: dead, 1 attempt") != std::string::npos);
    CHECK(r.out.find("failed: exit status 3; output: boom") != std::string::npos);
    CHECK(r.out.find("offerte") == std::string::npos);

    r = run({"show", "1233", "-c", c, "--json"});
    j = hookd::json::parse(r.out);
    CHECK(j.size() == 2);  // the same id on two endpoints

    r = run({"show", "nope", "-c", c});
    CHECK(r.code == 1);
    CHECK(r.err.find("no event nope") != std::string::npos);

    r = run({"replay", "nope", "-c", c});
    CHECK(r.code == 1);

    r = run({"stats", "-c", c, "--json"});
    REQUIRE(r.code == 0);
    j = hookd::json::parse(r.out);
    CHECK(j["events"] == 3);
    CHECK(j["handlers"]["hook"]["dead"] == 1);
    CHECK(j["handlers"]["audit"]["done"] == 1);
    CHECK(j["handlers"]["audit"]["pending"] == 2);
    CHECK(j["total"]["pending"] == 2);
    CHECK(j["total"]["dead"] == 1);
    CHECK_FALSE(j["total"]["oldest_pending"].is_null());

    r = run({"stats", "-c", c});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("HANDLER") == 0);
    CHECK(r.out.find("events: 3, dedup keys: 3") != std::string::npos);

    // Replay by id on one endpoint: only that event's deliveries (audit done + hook dead).
    r = run({"replay", "1233", "--endpoint", "altoviz", "-c", c});
    REQUIRE(r.code == 0);
    CHECK(r.out == "2 deliveries made due\n");
    auto shown = daemon.show("1233");
    for (const auto& ev : shown) {
      for (const auto& d : ev.deliveries)
        CHECK(d.state == delivery_state::pending);
    }

    settle_next(daemon, "hook", hookd::spool::outcome::dead("again"));
    r = run({"replay", "--dead", "--handler", "audit", "-c", c});
    CHECK(r.out == "0 deliveries made due\n");
    r = run({"replay", "--dead", "-c", c});
    CHECK(r.out == "1 delivery made due\n");
  }
}
