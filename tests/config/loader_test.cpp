#include <sstream>

#include <catch2/catch.hpp>

#include <hookd/config/loader.hpp>

#include "config_test_support.hpp"
#include "temp_dir.hpp"

using namespace hookd::config;
using namespace std::chrono_literals;
using Catch::Matchers::StartsWith;
using hookd::test::problems_of;
using hookd::test::scoped_env;
using hookd::test::temp_dir;

namespace {

const endpoint_spec& endpoint(const config& cfg, const std::string& name) {
  for (const auto& e : cfg.endpoints) {
    if (e.name == name) return e;
  }
  FAIL("no endpoint " << name);
  throw std::logic_error("unreachable");
}

const handler_spec& handler(const config& cfg, const std::string& name) {
  for (const auto& h : cfg.handlers) {
    if (h.name == name) return h;
  }
  FAIL("no handler " << name);
  throw std::logic_error("unreachable");
}

std::string source_text(const field_source& s) {
  switch (s.from) {
    case field_source::origin::body:
      return s.name;
    case field_source::origin::header:
      return "header:" + s.name;
    case field_source::origin::path:
      return "path";
  }
  return "?";
}

// Every field of a config as text, so two loads can be compared whole.
std::string describe(const config& c) {
  std::ostringstream o;
  o << "listen";
  for (const auto& l : c.server.listen)
    o << ' ' << l;
  o << "\nserver " << c.server.threads << ' ' << c.server.max_body << ' ' << c.server.max_header
    << ' ' << c.server.max_connections << ' ' << c.server.request_timeout.count() << ' '
    << c.server.idle_timeout.count() << ' ' << c.server.shutdown_grace.count();
  o << "\nspool " << c.spool.path << ' ' << c.spool.dedup_window.count() << ' '
    << c.spool.retention.count();
  o << "\ndispatch " << c.dispatch.workers << " backlog " << c.spool.max_backlog;
  o << "\nlog " << c.log.level << ' ' << c.log.format;
  for (const auto& [name, p] : c.providers) {
    o << "\nprovider " << name << ' ' << p.builtin << ' ' << p.verify.index() << ' '
      << credential_key(p.verify);
    if (const auto* h = std::get_if<hmac_scheme>(&p.verify)) {
      o << ' ' << h->header << ' ' << static_cast<int>(h->algorithm) << ' '
        << static_cast<int>(h->encoding) << " [" << h->prefix << "] [" << h->separator << ']';
    }
    if (const auto* t = std::get_if<token_scheme>(&p.verify)) {
      o << ' ' << static_cast<int>(t->in) << ' ' << t->name;
    }
    if (const auto* b = std::get_if<body_field_scheme>(&p.verify)) o << ' ' << b->field;
    const auto& m = p.map;
    for (const auto* s : {&m.id, &m.type, &m.entity, &m.action}) {
      o << ' ' << (s->has_value() ? source_text(**s) : "-");
    }
    o << ' ' << static_cast<int>(m.split);
    for (const auto& [k, v] : m.actions)
      o << ' ' << k << '=' << v;
    for (const auto& s : m.subject)
      o << " s:" << source_text(s);
    for (const auto& [type, sources] : m.subject_by_type) {
      o << ' ' << type << ':';
      for (const auto& s : sources)
        o << ' ' << source_text(s);
    }
    o << " data:" << m.data << " required:" << m.subject_required << m.data_required;
  }
  for (const auto& e : c.endpoints) {
    o << "\nendpoint " << e.name << ' ' << e.provider << ' ' << e.verify_none;
    for (const auto& cred : e.credentials)
      o << ' ' << cred;
  }
  for (const auto& h : c.handlers) {
    o << "\nhandler " << h.name << ' ' << h.kind.index() << ' ' << h.retry.attempts << ' '
      << h.retry.initial.count() << ' ' << h.retry.max.count();
    if (const auto* f = std::get_if<file_handler>(&h.kind)) o << ' ' << f->path << ' ' << f->fsync;
    if (const auto* x = std::get_if<exec_handler>(&h.kind)) {
      for (const auto& a : x->command)
        o << " arg:" << a;
      for (const auto& [k, v] : x->env)
        o << " env:" << k << '=' << v;
      o << ' ' << x->timeout.count() << ' ' << x->concurrency << ' ' << x->max_output;
    }
  }
  for (const auto& r : c.routes) {
    o << "\nroute [" << r.endpoint << "] [" << r.provider << "] [" << r.type << ']';
    for (const auto& t : r.to)
      o << ' ' << t;
  }
  return o.str();
}

}  // namespace

