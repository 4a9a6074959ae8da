// One test per kind of invalid config, each asserting the key path (and the gist of the
// problem) in the message.

#include <catch2/catch.hpp>

#include <hookd/config/loader.hpp>

#include "config_test_support.hpp"
#include "temp_dir.hpp"

using namespace hookd::config;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using hookd::test::problems_of;
using hookd::test::scoped_env;
using hookd::test::temp_dir;

namespace {

// The only problem reported for `text` (fails when there are none or several).
std::string only_problem(std::string_view text, const std::string& file = "hookd.yaml") {
  auto problems = problems_of(text, file);
  INFO(text);
  for (const auto& p : problems)
    UNSCOPED_INFO(p);
  REQUIRE(problems.size() == 1);
  return problems[0];
}

constexpr const char* handlers_ok = "handlers:\n  audit: {type: log}\n";

}  // namespace

TEST_CASE("invalid: unknown top-level key", "[config][invalid]") {
  CHECK_THAT(
      only_problem("servr:\n  threads: 1\n"),
      StartsWith("hookd.yaml: servr: unknown key (did you mean `server`?); expected one of: "
                 "admin, dispatch, endpoints, handlers, log, providers, routes, server, spool"));
}

TEST_CASE("invalid: unknown nested key", "[config][invalid]") {
  CHECK(only_problem("server:\n  max_bdy: 1MiB\n") ==
        "hookd.yaml: server.max_bdy: unknown key (did you mean `max_body`?); expected one of: "
        "idle_timeout, listen, max_body, max_connections, max_header, request_timeout, "
        "shutdown_grace, threads");
  CHECK_THAT(only_problem("handlers:\n  a: {type: log, path: x}\n"),
             StartsWith("hookd.yaml: handlers.a.path: unknown key for a handler of type log"));
  CHECK_THAT(only_problem("endpoints:\n  a: {provider: altoviz, secret: s, colour: red}\n"),
             StartsWith("hookd.yaml: endpoints.a.colour: unknown key"));
}

TEST_CASE("invalid: wrong type names the expected type", "[config][invalid]") {
  CHECK(only_problem("server: [1, 2]\n") == "hookd.yaml: server: expected a mapping, got a list");
  CHECK(only_problem("dispatch:\n  workers: four\n") ==
        "hookd.yaml: dispatch.workers: expected an integer, got a string");
  CHECK(only_problem("handlers:\n  f: {type: file, path: x, fsync: yes}\n") ==
        "hookd.yaml: handlers.f.fsync: expected a boolean (true or false), got a string");
  CHECK(only_problem(R"({"spool": {"path": 5}})", "hookd.json") ==
        "hookd.json: spool.path: expected a string, got an integer (quote it to make it a "
        "string)");
  CHECK(only_problem("routes: {to: [a]}\n") ==
        "hookd.yaml: routes: expected a list, got a mapping");
}

TEST_CASE("invalid: count out of range", "[config][invalid]") {
  CHECK(only_problem("dispatch:\n  workers: 0\n") ==
        "hookd.yaml: dispatch.workers: must be an integer of at least 1, got 0");
  CHECK(only_problem("server:\n  threads: -2\n") ==
        "hookd.yaml: server.threads: must be an integer of at least 0, got -2");
}

TEST_CASE("invalid: bad duration", "[config][invalid]") {
  CHECK_THAT(only_problem("server:\n  request_timeout: 30 seconds\n"),
             StartsWith("hookd.yaml: server.request_timeout: \"30 seconds\" is not a duration"));
  CHECK_THAT(only_problem("server:\n  idle_timeout: 30\n"),
             StartsWith("hookd.yaml: server.idle_timeout: expected a duration such as 500ms"));
  CHECK(only_problem("server:\n  request_timeout: 0s\n") ==
        "hookd.yaml: server.request_timeout: must be at least 1ms");
  // An event is its own dedup key from its arrival: a window shorter than a request's wait for
  // the writer would let two copies through together.
  CHECK(only_problem("spool:\n  dedup_window: 59s\n") ==
        "hookd.yaml: spool.dedup_window: must be at least 1m");
}

