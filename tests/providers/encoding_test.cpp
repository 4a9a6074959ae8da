// The private codecs under the schemes (src/providers/encoding.hpp).
#include "encoding.hpp"

#include <catch2/catch.hpp>

using namespace hookd::providers::detail;

TEST_CASE("hex_decode accepts either case and nothing else", "[encoding]") {
  CHECK(hex_decode("00ff7A") == std::string("\x00\xff\x7a", 3));
  CHECK(hex_decode("") == std::string());
  CHECK_FALSE(hex_decode("abc"));
  CHECK_FALSE(hex_decode("0g"));
  CHECK(hex_encode(std::string("\x00\xff\x7a", 3)) == "00ff7a");
}

TEST_CASE("base64_decode: standard alphabet, padding present or absent", "[encoding]") {
  const auto [text, decoded] = GENERATE(table<std::string, std::string>({
      {"", ""},
      {"Zg==", "f"},
      {"Zg", "f"},
      {"Zm8=", "fo"},
      {"Zm8", "fo"},
      {"Zm9v", "foo"},
      {"+/8=", "\xfb\xff"},
  }));
  CAPTURE(text);
  CHECK(base64_decode(text) == decoded);
}

TEST_CASE("base64_decode refuses other alphabets, bad padding and loose bits", "[encoding]") {
  const auto text = GENERATE(as<std::string>{}, "Zg=", "Zg===", "Z",
                             "Zm9v=", "-_8=", "Zh==", "Zm 9v", "Zm9v\n", "=Zm9", "Zm=v");
  CAPTURE(text);
  CHECK_FALSE(base64_decode(text));
}

TEST_CASE("query_param decodes names and values, '+' as space", "[encoding]") {
  CHECK(query_param("a=1&token=x%2By+z&b=2", "token") == "x+y z");
  CHECK(query_param("to%6Ben=v", "token") == "v");
  CHECK(query_param("token", "token") == "");
  CHECK(query_param("tokens=1", "token") == std::nullopt);
  CHECK(query_param("", "token") == std::nullopt);
  CHECK(form_decode("100%") == "100%");
  CHECK(form_decode("%zz%4") == "%zz%4");
}

TEST_CASE("trim_blanks removes spaces and tabs only", "[encoding]") {
  CHECK(trim_blanks(" \t a b\t ") == "a b");
  CHECK(trim_blanks("\na\n") == "\na\n");
}