TEST_CASE("the example config loads with the documented values", "[config]") {
  const auto file = std::filesystem::path(HOOKD_SOURCE_DIR) / "config" / "hookd.example.yaml";
  const config cfg = load_file(file);
  CHECK(cfg.file == file);
  CHECK(cfg.server.listen == std::vector<std::string>{"127.0.0.1:8080"});
  CHECK(cfg.spool.path == "./var/hookd.db");

  REQUIRE(cfg.endpoints.size() == 4);
  // Sorted by name.
  CHECK(cfg.endpoints[0].name == "alphatouch");
  CHECK(cfg.endpoints[1].name == "altoviz");
  CHECK(cfg.endpoints[2].name == "offerte");
  CHECK(cfg.endpoints[3].name == "weavy");
  CHECK(endpoint(cfg, "altoviz").provider == "altoviz");
  CHECK(endpoint(cfg, "altoviz").credentials == std::vector<std::string>{"demo-altoviz-secret"});
  CHECK(endpoint(cfg, "offerte").provider == "offerte-adviseur");
  CHECK(endpoint(cfg, "offerte").credentials == std::vector<std::string>{"demo-offerte-secret"});
  CHECK(endpoint(cfg, "alphatouch").credentials == std::vector<std::string>{"demo-alphatouch-key"});
  CHECK(endpoint(cfg, "weavy").credentials == std::vector<std::string>{"demo-weavy-token"});
  for (const auto& e : cfg.endpoints)
    CHECK_FALSE(e.verify_none);

  REQUIRE(cfg.handlers.size() == 3);
  CHECK(cfg.handlers[0].name == "audit");
  CHECK(cfg.handlers[1].name == "console");
  CHECK(cfg.handlers[2].name == "on-invoice");
  const auto* audit = std::get_if<file_handler>(&handler(cfg, "audit").kind);
  REQUIRE(audit != nullptr);
  CHECK(audit->path == "./var/events.jsonl");
  CHECK_FALSE(audit->fsync);
  CHECK(std::holds_alternative<log_handler>(handler(cfg, "console").kind));
  const auto* exec = std::get_if<exec_handler>(&handler(cfg, "on-invoice").kind);
  REQUIRE(exec != nullptr);
  CHECK(exec->command == std::vector<std::string>{"examples/on-invoice.sh"});
  CHECK(exec->env == std::map<std::string, std::string>{{"INVOICE_DIR", "./var/invoices"}});
  CHECK(handler(cfg, "on-invoice").retry.attempts == 3);

  REQUIRE(cfg.routes.size() == 2);
  CHECK(cfg.routes[0].endpoint.empty());
  CHECK(cfg.routes[0].provider.empty());
  CHECK(cfg.routes[0].type.empty());
  CHECK(cfg.routes[0].to == std::vector<std::string>{"audit", "console"});
  CHECK(cfg.routes[1].endpoint == "altoviz");
  CHECK(cfg.routes[1].type == "invoice.*");
  CHECK(cfg.routes[1].to == std::vector<std::string>{"on-invoice"});
  CHECK(cfg.providers.size() == builtin_providers().size());
}

