#include <string>

#include <catch2/catch.hpp>

#include <hookd/core/json.hpp>
#include <hookd/core/log_fields.hpp>

using hookd::log_fields;

namespace {

std::string text(const log_fields& f) {
  std::string out;
  hookd::render_log_text(f.text(), out);
  return out;
}

hookd::json as_json(const log_fields& f) {
  std::string out = "{";
  hookd::render_log_json(f.text(), out);
  out += "}";
  return hookd::json::parse(out);  // throws if the rendering is not valid JSON
}

}  // namespace

TEST_CASE("log_fields: text logs read message key=value", "[log]") {
  const auto f =
      log_fields("request").str("endpoint", "altoviz").num("status", 200).num("ms", 0.4567);
  CHECK(text(f) == "request endpoint=altoviz status=200 ms=0.457");
  // Empty values and values with spaces or quotes are quoted, so fields stay apart.
  CHECK(text(log_fields("x").str("a", "").str("b", "two words").str("c", R"(q"uote)")) ==
        R"(x a="" b="two words" c="q\"uote")");
  // A message without fields is as it was written.
  std::string plain;
  hookd::render_log_text("spool: commits again", plain);
  CHECK(plain == "spool: commits again");
}

TEST_CASE("log_fields: JSON logs get one member per field, numbers unquoted", "[log]") {
  const auto j = as_json(log_fields("request")
                             .str("endpoint", "altoviz")
                             .num("status", 401)
                             .num("ms", 1.5)
                             .num("big", std::uint64_t{18446744073709551615ULL})
                             .num("neg", std::int64_t{-3}));
  CHECK(j == hookd::json{{"msg", "request"},
                         {"endpoint", "altoviz"},
                         {"status", 401},
                         {"ms", 1.5},
                         {"big", 18446744073709551615ULL},
                         {"neg", -3}});
  std::string plain;
  hookd::render_log_json("say \"hi\"\n", plain);
  CHECK(hookd::json::parse("{" + plain + "}") == hookd::json{{"msg", "say \"hi\"\n"}});
}

TEST_CASE("log_fields: a value from the network cannot forge a field or a line", "[log]") {
  // The field separator, newlines and other control characters are escaped in values.
  const std::string hostile = "370\x1fstatus=500\nfake line\x01";
  const auto f = log_fields("event").str("subject", hostile).num("status", 200);
  CHECK(text(f) == R"(event subject="370\\x1fstatus=500\\x0afake line\\x01" status=200)");
  const auto j = as_json(f);
  CHECK(j.size() == 3);
  CHECK(j["subject"] == "370\\x1fstatus=500\\x0afake line\\x01");
  CHECK(j["status"] == 200);
}

TEST_CASE("log_fields: JSON stays valid with invalid UTF-8 and control characters", "[log]") {
  // A message (not a field value) may carry anything, e.g. an exception's text.
  const std::string bytes = std::string("bad \xff\xfe utf8 \xe2\x82 end \x02", 20);
  std::string out;
  hookd::render_log_json(bytes, out);
  const auto j = hookd::json::parse("{" + out + "}");
  CHECK(j["msg"] == "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd\xef\xbf\xbd end \x02");
  // Valid multi-byte characters pass through.
  std::string ok;
  hookd::render_log_json(log_fields("caf\xc3\xa9").str("who", "\xe2\x82\xac").text(), ok);
  CHECK(hookd::json::parse("{" + ok + "}") == hookd::json{{"msg", "café"}, {"who", "€"}});
}