TEST_CASE("invalid: bad size", "[config][invalid]") {
  CHECK_THAT(only_problem("server:\n  max_body: 1.5MiB\n"),
             StartsWith("hookd.yaml: server.max_body: \"1.5MiB\" is not a size"));
  CHECK_THAT(only_problem("server:\n  max_body: 10mb\n"),
             StartsWith("hookd.yaml: server.max_body: \"10mb\" is not a size"));
  CHECK(only_problem("server:\n  max_body: 0\n") ==
        "hookd.yaml: server.max_body: must be at least 1B");
}

TEST_CASE("invalid: bad listen address", "[config][invalid]") {
  CHECK_THAT(
      only_problem("server:\n  listen: \"127.0.0.1:70000\"\n"),
      StartsWith("hookd.yaml: server.listen: port \"70000\" is not a number from 1 to 65535"));
  CHECK(only_problem("server:\n  listen: [\"127.0.0.1:80\", \"::1:8080\"]\n") ==
        "hookd.yaml: server.listen[1]: an IPv6 address goes in brackets, e.g. [::1]:8080");
  CHECK_THAT(only_problem("server:\n  listen: \"8080\"\n"),
             StartsWith("hookd.yaml: server.listen: \"8080\" is not host:port"));
  CHECK_THAT(only_problem("server:\n  listen: 8080\n"),
             StartsWith("hookd.yaml: server.listen: expected a \"host:port\" string or a list"));
  CHECK_THAT(only_problem("server:\n  listen: \"300.1.1.1:80\"\n"),
             StartsWith("hookd.yaml: server.listen: \"300.1.1.1\" is not an IP address"));
  CHECK_THAT(only_problem("server:\n  listen: \"[::g]:80\"\n"),
             StartsWith("hookd.yaml: server.listen: \"::g\" is not an IPv6 address"));
  CHECK_THAT(only_problem("server:\n  listen: \"127.0.0.1:http\"\n"),
             StartsWith("hookd.yaml: server.listen: port \"http\" is not a number"));
  CHECK(only_problem("server:\n  listen: [\"127.0.0.1:80\", \"127.0.0.1:80\"]\n") ==
        "hookd.yaml: server.listen[1]: \"127.0.0.1:80\" is listed twice");
}

TEST_CASE("invalid: admin section", "[config][invalid]") {
  CHECK_THAT(only_problem("admin:\n  listen: \"localhost\"\n"),
             StartsWith("hookd.yaml: admin.listen: \"localhost\" is not host:port"));
  CHECK_THAT(only_problem("admin:\n  listen: [\"127.0.0.1:9090\", \"127.0.0.1:9090\"]\n"),
             StartsWith("hookd.yaml: admin.listen[1]: \"127.0.0.1:9090\" is listed twice"));
  CHECK_THAT(only_problem("admin:\n  port: 9090\n"),
             StartsWith("hookd.yaml: admin.port: unknown key"));
  CHECK_THAT(only_problem("admin: 9090\n"), StartsWith("hookd.yaml: admin: expected a mapping"));
}

TEST_CASE("invalid: log level and format", "[config][invalid]") {
  CHECK(only_problem("log:\n  level: verbose\n") ==
        "hookd.yaml: log.level: unknown log level \"verbose\"; expected trace, debug, info, "
        "warn, error, critical or off");
  CHECK(only_problem("log:\n  format: xml\n") ==
        "hookd.yaml: log.format: unknown log format \"xml\"; expected text or json");
}

TEST_CASE("invalid: unknown provider", "[config][invalid]") {
  CHECK_THAT(only_problem("endpoints:\n  a: {provider: altovix, secret: s}\n"),
             StartsWith("hookd.yaml: endpoints.a.provider: unknown provider \"altovix\" "
                        "(providers: alphatouch, altoviz, offerte-adviseur, weavy)"));
  CHECK(only_problem("endpoints:\n  a: {secret: s}\n") ==
        "hookd.yaml: endpoints.a: missing required key `provider`");
}