TEST_CASE("the example config spells out exactly the defaults", "[config]") {
  // Every key in the example carries its default value, so it must equal a default config
  // apart from the endpoints, handlers and routes it declares.
  const config example =
      load_file(std::filesystem::path(HOOKD_SOURCE_DIR) / "config" / "hookd.example.yaml");
  const config defaults;
  CHECK(example.server.listen == defaults.server.listen);
  CHECK(example.server.threads == defaults.server.threads);
  CHECK(example.server.max_body == defaults.server.max_body);
  CHECK(example.server.max_header == defaults.server.max_header);
  CHECK(example.server.max_connections == defaults.server.max_connections);
  CHECK(example.server.request_timeout == defaults.server.request_timeout);
  CHECK(example.server.idle_timeout == defaults.server.idle_timeout);
  CHECK(example.server.shutdown_grace == defaults.server.shutdown_grace);
  CHECK(example.spool.path == defaults.spool.path);
  CHECK(example.spool.dedup_window == defaults.spool.dedup_window);
  CHECK(example.spool.retention == defaults.spool.retention);
  CHECK(example.dispatch.workers == defaults.dispatch.workers);
  CHECK(example.spool.max_backlog == defaults.spool.max_backlog);
  CHECK(example.log.level == defaults.log.level);
  CHECK(example.log.format == defaults.log.format);
  CHECK(example.admin.listen == defaults.admin.listen);
  const retry_policy default_retry;
  const auto& retry = handler(example, "audit").retry;
  CHECK(retry.attempts == default_retry.attempts);
  CHECK(retry.initial == default_retry.initial);
  CHECK(retry.max == default_retry.max);
}

TEST_CASE("an empty config gives every default", "[config]") {
  for (const char* text : {"", "{}", "# nothing\n", "server: {}\nspool: {}\nroutes: []\n"}) {
    INFO(text);
    const config cfg = load_text(text, "hookd.yaml");
    CHECK(cfg.server.listen == std::vector<std::string>{"127.0.0.1:8080"});
    CHECK(cfg.server.threads == 0);
    CHECK(cfg.server.max_body == 1024U * 1024U);
    CHECK(cfg.server.max_header == 16U * 1024U);
    CHECK(cfg.server.max_connections == 10000);
    CHECK(cfg.server.request_timeout == 30s);
    CHECK(cfg.server.idle_timeout == 60s);
    CHECK(cfg.server.shutdown_grace == 10s);
    CHECK(cfg.spool.path == "./var/hookd.db");
    CHECK(cfg.spool.dedup_window == 7 * 24h);
    CHECK(cfg.spool.retention == 7 * 24h);
    CHECK(cfg.dispatch.workers == 4);
    CHECK(cfg.spool.max_backlog == 10000);
    CHECK(cfg.log.level == "info");
    CHECK(cfg.log.format == "text");
    CHECK(cfg.admin.listen == std::vector<std::string>{"127.0.0.1:9090"});
    CHECK(cfg.endpoints.empty());
    CHECK(cfg.handlers.empty());
    CHECK(cfg.routes.empty());
  }
}

TEST_CASE("handler defaults: retry, file fsync, exec timeout/concurrency/max_output", "[config]") {
  const config cfg = load_text(R"(
handlers:
  f: {type: file, path: out.jsonl}
  x: {type: exec, command: [/bin/true]}
  l: {type: log}
)",
                               "hookd.yaml");
  REQUIRE(cfg.handlers.size() == 3);
  CHECK(cfg.handlers[0].name == "f");
  CHECK(cfg.handlers[1].name == "l");
  CHECK(cfg.handlers[2].name == "x");
  for (const auto& h : cfg.handlers) {
    CHECK(h.retry.attempts == 12);
    CHECK(h.retry.initial == 1s);
    CHECK(h.retry.max == 1h);
  }
  CHECK_FALSE(std::get<file_handler>(handler(cfg, "f").kind).fsync);
  const auto& x = std::get<exec_handler>(handler(cfg, "x").kind);
  CHECK(x.command == std::vector<std::string>{"/bin/true"});
  CHECK(x.timeout == 30s);
  CHECK(x.concurrency == 1);
  CHECK(x.max_output == 64U * 1024U);
  CHECK(x.env.empty());
}

