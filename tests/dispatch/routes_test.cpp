#include <catch2/catch.hpp>

#include <hookd/dispatch/routes.hpp>

#include "../handlers/sample_event.hpp"

using hookd::config::route_spec;
using hookd::dispatch::route_table;
using names = std::vector<std::string>;

TEST_CASE("a route with no match fields takes every event", "[routes]") {
  const route_table t({route_spec{"", "", "", {"audit", "console"}}});
  CHECK(t.match(hookd::test::sample_event()) == names{"audit", "console"});
}

TEST_CASE("routes match endpoint, provider and type globs, all fields together", "[routes]") {
  const route_table t({
      route_spec{"", "", "", {"audit"}},
      route_spec{"altoviz", "", "invoice.*", {"on-invoice"}},
      route_spec{"alto*", "altoviz", "customer.*", {"crm", "audit"}},
      route_spec{"", "weavy", "", {"weavy-only"}},
      route_spec{"", "", "*.created", {"created", "crm"}},
  });
  auto ev = hookd::test::sample_event();  // altoviz / altoviz / customer.created
  // In route order, repeats removed (first occurrence kept).
  CHECK(t.match(ev) == names{"audit", "crm", "created"});

  ev.type = "invoice.paid";
  CHECK(t.match(ev) == names{"audit", "on-invoice"});

  ev.endpoint = "altoviz-test";
  CHECK(t.match(ev) == names{"audit"});  // endpoint glob "altoviz" is a whole-string match

  ev.provider = "weavy";
  ev.endpoint = "weavy";
  ev.type = "customer.created";
  CHECK(t.match(ev) == names{"audit", "weavy-only", "created", "crm"});
}

TEST_CASE("no route matching gives an empty list", "[routes]") {
  const route_table t({route_spec{"offerte", "", "", {"x"}}});
  CHECK(t.match(hookd::test::sample_event()).empty());
  CHECK(route_table{}.match(hookd::test::sample_event()).empty());
}

TEST_CASE("handler_names lists every handler any route names", "[routes]") {
  const route_table t({route_spec{"", "", "", {"b", "a"}}, route_spec{"x", "", "", {"c", "a"}}});
  CHECK(t.handler_names() == std::set<std::string>{"a", "b", "c"});
}