TEST_CASE("invalid: unknown handler in a route", "[config][invalid]") {
  CHECK(only_problem(std::string(handlers_ok) + "routes:\n  - to: [audit]\n  - to: [audi]\n") ==
        "hookd.yaml: routes[1].to[0]: unknown handler \"audi\" (handlers: audit)");
  CHECK(only_problem(std::string(handlers_ok) + "routes:\n  - to: []\n") ==
        "hookd.yaml: routes[0].to: must name at least one handler");
  CHECK(only_problem(std::string(handlers_ok) + "routes:\n  - match: {type: x}\n") ==
        "hookd.yaml: routes[0]: missing required key `to`");
  CHECK(only_problem(std::string(handlers_ok) +
                     "routes:\n  - match: {endpoint: nowhere}\n    to: [audit]\n") ==
        "hookd.yaml: routes[0].match.endpoint: no endpoint named \"nowhere\" (endpoints: none "
        "are defined)");
}

TEST_CASE("invalid: a scheme that needs credentials has none", "[config][invalid]") {
  CHECK(only_problem("endpoints:\n  altoviz: {provider: altoviz}\n") ==
        "hookd.yaml: endpoints.altoviz: provider altoviz verifies with an hmac signature and "
        "needs `secret` or `secrets` (or `verify: none` to accept unsigned requests)");
  CHECK(only_problem("endpoints:\n  w: {provider: weavy}\n") ==
        "hookd.yaml: endpoints.w: provider weavy verifies with a token and needs `token` or "
        "`tokens` (or `verify: none` to accept unverified requests)");
  CHECK_THAT(only_problem("endpoints:\n  a: {provider: altoviz, secrets: []}\n"),
             Contains("endpoints.a.secrets: must list at least one credential"));
}

TEST_CASE("invalid: env var not set or empty", "[config][invalid]") {
  scoped_env unset("HOOKD_TEST_UNSET_SECRET", nullptr);
  scoped_env empty("HOOKD_TEST_EMPTY_SECRET", "");
  CHECK(only_problem("endpoints:\n  altoviz:\n    provider: altoviz\n    secret: {env: "
                     "HOOKD_TEST_UNSET_SECRET}\n") ==
        "hookd.yaml: endpoints.altoviz.secret: env var HOOKD_TEST_UNSET_SECRET is not set");
  CHECK(only_problem("endpoints:\n  altoviz:\n    provider: altoviz\n    secrets: [a, {env: "
                     "HOOKD_TEST_EMPTY_SECRET}]\n") ==
        "hookd.yaml: endpoints.altoviz.secrets[1]: env var HOOKD_TEST_EMPTY_SECRET is empty");
}

TEST_CASE("invalid: secret file missing or empty", "[config][invalid]") {
  temp_dir dir;
  const auto missing = (dir / "missing.key").string();
  CHECK(only_problem("endpoints:\n  o: {provider: offerte-adviseur, secret: {file: " + missing +
                     "}}\n") == "hookd.yaml: endpoints.o.secret: cannot read file \"" + missing +
                                    "\": No such file or directory");
  const auto empty = dir.write("empty.key", "\n").string();
  CHECK(only_problem("endpoints:\n  o: {provider: offerte-adviseur, secret: {file: " + empty +
                     "}}\n") == "hookd.yaml: endpoints.o.secret: file \"" + empty + "\" is empty");
  CHECK(
      only_problem("endpoints:\n  o: {provider: offerte-adviseur, secret: {env: A, file: b}}\n") ==
      "hookd.yaml: endpoints.o.secret: give either `env` or `file`, not both");
  CHECK(only_problem("endpoints:\n  o: {provider: offerte-adviseur, secret: {}}\n") ==
        "hookd.yaml: endpoints.o.secret: expected a string, {env: NAME} or {file: PATH}");
  CHECK_THAT(only_problem("endpoints:\n  o: {provider: offerte-adviseur, secret: {path: b}}\n"),
             StartsWith("hookd.yaml: endpoints.o.secret.path: unknown key"));
}