TEST_CASE("every key set explicitly is read", "[config]") {
  const config cfg = load_text(R"yaml(
server:
  listen: ["0.0.0.0:0", "[::1]:9000", "localhost:8081"]
  threads: 3
  max_body: 512KiB
  max_header: 8192
  max_connections: 50
  request_timeout: 5s
  idle_timeout: 2m
  shutdown_grace: 0s
spool: {path: /tmp/x.db, dedup_window: 1d, retention: 12h, max_backlog: 100}
dispatch: {workers: 2}
log: {level: debug, format: json}
providers:
  gh:
    scheme: {type: hmac, header: X-Hub-Signature-256, algorithm: sha1, encoding: base64, prefix: "sha256=", separator: ","}
    mapping:
      id: header:X-GitHub-Delivery
      type: header:X-GitHub-Event
      split: dotted
      actions: {opened: created}
      subject: /repository/full_name
      data: /repository
  box:
    scheme: {type: token, in: header, name: X-Token}
    mapping: {entity: /kind, action: /verb}
  open:
    scheme: {type: none}
    mapping: {type: path, split: prefix}
endpoints:
  gh: {provider: gh, secret: s1}
  box: {provider: box, tokens: [t1, t2]}
  open: {provider: open}
  unsigned: {provider: altoviz, verify: none}
handlers:
  run:
    type: exec
    command: [/usr/bin/env, "a b", "$(touch x)"]
    timeout: 10s
    env: {DIR: /srv, _X1: "1"}
    concurrency: 3
    max_output: 1MiB
    retry: {attempts: 3, initial: 500ms, max: 10s}
  out: {type: file, path: o.jsonl, fsync: true}
routes:
  - match: {endpoint: "g*", provider: gh, type: "push.*"}
    to: [run, out]
  - match: {}
    to: [out]
)yaml",
                               "hookd.yaml");
  CHECK(cfg.server.listen == std::vector<std::string>{"0.0.0.0:0", "[::1]:9000", "localhost:8081"});
  CHECK(cfg.server.threads == 3);
  CHECK(cfg.server.max_body == 512U * 1024U);
  CHECK(cfg.server.max_header == 8192);
  CHECK(cfg.server.max_connections == 50);
  CHECK(cfg.server.request_timeout == 5s);
  CHECK(cfg.server.idle_timeout == 2min);
  CHECK(cfg.server.shutdown_grace == 0s);
  CHECK(cfg.spool.path == "/tmp/x.db");
  CHECK(cfg.spool.dedup_window == 24h);
  CHECK(cfg.spool.retention == 12h);
  CHECK(cfg.dispatch.workers == 2);
  CHECK(cfg.spool.max_backlog == 100);
  CHECK(cfg.log.level == "debug");
  CHECK(cfg.log.format == "json");

  const auto& gh = cfg.providers.at("gh");
  const auto& h = std::get<hmac_scheme>(gh.verify);
  CHECK(h.header == "X-Hub-Signature-256");
  CHECK(h.algorithm == hmac_algorithm::sha1);
  CHECK(h.encoding == signature_encoding::base64);
  CHECK(h.prefix == "sha256=");
  CHECK(h.separator == ",");
  REQUIRE(gh.map.id.has_value());
  CHECK(gh.map.id->from == field_source::origin::header);
  CHECK(gh.map.id->name == "X-GitHub-Delivery");
  CHECK(gh.map.split == type_split::dotted);
  CHECK(gh.map.actions.at("opened") == "created");
  REQUIRE(gh.map.subject.size() == 1);
  CHECK(gh.map.subject[0].name == "/repository/full_name");
  CHECK(gh.map.data == "/repository");
  const auto& box = std::get<token_scheme>(cfg.providers.at("box").verify);
  CHECK(box.in == token_location::header);
  CHECK(box.name == "X-Token");
  CHECK(std::holds_alternative<no_scheme>(cfg.providers.at("open").verify));
  CHECK(cfg.providers.at("open").map.type->from == field_source::origin::path);

  CHECK(endpoint(cfg, "box").credentials == std::vector<std::string>{"t1", "t2"});
  CHECK(endpoint(cfg, "open").credentials.empty());
  CHECK_FALSE(endpoint(cfg, "open").verify_none);
  CHECK(endpoint(cfg, "unsigned").verify_none);
  CHECK(endpoint(cfg, "unsigned").credentials.empty());

  const auto& run = handler(cfg, "run");
  const auto& x = std::get<exec_handler>(run.kind);
  CHECK(x.command == std::vector<std::string>{"/usr/bin/env", "a b", "$(touch x)"});
  CHECK(x.timeout == 10s);
  CHECK(x.env == std::map<std::string, std::string>{{"DIR", "/srv"}, {"_X1", "1"}});
  CHECK(x.concurrency == 3);
  CHECK(x.max_output == 1024U * 1024U);
  CHECK(run.retry.attempts == 3);
  CHECK(run.retry.initial == 500ms);
  CHECK(run.retry.max == 10s);
  CHECK(std::get<file_handler>(handler(cfg, "out").kind).fsync);

  REQUIRE(cfg.routes.size() == 2);
  CHECK(cfg.routes[0].endpoint == "g*");
  CHECK(cfg.routes[0].provider == "gh");
  CHECK(cfg.routes[0].type == "push.*");
  CHECK(cfg.routes[0].to == std::vector<std::string>{"run", "out"});
  CHECK(cfg.routes[1].endpoint.empty());
  CHECK(cfg.routes[1].to == std::vector<std::string>{"out"});
}

