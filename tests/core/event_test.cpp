#include <catch2/catch.hpp>

#include <hookd/core/event.hpp>

using namespace std::chrono_literals;

namespace {
hookd::event sample() {
  hookd::event e;
  e.id = "1233";
  e.source = "hookd/altoviz";
  e.type = "customer.created";
  e.subject = "370";
  e.time = std::chrono::system_clock::time_point{1795341600s + 123ms};
  e.provider = "altoviz";
  e.endpoint = "altoviz";
  e.entity = "customer";
  e.action = "created";
  e.providertype = "CustomerCreated";
  e.data = hookd::json::parse(R"({"id":370,"companyName":"Auchan"})");
  return e;
}
}  // namespace

TEST_CASE("an event serializes as CloudEvents 1.0 with attributes in a fixed order", "[event]") {
  CHECK(hookd::to_cloudevent(sample()).dump() ==
        R"({"specversion":"1.0","id":"1233","source":"hookd/altoviz","type":"customer.created",)"
        R"("subject":"370","time":"2026-11-22T10:00:00.123Z","datacontenttype":"application/json",)"
        R"("provider":"altoviz","endpoint":"altoviz","entity":"customer","action":"created",)"
        R"("providertype":"CustomerCreated","data":{"id":370,"companyName":"Auchan"}})");
}

TEST_CASE("the stored text is the CloudEvents object's dump, byte for byte", "[event]") {
  constexpr auto replace = hookd::json::error_handler_t::replace;
  auto e = sample();
  auto same = [](const hookd::event& ev) {
    CHECK(hookd::cloudevent_text(ev) == hookd::to_cloudevent(ev).dump(-1, ' ', false, replace));
  };
  same(e);
  e.subject.clear();  // omitted
  same(e);
  // Escapes, control characters, non-ASCII, and invalid UTF-8 (replaced) in attributes and data.
  e.subject = "a\"b\\c\n\t\x01\x7f é \xff\xfe end";
  e.providertype = std::string("nul\0in", 6);
  e.data = hookd::json::object();
  e.data["text"] = "line\nbreak \"quoted\" \xc3\x28 ✓";
  e.data["list"] = hookd::json::array({1, 2.5, true, nullptr, "x"});
  e.data["nested"] = {{"k", {{"deep", -3}}}};
  same(e);
  e.data = hookd::json::parse(
      R"({"a":[],"b":{},"c":[{"d":[1,-2,3.25,1e300,-0.0,true,false,null]},"x"],)"
      R"("k\"ey":"v","\u00e9t\u00e9":"\u2713","n":12345678901234567890,"f":0.1})");
  e.data["bad\xffkey"] = "bad\xc3value";
  same(e);
  for (auto data : {hookd::json(nullptr), hookd::json(true), hookd::json(42), hookd::json(1.5),
                    hookd::json("text"), hookd::json::array(), hookd::json::object()}) {
    e.data = data;
    same(e);
  }
}

TEST_CASE("an empty subject is omitted, not written empty", "[event]") {
  auto e = sample();
  e.subject.clear();
  CHECK_FALSE(hookd::to_cloudevent(e).contains("subject"));
}

TEST_CASE("an event reads back from its CloudEvents form unchanged", "[event]") {
  const auto e = sample();
  const auto back = hookd::from_cloudevent(hookd::to_cloudevent(e));
  CHECK(back.id == e.id);
  CHECK(back.time == e.time);
  CHECK(back.subject == e.subject);
  CHECK(back.data == e.data);
  CHECK(hookd::to_cloudevent(back) == hookd::to_cloudevent(e));
}

TEST_CASE("a CloudEvent missing an attribute is refused with its name", "[event]") {
  auto j = hookd::to_cloudevent(sample());
  j.erase("providertype");
  CHECK_THROWS_WITH(hookd::from_cloudevent(j), Catch::Contains("providertype"));
}

TEST_CASE("times format and parse as RFC 3339 UTC with milliseconds", "[event]") {
  const auto t = std::chrono::system_clock::time_point{1795341600s + 7ms};
  CHECK(hookd::format_time(t) == "2026-11-22T10:00:00.007Z");
  CHECK(hookd::parse_time("2026-11-22T10:00:00.007Z") == t);
  CHECK(hookd::parse_time("2026-11-22T10:00:00Z") == t - 7ms);
  CHECK_THROWS(hookd::parse_time("2026-11-22 10:00:00"));
  CHECK_THROWS(hookd::parse_time("2026-11-22T10:00:00+01:00"));
}