TEST_CASE("invalid: another scheme's credential key", "[config][invalid]") {
  CHECK(only_problem("endpoints:\n  weavy: {provider: weavy, secret: s}\n") ==
        "hookd.yaml: endpoints.weavy.secret: provider weavy verifies with a token and takes "
        "`token` or `tokens`, not `secret`");
  CHECK(only_problem("endpoints:\n  at: {provider: alphatouch, token: s}\n") ==
        "hookd.yaml: endpoints.at.token: provider alphatouch verifies with a key in the body "
        "field `api_key` and takes `api_key` or `api_keys`, not `token`");
  CHECK(only_problem("endpoints:\n  a: {provider: altoviz, secret: s, secrets: [t]}\n") ==
        "hookd.yaml: endpoints.a.secrets: give either `secret` or `secrets`, not both "
        "(`secrets` lists several for rotation)");
  CHECK(only_problem("providers:\n  open: {scheme: {type: none}, mapping: {type: /t}}\n"
                     "endpoints:\n  o: {provider: open, token: t}\n") ==
        "hookd.yaml: endpoints.o.token: provider open does not verify requests (scheme none) "
        "and takes no credentials");
}

TEST_CASE("invalid: verify none together with credentials, or another verify value",
          "[config][invalid]") {
  CHECK(only_problem("endpoints:\n  a: {provider: altoviz, verify: none, secret: s}\n") ==
        "hookd.yaml: endpoints.a.verify: `verify: none` cannot be combined with credentials "
        "(`secret`); remove one of them");
  CHECK_THAT(only_problem("endpoints:\n  a: {provider: altoviz, verify: hmac, secret: s}\n"),
             StartsWith("hookd.yaml: endpoints.a.verify: unknown value \"hmac\"; the only value "
                        "is \"none\""));
}

TEST_CASE("invalid: a user provider named like a built-in one", "[config][invalid]") {
  CHECK_THAT(only_problem("providers:\n  weavy:\n    scheme: {type: none}\n    mapping: {type: "
                          "path}\n"),
             StartsWith("hookd.yaml: providers.weavy: \"weavy\" is a built-in provider"));
}

TEST_CASE("invalid: bad JSON pointers and sources", "[config][invalid]") {
  const std::string head = "providers:\n  p:\n    scheme: {type: none}\n    mapping: {type: /t, ";
  CHECK(only_problem(head + "id: \"data/id\"}\n") ==
        "hookd.yaml: providers.p.mapping.id: \"data/id\" is not a source; expected a JSON "
        "pointer into the body such as /data/id, header:Header-Name, or path");
  CHECK_THAT(only_problem(head + "subject: [/a, \"/b~2\"]}\n"),
             StartsWith("hookd.yaml: providers.p.mapping.subject[1]: invalid escape in JSON "
                        "pointer"));
  CHECK(only_problem(head + "subject: \"/a*/b\"}\n") ==
        "hookd.yaml: providers.p.mapping.subject: glob characters (* ?) are allowed only in the "
        "last segment of a JSON pointer");
  CHECK_THAT(only_problem(head + "data: \"header:X-A\"}\n"),
             StartsWith("hookd.yaml: providers.p.mapping.data: a JSON pointer must start with "
                        "\"/\""));
  CHECK(only_problem(head + "subject: \"header:\"}\n") ==
        "hookd.yaml: providers.p.mapping.subject: \"\" is not a valid header name");
}

TEST_CASE("invalid: mapping.required", "[config][invalid]") {
  const std::string head =
      "providers:\n  p:\n    scheme: {type: none}\n    mapping: {type: /t, subject: /s, ";
  CHECK(only_problem(head + "required: [subject, id]}\n") ==
        "hookd.yaml: providers.p.mapping.required[1]: unknown value \"id\"; expected subject or "
        "data (id, type, entity and action are always required)");
  CHECK(only_problem(head + "required: [data, data]}\n") ==
        "hookd.yaml: providers.p.mapping.required[1]: \"data\" is listed twice");
  CHECK(only_problem(head + "required: subject}\n") ==
        "hookd.yaml: providers.p.mapping.required: expected a list such as [subject, data], got "
        "a string");
  CHECK(only_problem("providers:\n  p:\n    scheme: {type: none}\n    mapping: {type: /t, "
                     "required: [subject]}\n") ==
        "hookd.yaml: providers.p.mapping.required[0]: `subject` is required but not mapped; add "
        "`subject:` (the sources for every type not listed in `subject_by_type`)");
}