TEST_CASE("a JSON config loads exactly like its YAML twin", "[config][json]") {
  const char* yaml = R"(
server:
  listen: 127.0.0.1:0
  max_body: 2MiB
  request_timeout: 10s
dispatch: {workers: 2}
providers:
  gh:
    scheme: {type: hmac, header: X-Hub-Signature-256, prefix: "sha256="}
    mapping: {id: header:X-GitHub-Delivery, type: header:X-GitHub-Event, split: dotted,
              subject: [/repository/id], data: ""}
endpoints:
  altoviz: {provider: altoviz, secrets: [one, two]}
  gh: {provider: gh, secret: three}
handlers:
  audit: {type: file, path: ./var/events.jsonl, fsync: true}
  run: {type: exec, command: [/bin/cat], env: {A: b}, retry: {attempts: 2}}
routes:
  - to: [audit]
  - match: {endpoint: altoviz, type: "invoice.*"}
    to: [run]
)";
  const char* json = R"({
  "server": {"listen": "127.0.0.1:0", "max_body": 2097152, "request_timeout": "10s"},
  "dispatch": {"workers": 2},
  "providers": {
    "gh": {
      "scheme": {"type": "hmac", "header": "X-Hub-Signature-256", "prefix": "sha256="},
      "mapping": {"id": "header:X-GitHub-Delivery", "type": "header:X-GitHub-Event",
                  "split": "dotted", "subject": ["/repository/id"], "data": ""}
    }
  },
  "endpoints": {
    "altoviz": {"provider": "altoviz", "secrets": ["one", "two"]},
    "gh": {"provider": "gh", "secret": "three"}
  },
  "handlers": {
    "audit": {"type": "file", "path": "./var/events.jsonl", "fsync": true},
    "run": {"type": "exec", "command": ["/bin/cat"], "env": {"A": "b"}, "retry": {"attempts": 2}}
  },
  "routes": [
    {"to": ["audit"]},
    {"match": {"endpoint": "altoviz", "type": "invoice.*"}, "to": ["run"]}
  ]
})";
  const config from_yaml = load_text(yaml, "hookd.yaml", format::yaml);
  const config from_json = load_text(json, "hookd.json", format::json);
  const config detected = load_text(json, "hookd.conf");  // by content
  CHECK(describe(from_yaml) == describe(from_json));
  CHECK(describe(detected) == describe(from_json));
  CHECK(from_json.server.max_body == 2U * 1024U * 1024U);
  CHECK(endpoint(from_json, "altoviz").credentials == std::vector<std::string>{"one", "two"});

  // And load_file picks the syntax by extension.
  temp_dir dir;
  const config yaml_file = load_file(dir.write("a.yml", yaml));
  const config json_file = load_file(dir.write("a.json", json));
  CHECK(describe(yaml_file) == describe(json_file));
  CHECK(json_file.file == dir / "a.json");
}

