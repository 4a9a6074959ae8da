// The hookd command line: check, version, help, usage errors and their exit codes.
#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace hookd;
using namespace hookd::it;

namespace {

test::command_result hookd_cli(const std::vector<std::string>& args) {
  return test::run_command(HOOKD_BINARY, args);
}

}  // namespace

TEST_CASE("hookd check accepts the example config", "[integration][cli]") {
  const std::string example = std::string(HOOKD_SOURCE_DIR) + "/config/hookd.example.yaml";
  // The example's relative paths (./var/...) land in a scratch directory, not the source tree.
  test::temp_dir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  const auto r = hookd_cli({"check", "--config", example});
  std::filesystem::current_path(cwd);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == example + ": ok\n");
}

TEST_CASE("hookd check accepts the integration config, with -c", "[integration][cli]") {
  test::temp_dir dir;
  const auto config = dir.write("hookd.yaml", make_config(dir));
  const auto r = hookd_cli({"check", "-c", config.string()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == config.string() + ": ok\n");
}

TEST_CASE("hookd check creates no file and no directory", "[integration][cli]") {
  test::temp_dir dir;
  std::string text = make_config(dir);
  const auto events = (dir / "events.jsonl").string();
  const auto nested = dir / "newdir/sub/out.jsonl";
  text.replace(text.find(events), events.size(), nested.string());
  const auto config = dir.write("hookd.yaml", text);
  const auto r = hookd_cli({"check", "--config", config.string()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(dir / "newdir"));
  CHECK_FALSE(std::filesystem::exists(dir / "hookd.db"));

  // A path run could not create is still refused, naming the handler.
  const auto blocker = dir.write("blocker", "x");
  text.replace(text.find(nested.string()), nested.string().size(),
               (blocker / "out.jsonl").string());
  const auto broken = dir.write("broken.yaml", text);
  const auto bad = hookd_cli({"check", "--config", broken.string()});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::StartsWith(broken.string() + ": handlers.audit: path: cannot create "
                                                          "directory "));
}

TEST_CASE("hookd check rejects a broken config naming the key", "[integration][cli]") {
  test::temp_dir dir;
  std::string text = make_config(dir);
  SECTION("an unknown key") {
    text.replace(text.find("  threads: 2"), 12, "  thread: 2");
    const auto config = dir.write("broken.yaml", text);
    const auto r = hookd_cli({"check", "--config", config.string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::StartsWith(config.string() + ": server.thread"));
    CHECK(r.out.empty());
  }
  SECTION("a bad duration") {
    text.replace(text.find("request_timeout: 10s"), 20, "request_timeout: soon");
    const auto config = dir.write("broken.yaml", text);
    const auto r = hookd_cli({"check", "--config", config.string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains(config.string() + ": server.request_timeout"));
  }
  SECTION("a route to a handler that does not exist") {
    text.replace(text.find("to: [audit]"), 11, "to: [nobody]");
    const auto config = dir.write("broken.yaml", text);
    const auto r = hookd_cli({"check", "--config", config.string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains(config.string() + ": routes"));
    CHECK_THAT(r.err, Catch::Contains("nobody"));
  }
  SECTION("a missing file") {
    const auto r = hookd_cli({"check", "--config", (dir / "absent.yaml").string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("absent.yaml"));
  }
  SECTION("run refuses the same config with the same message") {
    text.replace(text.find("  threads: 2"), 12, "  thread: 2");
    const auto config = dir.write("broken.yaml", text);
    const auto r = hookd_cli({"run", "--config", config.string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains(config.string() + ": server.thread"));
  }
  // Never a credential in the messages.
}

TEST_CASE("hookd check does not print credentials", "[integration][cli]") {
  test::temp_dir dir;
  std::string text = make_config(dir);
  text.replace(text.find("provider: altoviz,"), 18, "provider: altoviz, verify: maybe,");
  const auto config = dir.write("broken.yaml", text);
  const auto r = hookd_cli({"check", "--config", config.string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(altoviz_secret) == std::string::npos);
  CHECK(r.err.find(weavy_token) == std::string::npos);
}

TEST_CASE("hookd version and --help", "[integration][cli]") {
  SECTION("version") {
    const auto r = hookd_cli({"version"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "hookd " HOOKD_VERSION "\n");
  }
  SECTION("--help and -h") {
    for (const char* flag : {"--help", "-h"}) {
      const auto r = hookd_cli({flag});
      CHECK(r.exit_code == 0);
      CHECK_THAT(r.out, Catch::StartsWith("usage: hookd"));
      CHECK_THAT(r.out, Catch::Contains("check --config FILE"));
    }
  }
  SECTION("--help on every subcommand") {
    for (const char* command : {"run", "check", "version"}) {
      INFO(command);
      const auto r = hookd_cli({command, "--help"});
      CHECK(r.exit_code == 0);
      CHECK_THAT(r.out, Catch::StartsWith(std::string("usage: hookd ") + command));
    }
  }
}

TEST_CASE("usage errors exit 2", "[integration][cli]") {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"run"},
                                             {"check"},
                                             {"check", "--config"},
                                             {"run", "-c", "a.yaml", "-c", "b.yaml"},
                                             {"check", "--config", "a.yaml", "extra"},
                                             {"version", "extra"}}) {
    std::string joined;
    for (const auto& a : args)
      joined += a + " ";
    INFO(joined);
    const auto r = hookd_cli(args);
    CHECK(r.exit_code == 2);
    CHECK_FALSE(r.err.empty());
  }
}