TEST_CASE("invalid: mapping.subject_by_type", "[config][invalid]") {
  const std::string head =
      "providers:\n  p:\n    scheme: {type: none}\n    mapping:\n"
      "      type: path\n      subject_by_type:\n";
  CHECK(only_problem(head + "        NewCustomer: /result/codecustomer\n") ==
        "hookd.yaml: providers.p.mapping.subject_by_type.NewCustomer: \"NewCustomer\" is not an "
        "event type; use the type hookd writes, lowercase <entity>.<action> such as "
        "customer.created");
  CHECK(only_problem(head + "        customer: /result/codecustomer\n")
            .find("subject_by_type.customer: \"customer\" is not an event type") !=
        std::string::npos);
  CHECK(only_problem(head + "        customer.created: [/a, \"b\"]\n") ==
        "hookd.yaml: providers.p.mapping.subject_by_type.customer.created[1]: \"b\" is not a "
        "source; expected a JSON pointer into the body such as /data/id, header:Header-Name, or "
        "path");
  CHECK(only_problem(head + "        customer.created: []\n") ==
        "hookd.yaml: providers.p.mapping.subject_by_type.customer.created: must list at least one "
        "source");
  CHECK_THAT(only_problem(head + "        customer.created: /a\n        customer.created: /b\n"),
             StartsWith("hookd.yaml: providers.p.mapping.subject_by_type.customer.created: "));
  CHECK_THAT(only_problem("providers:\n  p:\n    scheme: {type: none}\n    mapping: {type: "
                          "path, subject_by_type: [/a]}\n"),
             StartsWith("hookd.yaml: providers.p.mapping.subject_by_type: expected a mapping from "
                        "event type to a source or a list of sources"));
}

TEST_CASE("invalid: both type and entity/action, or neither", "[config][invalid]") {
  const std::string head = "providers:\n  p:\n    scheme: {type: none}\n    mapping: ";
  CHECK(only_problem(head + "{type: /t, entity: /e, action: /a}\n") ==
        "hookd.yaml: providers.p.mapping: give either `type` or `entity` and `action`, not both "
        "(`type` is split into entity and action)");
  CHECK(only_problem(head + "{id: /id}\n") ==
        "hookd.yaml: providers.p.mapping: missing required key `type` (or both `entity` and "
        "`action`)");
  CHECK(only_problem(head + "{entity: /e}\n") ==
        "hookd.yaml: providers.p.mapping: missing required key `action` (`entity` needs "
        "`action`)");
}

TEST_CASE("invalid: provider scheme problems", "[config][invalid]") {
  const std::string tail = "\n    mapping: {type: /t}\n";
  CHECK(only_problem("providers:\n  p:\n    scheme: {type: hmac}" + tail) ==
        "hookd.yaml: providers.p.scheme: missing required key `header`");
  CHECK(only_problem("providers:\n  p:\n    scheme: {type: hmac, header: X, algorithm: md5}" +
                     tail) ==
        "hookd.yaml: providers.p.scheme.algorithm: unknown algorithm \"md5\"; expected sha1, "
        "sha256 or sha512");
  CHECK(only_problem("providers:\n  p:\n    scheme: {type: rsa}" + tail) ==
        "hookd.yaml: providers.p.scheme.type: unknown scheme type \"rsa\"; expected hmac, token, "
        "body-field or none");
  CHECK(only_problem("providers:\n  p:\n    scheme: {type: token, in: query, name: \"\"}" + tail) ==
        "hookd.yaml: providers.p.scheme.name: must not be empty");
  CHECK(only_problem("providers:\n  p:\n    scheme: {type: body-field}" + tail) ==
        "hookd.yaml: providers.p.scheme: missing required key `field`");
}

TEST_CASE("invalid: unknown handler type lists the known ones", "[config][invalid]") {
  CHECK(only_problem("handlers:\n  h: {type: webhook, url: x}\n") ==
        "hookd.yaml: handlers.h.type: unknown handler type \"webhook\"; expected log, file or "
        "exec");
  CHECK(only_problem("handlers:\n  h: {path: x}\n") ==
        "hookd.yaml: handlers.h: missing required key `type`");
}