TEST_CASE("a YAML flow mapping is not mistaken for JSON", "[config][json]") {
  const config cfg = load_text("{dispatch: {workers: 7}}", "hookd.conf");
  CHECK(cfg.dispatch.workers == 7);
}

TEST_CASE("JSON also takes integers for sizes and counts", "[config][json]") {
  const config cfg = load_text(
      R"({"server": {"max_body": 4096, "max_header": "8KiB", "threads": 2, "max_connections": 5},
          "handlers": {"x": {"type": "exec", "command": ["/bin/true"], "max_output": 100,
                             "concurrency": 2}}})",
      "hookd.json");
  CHECK(cfg.server.max_body == 4096);
  CHECK(cfg.server.max_header == 8192);
  CHECK(cfg.server.threads == 2);
  CHECK(cfg.server.max_connections == 5);
  const auto& x = std::get<exec_handler>(cfg.handlers.at(0).kind);
  CHECK(x.max_output == 100);
  CHECK(x.concurrency == 2);
}

TEST_CASE("credentials from environment variables", "[config][secrets]") {
  scoped_env secret("HOOKD_TEST_ALTOVIZ_SECRET", "from-env-secret");
  const config cfg = load_text(R"(
endpoints:
  altoviz: {provider: altoviz, secret: {env: HOOKD_TEST_ALTOVIZ_SECRET}}
)",
                               "hookd.yaml");
  CHECK(endpoint(cfg, "altoviz").credentials == std::vector<std::string>{"from-env-secret"});
}

TEST_CASE("credentials::skip validates everything but reads no credential", "[config][secrets]") {
  scoped_env unset("HOOKD_TEST_UNSET_SECRET", nullptr);
  const std::string endpoints = R"(
spool: {path: /srv/hookd/spool.db}
endpoints:
  altoviz: {provider: altoviz, secret: {env: HOOKD_TEST_UNSET_SECRET}}
  offerte: {provider: offerte-adviseur, secret: {file: /nonexistent/offerte.key}}
  weavy: {provider: weavy, tokens: ["literal-token", {env: HOOKD_TEST_UNSET_SECRET}]}
)";
  // Resolving, as run and check do: both references fail.
  CHECK(problems_of(endpoints, "hookd.yaml").size() == 3);

  const config cfg = load_text(endpoints, "hookd.yaml", format::detect, credentials::skip);
  CHECK(cfg.spool.path == "/srv/hookd/spool.db");
  CHECK(cfg.endpoints.size() == 3);
  for (const auto& e : cfg.endpoints) {
    CAPTURE(e.name);
    CHECK(e.credentials.empty());  // not even the literal one
  }

  // Everything else is still checked, credential forms included, every problem named.
  const std::string broken = R"(
