// The config the package installs as /etc/hookd/hookd.yaml must load with the loader `hookd run`
// and `hookd check` use, as shipped and with its commented endpoint examples switched on.
#include <algorithm>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include <hookd/config/loader.hpp>

#include "temp_dir.hpp"

namespace {

const std::filesystem::path packaged =
    std::filesystem::path(HOOKD_SOURCE_DIR) / "packaging/hookd.yaml";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

/// The packaged text with the example endpoints uncommented: between `endpoints: {}` and
/// `handlers:`, lines "#   …" are YAML (prose comments are "# …").
std::string with_examples(const std::string& text) {
  std::istringstream in(text);
  std::ostringstream out;
  std::string line;
  bool in_endpoints = false;
  while (std::getline(in, line)) {
    if (line == "endpoints: {}") {
      in_endpoints = true;
      out << "endpoints:\n";
      continue;
    }
    if (line.rfind("handlers:", 0) == 0) in_endpoints = false;
    if (in_endpoints && line.rfind("#   ", 0) == 0) line.erase(0, 2);
    out << line << '\n';
  }
  return out.str();
}

}  // namespace

TEST_CASE("packaging: hookd.yaml loads as shipped") {
  const auto cfg = hookd::config::load_file(packaged);
  CHECK(cfg.spool.path == "/var/lib/hookd/hookd.db");
  CHECK(cfg.server.listen == std::vector<std::string>{"127.0.0.1:8080"});
  CHECK(cfg.endpoints.empty());  // nothing is exposed until the operator says so
  REQUIRE(cfg.handlers.size() == 2);
  for (const auto& h : cfg.handlers) {
    if (const auto* f = std::get_if<hookd::config::file_handler>(&h.kind)) {
      // Under ProtectSystem=strict hookd can write only its state, logs and /tmp.
      CHECK(f->path.rfind("/var/log/hookd/", 0) == 0);
    }
  }
}

TEST_CASE("packaging: hookd.yaml's example endpoints load with {file:} credentials") {
  hookd::test::temp_dir etc;
  for (const char* name : {"altoviz", "offerte", "alphatouch", "weavy"}) {
    etc.write(std::string(name) + ".key", std::string("secret-of-") + name + "\n");
  }
  const auto text = replace_all(with_examples(hookd::test::read_file(packaged)), "/etc/hookd/",
                                etc.path().string() + "/");
  REQUIRE(text.find("{file: /etc/hookd/") == std::string::npos);

  const auto cfg = hookd::config::load_text(text, etc / "hookd.yaml");
  REQUIRE(cfg.endpoints.size() == 4);
  for (const auto& ep : cfg.endpoints) {
    REQUIRE(ep.credentials.size() == 1);
    // The file's trailing newline is not part of the secret.
    CHECK(ep.credentials[0].rfind("secret-of-", 0) == 0);
    CHECK(ep.credentials[0].back() != '\n');
  }
}

TEST_CASE("packaging: a {file:} credential that is missing fails the check") {
  hookd::test::temp_dir etc;  // empty: no key files
  const auto text = replace_all(with_examples(hookd::test::read_file(packaged)), "/etc/hookd/",
                                etc.path().string() + "/");
  CHECK_THROWS_AS(hookd::config::load_text(text, etc / "hookd.yaml"), hookd::config::config_error);
}