TEST_CASE("invalid: exec handler problems", "[config][invalid]") {
  CHECK(only_problem("handlers:\n  x: {type: exec, command: [/bin/true], env: {HOOKD_ID: 1}}\n") ==
        "hookd.yaml: handlers.x.env.HOOKD_ID: names starting with HOOKD_ are reserved for the "
        "variables hookd sets itself");
  CHECK_THAT(only_problem("handlers:\n  x: {type: exec, command: [/bin/true], env: {A-B: 1}}\n"),
             StartsWith("hookd.yaml: handlers.x.env.A-B: invalid environment variable name"));
  CHECK_THAT(only_problem("handlers:\n  x: {type: exec, command: /bin/true}\n"),
             StartsWith("hookd.yaml: handlers.x.command: expected a list of strings"));
  CHECK(only_problem("handlers:\n  x: {type: exec, command: []}\n") ==
        "hookd.yaml: handlers.x.command: must name at least the program to run");
  CHECK(only_problem("handlers:\n  x: {type: exec}\n") ==
        "hookd.yaml: handlers.x: missing required key `command`");
  CHECK(only_problem("handlers:\n  x: {type: exec, command: [/bin/true], concurrency: 0}\n") ==
        "hookd.yaml: handlers.x.concurrency: must be an integer of at least 1, got 0");
}

TEST_CASE("invalid: retry policy", "[config][invalid]") {
  CHECK(only_problem("handlers:\n  l: {type: log, retry: {initial: 10s, max: 1s}}\n") ==
        "hookd.yaml: handlers.l.retry.max: must be at least `initial` (10s)");
  CHECK(only_problem("handlers:\n  l: {type: log, retry: {attempts: 0}}\n") ==
        "hookd.yaml: handlers.l.retry.attempts: must be an integer of at least 1, got 0");
}

TEST_CASE("invalid: names", "[config][invalid]") {
  CHECK_THAT(only_problem("handlers:\n  \"a b\": {type: log}\n"),
             StartsWith("hookd.yaml: handlers.a b: invalid handler name \"a b\""));
  CHECK_THAT(only_problem("endpoints:\n  \"..\": {provider: altoviz, secret: s}\n"),
             StartsWith("hookd.yaml: endpoints...: invalid endpoint name \"..\""));
}

TEST_CASE("invalid: duplicate keys", "[config][invalid]") {
  CHECK(only_problem("dispatch:\n  workers: 1\n  workers: 2\n") ==
        "hookd.yaml: dispatch.workers: duplicate key (given more than once)");
  CHECK(only_problem(R"({"log": {"level": "info", "level": "debug"}})", "hookd.json") ==
        "hookd.json: log.level: duplicate key (given more than once)");
}

TEST_CASE("invalid: YAML syntax error gives file, line and column", "[config][invalid]") {
  CHECK(only_problem("server:\n  threads: 2\n    max_body: 1MiB\n") ==
        "hookd.yaml:3:13: invalid YAML: illegal map value");
  CHECK_THAT(only_problem("a: [1, 2\n"), StartsWith("hookd.yaml:2:1: invalid YAML: "));
}

TEST_CASE("invalid: JSON syntax error gives file, line and column", "[config][invalid]") {
  CHECK(only_problem("{\"server\": {\"threads\": 2,}\n}", "hookd.json") ==
        "hookd.json:1:26: invalid JSON: syntax error while parsing object key - unexpected '}'; "
        "expected string literal");
  CHECK_THAT(only_problem("{\"log\": {}}\n trailing", "hookd.json"),
             StartsWith("hookd.json:2:4: invalid JSON: "));
}

TEST_CASE("invalid: the top level is not a mapping", "[config][invalid]") {
  CHECK(only_problem("- a\n- b\n") ==
        "hookd.yaml: expected a mapping at the top level, got a list");
}