server: {thread: 2}
endpoints:
  altoviz: {provider: altoviz, secret: {env: "NOT-A-NAME"}}
  offerte: {provider: offerte-adviseur}
  weavy: {provider: weavy, token: ""}
)";
  try {
    (void)load_text(broken, "hookd.yaml", format::detect, credentials::skip);
    FAIL("no config_error");
  } catch (const config_error& e) {
    const auto& p = e.problems();
    REQUIRE(p.size() == 4);
    CHECK_THAT(p[0], StartsWith("hookd.yaml: server.thread: unknown key"));
    CHECK_THAT(p[1], StartsWith("hookd.yaml: endpoints.altoviz.secret.env: \"NOT-A-NAME\" is not "
                                "a valid environment variable name"));
    CHECK_THAT(p[2], StartsWith("hookd.yaml: endpoints.offerte: provider offerte-adviseur "
                                "verifies with an hmac signature and needs `secret`"));
    CHECK(p[3] == "hookd.yaml: endpoints.weavy.token: is empty");
  }
}

TEST_CASE("credentials from files lose one trailing newline only", "[config][secrets]") {
  temp_dir dir;
  dir.write("lf.key", "file-secret-1\n");
  dir.write("crlf.key", "file-secret-2\r\n");
  dir.write("plain.key", "file-secret-3");
  dir.write("two.key", "file-secret-4\n\n");
  const std::string text = "endpoints:\n  altoviz:\n    provider: altoviz\n    secrets:\n" +
                           std::string("      - {file: ") + (dir / "lf.key").string() + "}\n" +
                           "      - {file: " + (dir / "crlf.key").string() + "}\n" +
                           "      - {file: " + (dir / "plain.key").string() + "}\n" +
                           "      - {file: " + (dir / "two.key").string() + "}\n";
  const config cfg = load_text(text, "hookd.yaml");
  CHECK(endpoint(cfg, "altoviz").credentials ==
        std::vector<std::string>{"file-secret-1", "file-secret-2", "file-secret-3",
                                 "file-secret-4\n"});
}

TEST_CASE("rotation: the plural key lists several credentials of any form", "[config][secrets]") {
  scoped_env next("HOOKD_TEST_NEXT_TOKEN", "next-token");
  temp_dir dir;
  dir.write("old.token", "old-token\n");
  const std::string text = "endpoints:\n  weavy:\n    provider: weavy\n    tokens:\n" +
                           std::string("      - current-token\n") +
                           "      - {env: HOOKD_TEST_NEXT_TOKEN}\n" +
                           "      - {file: " + (dir / "old.token").string() + "}\n";
  const config cfg = load_text(text, "hookd.yaml");
  CHECK(endpoint(cfg, "weavy").credentials ==
        std::vector<std::string>{"current-token", "next-token", "old-token"});

  const config api =
      load_text("endpoints:\n  at: {provider: alphatouch, api_keys: [k1, k2]}\n", "hookd.yaml");
  CHECK(endpoint(api, "at").credentials == std::vector<std::string>{"k1", "k2"});
}

TEST_CASE("credential_key names each scheme's key", "[config]") {
  CHECK(std::string(credential_key(hmac_scheme{})) == "secret");
  CHECK(std::string(credential_key(token_scheme{})) == "token");
  CHECK(std::string(credential_key(body_field_scheme{})) == "api_key");
  CHECK(std::string(credential_key(no_scheme{})).empty());
}

TEST_CASE("a missing config file is reported with its name", "[config]") {
  temp_dir dir;
  const auto missing = dir / "nope.yaml";
  try {
    load_file(missing);
    FAIL("no error");
  } catch (const config_error& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0] == missing.string() + ": cannot open: No such file or directory");
  }
  try {
    load_file(dir.path());
    FAIL("no error");
  } catch (const config_error& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0] == dir.path().string() + ": is a directory");
  }
}

TEST_CASE("config_error's what() holds every problem, one per line", "[config]") {
  try {
    load_text("bogus: 1\nother: 2\n", "x.yaml");
    FAIL("no error");
  } catch (const config_error& e) {
    REQUIRE(e.problems().size() == 2);
    CHECK(std::string(e.what()) == e.problems()[0] + "\n" + e.problems()[1]);
  }
}

