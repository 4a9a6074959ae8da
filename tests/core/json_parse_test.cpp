#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/core/json_parse.hpp>

using hookd::json;

namespace {

/// Equal as trees, stricter than json's operator==: the same number types (1 as unsigned is not
/// 1 as signed), the same bits of a double (-0.0 is not 0.0), members in the same order.
bool same(const json& a, const json& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::object: {
      if (a.size() != b.size()) return false;
      auto ib = b.items().begin();
      for (const auto& [key, value] : a.items()) {
        if (key != ib.key() || !same(value, ib.value())) return false;
        ++ib;
      }
      return true;
    }
    case json::value_t::array:
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (!same(a[i], b[i])) return false;
      }
      return true;
    case json::value_t::number_float: {
      return std::bit_cast<std::uint64_t>(a.get<double>()) ==
             std::bit_cast<std::uint64_t>(b.get<double>());
    }
    default:
      return a == b;
  }
}

json nlohmann_parse(const std::string& text) {
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

/// Whenever hookd's own parser accepts `text`, nlohmann's accepts it with the same tree; and
/// parse_json() agrees with nlohmann's on every text, accepted or not.
void check_against_nlohmann(const std::string& text) {
  INFO("text: " << json(text).dump(-1, ' ', true, json::error_handler_t::replace));
  const json expected = nlohmann_parse(text);
  json fast;
  if (hookd::detail::parse_json_fast(text, fast)) {
    REQUIRE_FALSE(expected.is_discarded());
    REQUIRE(same(fast, expected));
  }
  json out;
  const bool ok = hookd::parse_json(text, out);
  REQUIRE(ok == !expected.is_discarded());
  if (ok) REQUIRE(same(out, expected));
}

// Webhook-shaped documents: what the fast path is for.
const std::vector<std::string>& documents() {
  static const std::vector<std::string> texts = {
      std::string(R"({"id":"evt-1","type":"CustomerCreated","data":{"id":42,)") +
          R"("companyName":"Load test","email":"load@example.com","pad":"xxxxxxxx"}})",
      std::string(R"({ "event" : "invoice.paid", "amount": 1234.50, "vat": 0.2, "lines": [ )") +
          R"({"qty": 3, "price": -1.5e2}, {"qty": 0, "price": 0.0} ], "paid": true, )" +
          R"("refund": null, "note": "Soci\u00e9t\u00e9 G\u00e9n\u00e9rale \ud83d\ude00 )" +
          R"(\"quoted\" \\ \/ \b\f\n\r\t" })",
      "{\"name\":\"Société Générale\",\"emoji\":\"😀\",\"cjk\":\"漢字\",\"mixed\":\"a\\u0000b\"}",
      std::string(R"([1, -1, 0, -0, 18446744073709551615, -9223372036854775808, )") +
          R"(9223372036854775807, 1E5, 1e-5, 2.5E+3, -0.0, 1e-300, 1.7976931348623157e308, )" +
          R"(0.1, 123456789.123456789])",
      R"({"a":1,"b":{"c":[[],{},[[{}]]]},"a":2,"dup":{"x":1},"dup":[3]})",
      " \t\r\n\"just a string\" \n",
      "true",
      "false",
      "null",
      "12",
      R"({"deep":[[[[[[[[[[[[[[[[[[[[{"k":"v"}]]]]]]]]]]]]]]]]]]]]})",
  };
  return texts;
}