TEST_CASE("invalid: several errors are reported together, in file order", "[config][invalid]") {
  scoped_env unset("HOOKD_TEST_UNSET_SECRET", nullptr);
  const auto problems = problems_of(R"(
server:
  listen: "localhost"
  threads: many
endpoints:
  altoviz: {provider: altoviz, secret: {env: HOOKD_TEST_UNSET_SECRET}}
  weavy: {provider: weavy}
handlers:
  audit: {type: file}
routes:
  - to: [audit, console]
extra: true
)");
  REQUIRE(problems.size() == 7);
  CHECK_THAT(problems[0], StartsWith("hookd.yaml: server.listen: "));
  CHECK_THAT(problems[1], StartsWith("hookd.yaml: server.threads: "));
  CHECK_THAT(problems[2], StartsWith("hookd.yaml: endpoints.altoviz.secret: env var "));
  CHECK_THAT(problems[3], StartsWith("hookd.yaml: endpoints.weavy: provider weavy "));
  CHECK_THAT(problems[4], StartsWith("hookd.yaml: handlers.audit: missing required key `path`"));
  CHECK_THAT(problems[5], StartsWith("hookd.yaml: routes[0].to[1]: unknown handler \"console\""));
  CHECK_THAT(problems[6], StartsWith("hookd.yaml: extra: unknown key"));
}

TEST_CASE("invalid: a secret value never appears in any message", "[config][invalid][secrets]") {
  constexpr const char* secret = "S3cr3t-VALUE-do-not-print";
  scoped_env env("HOOKD_TEST_LEAK_SECRET", secret);
  temp_dir dir;
  const auto file = dir.write("leak.key", secret).string();
  const std::string s = secret;
  const std::vector<std::pair<std::string, std::string>> configs{
      // Credentials of the wrong kind, shape or key, and credentials next to `verify: none`.
      {"hookd.yaml", "endpoints:\n  w: {provider: weavy, secret: " + s + "}\n"},
      {"hookd.yaml", "endpoints:\n  a: {provider: altoviz, verify: none, secret: " + s + "}\n"},
      {"hookd.yaml", "endpoints:\n  a: {provider: altoviz, secret: [" + s + "]}\n"},
      {"hookd.yaml", "endpoints:\n  a: {provider: altoviz, secrets: " + s + "}\n"},
      {"hookd.yaml",
       "endpoints:\n  a: {provider: altoviz, secret: " + s + ", secrets: [" + s + "]}\n"},
      {"hookd.yaml", "endpoints:\n  a: {provider: nope, secret: " + s + "}\n"},
      {"hookd.yaml",
       "endpoints:\n  a: {provider: altoviz, secret: {env: HOOKD_TEST_LEAK_SECRET}, "
       "bogus: 1, verify: none}\n"},
      {"hookd.yaml",
       "endpoints:\n  a: {provider: altoviz, secret: {file: " + file + "}, verify: none}\n"},
      {"hookd.yaml", "endpoints:\n  a: {provider: alphatouch, api_key: {value: " + s + "}}\n"},
      // Syntax errors right after a secret.
      {"hookd.json", R"({"endpoints": {"a": {"provider": "altoviz", "secret": ")" + s},
      {"hookd.json",
       R"({"endpoints": {"a": {"provider": "altoviz", "secret": ")" + s + R"(" "x": 1}}})"},
      {"hookd.json", R"({"endpoints": {"a": {"provider": "altoviz", "secret": )" + s + "}}}"},
      {"hookd.yaml", "endpoints:\n  a: {provider: altoviz, secret: \"" + s + "}\n"},
      {"hookd.yaml", "endpoints:\n  a:\n    secret: " + s + "\n   - x\n"},
      {"hookd.yaml", "endpoints:\n  a: {provider: altoviz, secret: \"\\" + s + "\"}\n"},
      // A numeric secret of the wrong type.
      {"hookd.json", R"({"endpoints": {"a": {"provider": "altoviz", "secret": 987654321}}})"},
  };
  for (const auto& [name, text] : configs) {
    INFO(text);
    const auto problems = problems_of(text, name);
    CHECK_FALSE(problems.empty());
    for (const auto& p : problems) {
      INFO(p);
      CHECK(p.find(secret) == std::string::npos);
      CHECK(p.find("987654321") == std::string::npos);
    }
  }
}