TEST_CASE("YAML scalars follow the YAML 1.2 core schema", "[config]") {
  // `off` and `yes` are strings (YAML 1.1 made them booleans); `true` is a boolean.
  const config cfg = load_text(
      "log: {level: off}\nhandlers:\n  f: {type: file, path: yes, fsync: true}\n", "hookd.yaml");
  CHECK(cfg.log.level == "off");
  CHECK(std::get<file_handler>(cfg.handlers.at(0).kind).path == "yes");
  CHECK(std::get<file_handler>(cfg.handlers.at(0).kind).fsync);
  // A quoted number is a string.
  const config quoted =
      load_text("endpoints:\n  a: {provider: altoviz, secret: \"12345\"}\n", "hookd.yaml");
  CHECK(quoted.endpoints.at(0).credentials == std::vector<std::string>{"12345"});
}

TEST_CASE("a section with nothing under it takes its defaults", "[config]") {
  const config cfg = load_text(
      "server:\n  # nothing yet\nspool:\ndispatch:\nlog:\nproviders:\nendpoints:\nhandlers:\n"
      "routes:\n",
      "hookd.yaml");
  CHECK(cfg.server.listen == std::vector<std::string>{"127.0.0.1:8080"});
  CHECK(cfg.dispatch.workers == 4);
  CHECK(cfg.endpoints.empty());
}

TEST_CASE("the example's commented-out provider is valid once uncommented", "[config]") {
  // The example shows a custom provider in comments; uncommented (as a reader would), the config
  // must still load.
  std::istringstream in(hookd::test::read_file(std::filesystem::path(HOOKD_SOURCE_DIR) / "config" /
                                               "hookd.example.yaml"));
  std::string out;
  std::string line;
  enum class block { none, provider } mode = block::none;
  auto starts = [&line](std::string_view prefix) { return line.rfind(prefix, 0) == 0; };
  while (std::getline(in, line)) {
    if (starts("providers: {}")) {
      line = "providers:";
      mode = block::provider;
    } else if (mode == block::provider && starts("#   ")) {
      line = "  " + line.substr(4);
    } else if (!starts("#")) {
      mode = block::none;
    }
    out += line + "\n";
  }
  const config cfg = load_text(out, "uncommented.yaml");
  CHECK(cfg.providers.count("github") == 1);
  CHECK(std::get<hmac_scheme>(cfg.providers.at("github").verify).prefix == "sha256=");
  const mapping& m = cfg.providers.at("github").map;
  CHECK(m.subject_required);
  CHECK_FALSE(m.data_required);
  REQUIRE(m.subject_by_type.count("pull_request.opened") == 1);
  CHECK(m.subject_by_type.at("pull_request.opened").front().name == "/pull_request/number");
}

TEST_CASE("admin.listen: an address, a list, or unset (off)", "[config]") {
  CHECK(load_text("admin: {listen: \"127.0.0.1:0\"}\n", "hookd.yaml").admin.listen ==
        std::vector<std::string>{"127.0.0.1:0"});
  CHECK(load_text("admin:\n  listen: [\"127.0.0.1:9090\", \"[::1]:9090\"]\n", "hookd.yaml")
            .admin.listen == std::vector<std::string>{"127.0.0.1:9090", "[::1]:9090"});
  // A section with nothing under it keeps the default.
  CHECK(load_text("admin:\n", "hookd.yaml").admin.listen ==
        std::vector<std::string>{"127.0.0.1:9090"});
  for (const char* off : {"admin:\n  listen:\n", "admin: {listen: ~}\n", "admin: {listen: \"\"}\n",
                          "admin: {listen: []}\n", R"({"admin": {"listen": null}})"}) {
    INFO(off);
    CHECK(load_text(off, "hookd.yaml").admin.listen.empty());
  }
}