// Edges, valid or not: each is checked against nlohmann, whichever way it goes.
const std::vector<std::string>& edges() {
  static const std::vector<std::string> texts = {
      "",
      " ",
      "{",
      "}",
      "[1,]",
      "{\"a\":1,}",
      "{\"a\" 1}",
      "{1:2}",
      "[1 2]",
      "01",
      "1.",
      ".5",
      "-",
      "-a",
      "1e",
      "1e+",
      "+1",
      "0x10",
      "18446744073709551616",
      "-9223372036854775809",
      "1e400",
      "-1e400",
      "1e-400",
      "-1e-400",
      "4.9e-324",
      "2.4703282292062327e-324",
      "2.4703282292062328e-324",
      "1.7976931348623158e308",
      "1.7976931348623159e308",
      "12345678901234567890123.5",
      "1.00000000000000011102230246251565404236316680908203125",
      "1.000000000000000111022302462515654042363166809082031251",
      "0." + std::string(400, '1'),
      std::string(400, '9') + ".5",
      "-0e0",
      "0E-0",
      "1E+0",
      "{\"a\":1,\"\\u0061\":2}",
      "{\"\\ud83d\\ude00\":1,\"a\\u0000b\":2}",
      "\"\\u00E9\\uD83d\\uDe00\"",
      "\"\\uD800",
      "\"\\uD800\\",
      "\"\\uD800\\u",
      "\"\\uD800\\u12\"",
      "\f{}",
      "\v{}",
      "\xC2\xA0{}",
      std::string("\0{}", 3),
      std::string("{}\0", 3),
      std::string("{}\0junk", 7),
      "\"abcdefg\x7Fhijklmno\x7F\\n\\tpqrstuvw\xC3\xA9xyz\"",
      "2.2250738585072011e-308",
      "\"\\u12\"",
      "\"\\uD800\"",
      "\"\\uDC00\"",
      "\"\\uD800\\u0041\"",
      "\"\\uD83D\\uDE00\"",
      "\"\\x\"",
      "\"tab\there\"",
      std::string("\"nul\0byte\"", 10),
      std::string("[1,\0]", 5),
      "\"\xC0\x80\"",
      "\"\xC2\x80\"",
      "\"\xE0\x9F\xBF\"",
      "\"\xE0\xA0\x80\"",
      "\"\xED\xA0\x80\"",
      "\"\xED\x9F\xBF\"",
      "\"\xF0\x8F\xBF\xBF\"",
      "\"\xF0\x90\x80\x80\"",
      "\"\xF4\x8F\xBF\xBF\"",
      "\"\xF4\x90\x80\x80\"",
      "\"\xF5\x80\x80\x80\"",
      "\"\xFF\"",
      "\"\x80\"",
      "\"\xE2\x82\"",
      "\"\x7F\"",
      "\xEF\xBB\xBF{\"bom\":1}",
      "\xEF\xBB{}",
      "tru",
      "nul",
      "falsey",
      "true false",
      "{}{}",
      "[]]",
      "\"unterminated",
      "{\"a\":\"b\"",
  };
  return texts;
}

}  // namespace

TEST_CASE("parse_json: webhook-shaped documents take the fast path and equal nlohmann's") {
  for (const auto& text : documents()) {
    INFO(text);
    json fast;
    REQUIRE(hookd::detail::parse_json_fast(text, fast));  // not handed over
    check_against_nlohmann(text);
  }
}

TEST_CASE("parse_json: number types and values as nlohmann gives them") {
  json out;
  REQUIRE(hookd::parse_json(R"([1, -1, -0, 1.5, -0.0, 18446744073709551615])", out));
  CHECK(out[0].type() == json::value_t::number_unsigned);
  CHECK(out[1].type() == json::value_t::number_integer);
  CHECK(out[2].type() == json::value_t::number_integer);
  CHECK(out[3].type() == json::value_t::number_float);
  CHECK(std::signbit(out[4].get<double>()));
  CHECK(out[5].get<std::uint64_t>() == UINT64_MAX);
  // Outside 64 bits nlohmann makes an integer a double; this parser hands it over.
  json big;
  CHECK_FALSE(hookd::detail::parse_json_fast("18446744073709551616", big));
  REQUIRE(hookd::parse_json("18446744073709551616", big));
  CHECK(big.type() == json::value_t::number_float);
}

TEST_CASE("parse_json: a repeated key keeps its first place and its last value") {
  json out;
  REQUIRE(hookd::parse_json(R"({"a":1,"b":2,"a":3})", out));
  CHECK(out.dump() == R"({"a":3,"b":2})");
}

TEST_CASE("parse_json: edge cases answer as nlohmann's parser does") {
  for (const auto& text : edges())
    check_against_nlohmann(text);
  json out;
  CHECK_FALSE(hookd::parse_json("[1,]", out));
  CHECK(out.is_discarded());
  CHECK_FALSE(hookd::parse_json("\"\xED\xA0\x80\"", out));  // a surrogate encoded in UTF-8
  CHECK_FALSE(hookd::parse_json("1e400", out));             // nlohmann: number overflow
  REQUIRE(hookd::parse_json("\"\\uD83D\\uDE00\"", out));
  CHECK(out.get<std::string>() == "\xF0\x9F\x98\x80");
}

TEST_CASE("parse_json: nesting to 512 levels takes the fast path, deeper is nlohmann's") {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  json out;
  CHECK(hookd::detail::parse_json_fast(nested(512), out));
  CHECK_FALSE(hookd::detail::parse_json_fast(nested(513), out));
  REQUIRE(hookd::parse_json(nested(513), out));  // nlohmann has no limit of its own
  check_against_nlohmann(nested(513));
}

TEST_CASE("parse_json: an overflowing float is never accepted, by either path") {
  json out;
  CHECK_FALSE(hookd::detail::parse_json_fast("1e400", out));
  CHECK_FALSE(hookd::detail::parse_json_fast("[-1.8e308]", out));
  CHECK_FALSE(hookd::parse_json("[-1.8e308]", out));
}

TEST_CASE("parse_json: DEL, escapes and multi-byte characters on either side of 8-byte words") {
  // Each special piece at every offset 0-15 of a long string of plain bytes.
  const std::vector<std::string> pieces = {"\x7F", "\\n", "\\u00e9", "\xC3\xA9",
                                           "\xF0\x9F\x98\x80"};
  for (const auto& piece : pieces) {
    for (std::size_t at = 0; at < 16; ++at) {
      std::string body(24, 'p');
      body.insert(at, piece);
      const std::string text = "\"" + body + "\"";
      json fast;
      REQUIRE(hookd::detail::parse_json_fast(text, fast));
      check_against_nlohmann(text);
    }
  }
}

TEST_CASE("parse_json: random mutations of the documents answer as nlohmann's parser does") {
  // Deterministic: the same texts on every run. Bytes replaced, inserted, removed, or the text
  // cut; replacements drawn half from JSON's own punctuation, half from any byte.
  std::mt19937 rng(20261130);
  const std::string punctuation = "{}[]\":,\\-+.eE0123456789 \t\nuntrfalse\x80\xC2\xE0\xED\xF0\xF4";
  auto any_byte = [&] {
    if (rng() % 2 == 0) return punctuation[rng() % punctuation.size()];
    return static_cast<char>(rng() % 256);
  };
  std::size_t accepted = 0;
  std::size_t texts = 0;
  for (const auto& doc : documents()) {
    for (int i = 0; i < 3000; ++i) {
      std::string text = doc;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !text.empty(); ++e) {
        const std::size_t at = rng() % text.size();
        switch (rng() % 4) {
          case 0:
            text[at] = any_byte();
            break;
          case 1:
            text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), any_byte());
            break;
          case 2:
            text.erase(at, 1);
            break;
          default:
            text.resize(at);
            break;
        }
      }
      check_against_nlohmann(text);
      ++texts;
      json out;
      if (hookd::parse_json(text, out)) ++accepted;
    }
  }
  // Both ways were exercised: some mutations still parse, most do not.
  CHECK(texts == documents().size() * 3000);
  CHECK(accepted > texts / 50);
  CHECK(accepted < texts / 2);
}

TEST_CASE("plain_prefix: the run of bytes a JSON string holds as they are, at any position") {
  auto reference = [](std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') break;
      ++i;
    }
    return i;
  };
  // Every byte value at every offset of a 19-byte text (two 8-byte words and a tail), after
  // plain bytes and before more plain bytes.
  for (int b = 0; b < 256; ++b) {
    for (std::size_t at = 0; at < 19; ++at) {
      std::string text(19, 'a');
      text[at] = static_cast<char>(b);
      INFO("byte " << b << " at " << at);
      REQUIRE(hookd::plain_prefix(text) == reference(text));
    }
  }
  // Two stray bytes: the first one found, whatever the second.
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string text(1 + rng() % 40, 'x');
    text[rng() % text.size()] = static_cast<char>(rng() % 256);
    text[rng() % text.size()] = static_cast<char>(rng() % 256);
    REQUIRE(hookd::plain_prefix(text) == reference(text));
  }
  CHECK(hookd::plain_prefix("") == 0);
  CHECK(hookd::plain_prefix(std::string(1000, 'p') + "\"") == 1000);
}
