// hookd as a service, through the real binary: sd_notify over a real AF_UNIX datagram socket
// (READY, RELOADING, STOPPING, WATCHDOG), socket activation with a socket passed as fd 3, reload
// on SIGHUP under load, /metrics and /readyz on the admin listener, JSON logs.

#include <arpa/inet.h>
#include <atomic>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "fixture.hpp"
#include "notify_socket.hpp"
#include "tmpfs_mount.hpp"

using namespace std::chrono_literals;
using namespace hookd;
using namespace hookd::it;

namespace {

std::string event_body(const std::string& id) {
  return R"({"id":")" + id + R"(","type":"CustomerCreated","data":{"id":370}})";
}

std::optional<test::http_response> get(std::uint16_t port, const std::string& target) {
  return test::send_request(port, test::make_request("GET", target), 10s);
}

/// The next datagram that is not a bare STATUS= update (those come whenever the summary changes),
/// or nullopt after `timeout_ms`.
std::optional<std::string> next_notice(test::notify_socket& n, int timeout_ms = 10000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return std::nullopt;
    auto d = n.next(static_cast<int>(left));
    if (!d) return std::nullopt;
    if (d->rfind("STATUS=", 0) != 0) return d;
  }
}

/// A listening TCP socket on 127.0.0.1 with a kernel-chosen port; closed on destruction.
class listening_socket {
 public:
  listening_socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 128) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~listening_socket() { ::close(fd_); }
  listening_socket(const listening_socket&) = delete;
  listening_socket& operator=(const listening_socket&) = delete;
  int fd() const noexcept { return fd_; }
  std::uint16_t port() const noexcept { return port_; }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

/// The fixture's config with `server.threads` set and extra top-level keys appended.
std::string config_text(const test::temp_dir& dir, const std::string& extra = {},
                        unsigned threads = 2) {
  std::string text = make_config(dir);
  const std::string two = "  threads: 2\n";
  text.replace(text.find(two), two.size(), "  threads: " + std::to_string(threads) + "\n");
  return text + extra;
}

// ---- a small parser of the Prometheus text exposition format 0.0.4 --------------------------

struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct exposition {
  std::vector<sample> samples;
  std::map<std::string, std::string> types;  // family name -> counter|gauge|histogram
  std::vector<std::string> errors;

  /// The value of the one sample with this name and these labels; nullopt when absent.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  }
};

exposition parse_metrics(const std::string& text) {
  exposition out;
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex line(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN))");
  static const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?)re");
  if (text.empty() || text.back() != '\n') out.errors.emplace_back("no final newline");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (l.rfind("# HELP ", 0) == 0) {
      if (!std::regex_match(l, help)) out.errors.push_back("bad HELP: " + l);
    } else if (l.rfind("# TYPE ", 0) == 0) {
      if (!std::regex_match(l, m, type)) {
        out.errors.push_back("bad TYPE: " + l);
      } else if (!out.types.emplace(m[1], m[2]).second) {
        out.errors.push_back("TYPE twice: " + l);
      }
    } else if (std::regex_match(l, m, line)) {
      sample s;
      s.name = m[1];
      s.value = m[4] == "+Inf" ? INFINITY : std::stod(m[4]);
      std::string labels = m[3];
      for (std::sregex_iterator it(labels.begin(), labels.end(), label), end; it != end; ++it) {
        s.labels[(*it)[1]] = (*it)[2];
      }
      out.samples.push_back(std::move(s));
    } else {
      out.errors.push_back("bad line: " + l);
    }
  }
  return out;
}

exposition scrape(std::uint16_t admin_port) {
  const auto r = get(admin_port, "/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  return parse_metrics(r->body);
}

}  // namespace

TEST_CASE("sd_notify: READY=1, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM",
          "[service]") {
  test::temp_dir dir;
  test::notify_socket manager;
  const auto config = dir.write("hookd.yaml", config_text(dir));
  test::spawn_options opts;
  opts.env = {{"NOTIFY_SOCKET", manager.path()}};
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log", opts);
  INFO(h.log());

  const auto ready = next_notice(manager);
  REQUIRE(ready);
  CHECK(ready->rfind("READY=1\nSTATUS=accepted 0, pending 0, dead 0", 0) == 0);
  // Ready means serving.
  const auto healthz = get(h.port(), "/healthz");
  REQUIRE(healthz);
  CHECK(healthz->status == 200);

  // A reload, even of an unchanged file, is announced.
  h.process().signal(SIGHUP);
  const auto reloading = next_notice(manager);
  REQUIRE(reloading);
  CHECK(reloading->rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  const auto reloaded = next_notice(manager);
  REQUIRE(reloaded);
  CHECK(reloaded->rfind("READY=1", 0) == 0);

  // A failed reload also ends with READY=1: the old config serves on.
  dir.write("hookd.yaml", "server: {listen: [\n");
  h.process().signal(SIGHUP);
  const auto reloading2 = next_notice(manager);
  REQUIRE(reloading2);
  CHECK(reloading2->rfind("RELOADING=1", 0) == 0);
  const auto reloaded2 = next_notice(manager);
  REQUIRE(reloaded2);
  CHECK(reloaded2->rfind("READY=1", 0) == 0);
  CHECK(h.process().wait_for_line("reload failed", 10s));

  h.process().signal(SIGTERM);
  const auto stopping = next_notice(manager);
  REQUIRE(stopping);
  CHECK(stopping->rfind("STOPPING=1", 0) == 0);
  const auto code = h.process().wait_exit(30s);
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("sd_notify: a schema migration asks for more start-up time before READY=1", "[service]") {
  test::temp_dir dir;
  test::notify_socket manager;
  const auto config = dir.write("hookd.yaml", config_text(dir));
  {
    // A spool of schema version 1 (tests/spool/data/spool_v1.sql, written by hookd 827245c).
    const auto dump =
        test::read_file(std::filesystem::path(HOOKD_SOURCE_DIR) / "tests/spool/data/spool_v1.sql");
    REQUIRE(!dump.empty());
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir / "hookd.db").c_str(), &db) == SQLITE_OK);
    const int rc = sqlite3_exec(db, dump.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }
  test::spawn_options opts;
  opts.env = {{"NOTIFY_SOCKET", manager.path()}};
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log", opts);
  INFO(h.log());

  // The extension comes first (TimeoutStartSec would otherwise apply to the whole migration),
  // then READY=1 once it has committed.
  const auto extend = next_notice(manager);
  REQUIRE(extend);
  CHECK(*extend == "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=migrating the spool's schema");
  std::optional<std::string> ready;
  do {
    ready = next_notice(manager);
  } while (ready && ready->rfind("EXTEND_TIMEOUT_USEC=", 0) == 0);
  REQUIRE(ready);
  CHECK(ready->rfind("READY=1", 0) == 0);
  CHECK(h.process().wait_for_line("migrated to schema version", 10s));
  stop_cleanly(h);
}

TEST_CASE("watchdog: WATCHDOG=1 at half of WATCHDOG_USEC, none while the io loop is blocked",
          "[service]") {
  test::temp_dir dir;
  test::notify_socket manager;
  // Two io threads, and the test hook blocks one of them: a single stuck io thread (which
  // would hang every connection dealt to it) stops the pings as surely as a stuck process.
  const auto config = dir.write("hookd.yaml", config_text(dir, {}, 2));
  test::spawn_options opts;
  opts.env = {{"NOTIFY_SOCKET", manager.path()},
              {"WATCHDOG_USEC", "400000"},  // pings expected every 200 ms
              {"HOOKD_TEST_FREEZE_IO_ON_SIGUSR2", "6s"}};
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log", opts);
  INFO(h.log());
  REQUIRE(next_notice(manager));  // READY=1

  // About 15 pings in 3 s; the bounds leave room for a busy machine (a starved supervisor pings
  // less often, never more).
  int pings = 0;
  const auto window_end = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < window_end) {
    const auto d = manager.next(50);
    if (d && *d == "WATCHDOG=1") ++pings;
  }
  CHECK(pings >= 3);
  CHECK(pings <= 20);

  // Blocked io loop (for 6 s from the line below): after the pings already on their way,
  // silence. The window stays well inside the 6 s even if this process is slow to look.
  h.process().signal(SIGUSR2);
  REQUIRE(h.process().wait_for_line("test hook: blocking 1 io thread(s) of 2", 5s));
  const auto frozen_at = std::chrono::steady_clock::now();
  const auto settle_end = frozen_at + 600ms;
  while (std::chrono::steady_clock::now() < settle_end)
    manager.next(50);
  int while_frozen = 0;
  const auto frozen_end = frozen_at + 3s;
  while (std::chrono::steady_clock::now() < frozen_end) {
    const auto d = manager.next(50);
    if (d && *d == "WATCHDOG=1") ++while_frozen;
  }
  CHECK(while_frozen == 0);

  // Unblocked: the pings resume.
  bool resumed = false;
  const auto resume_end = std::chrono::steady_clock::now() + 10s;
  while (!resumed && std::chrono::steady_clock::now() < resume_end) {
    const auto d = manager.next(100);
    resumed = d && *d == "WATCHDOG=1";
  }
  CHECK(resumed);
  stop_cleanly(h);
}

TEST_CASE("socket activation: serves the socket passed as fd 3, a restart refuses no connection",
          "[service]") {
  test::temp_dir dir;
  listening_socket sock;
  // server.listen names an address this machine does not have: binding it would fail, so the
  // daemon serving at all shows it used the inherited socket instead.
  std::string text = config_text(dir);
  const std::string listen = "  listen: \"127.0.0.1:0\"\n";
  text.replace(text.find(listen), listen.size(), "  listen: \"192.0.2.1:8080\"\n");
  const auto config = dir.write("hookd.yaml", text);
  test::spawn_options opts;
  opts.listen_fd = sock.fd();

  {
    test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log", opts);
    INFO(h.log());
    CHECK(h.port() == sock.port());
    CHECK(h.process().wait_for_line("socket activation: serving on 1 inherited socket(s)", 1s));
    const auto r = test::send_request(sock.port(), altoviz_request(event_body("sa-1")));
    REQUIRE(r);
    CHECK(r->status == 200);
    stop_cleanly(h);
  }

  // hookd is down, the socket is not: a provider's connection waits in the kernel's queue.
  test::raw_connection waiting(sock.port());
  REQUIRE(waiting.send(altoviz_request(event_body("sa-2"))));

  test::hookd_process again(HOOKD_BINARY, config, dir / "hookd2.log", opts);
  INFO(again.log());
  const auto queued = waiting.read_response(20s);
  REQUIRE(queued);
  CHECK(queued->status == 200);
  CHECK(queued->body == R"({"status":"accepted","id":"sa-2"})");
  stop_cleanly(again);
}

TEST_CASE("reload on SIGHUP: endpoints come and go, a bad config is refused, no request fails",
          "[service]") {
  test::temp_dir dir;
  const std::string extra_endpoint =
      "  extra: {provider: altoviz, secret: \"" + altoviz_secret + "\"}\n";
  auto with_extra = [&](bool extra) {
    std::string text = config_text(dir);
    if (extra) {
      const std::string anchor = "endpoints:\n";
      text.insert(text.find(anchor) + anchor.size(), extra_endpoint);
    }
    return text;
  };
  const auto config = dir.write("hookd.yaml", with_extra(false));
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
  INFO(h.log());

  // A client keeps sending to the endpoint every config has, over one keep-alive connection,
  // until told to stop (bounded in count and time).
  std::atomic<bool> done{false};
  std::atomic<int> sent{0}, ok{0};
  std::vector<std::string> failures;
  std::thread client([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::optional<test::raw_connection> conn;
    for (int i = 0; i < 20000 && !done.load() && std::chrono::steady_clock::now() < deadline; ++i) {
      if (!conn) conn.emplace(h.port());
      ++sent;
      const auto r = conn->send(altoviz_request(event_body("load-" + std::to_string(i))))
                         ? conn->read_response(10s)
                         : std::nullopt;
      if (r && r->status == 200) {
        ++ok;
      } else {
        failures.push_back(r ? std::to_string(r->status) + " " + r->body : "no answer");
        conn.reset();
      }
    }
  });
  auto reload_and_wait = [&](const std::string& marker) {
    const auto before = h.log();
    h.process().signal(SIGHUP);
    return eventually([&] {
      const auto log = h.log();
      return log.size() > before.size() && log.find(marker, before.size()) != std::string::npos;
    });
  };
  int extra_id = 0;
  auto post_extra = [&] {
    const auto body = event_body("x-" + std::to_string(++extra_id));
    const auto r = test::send_request(
        h.port(),
        post("/hooks/extra", body, {{"X-SIGNATURE", test::hmac_sha256_hex(altoviz_secret, body)}}));
    return r ? r->status : 0;
  };

  REQUIRE(eventually([&] { return ok.load() > 20; }));
  CHECK(post_extra() == 404);

  dir.write("hookd.yaml", with_extra(true));
  REQUIRE(reload_and_wait("reload: applied"));
  CHECK(post_extra() == 200);

  dir.write("hookd.yaml", with_extra(false));
  REQUIRE(reload_and_wait("reload: applied"));
  CHECK(post_extra() == 404);

  dir.write("hookd.yaml", with_extra(true) + "bogus_key: 1\n");
  REQUIRE(reload_and_wait("reload failed"));
  CHECK(h.log().find("bogus_key: unknown key") != std::string::npos);
  CHECK(post_extra() == 404);  // the old config stays in force

  const int before_stop = ok.load();
  REQUIRE(eventually([&] { return ok.load() > before_stop + 20; }));
  done = true;
  client.join();
  INFO("failures: " << failures.size());
  CHECK(failures.empty());
  CHECK(ok.load() == sent.load());

  const auto m = scrape(h.admin_port());
  CHECK(m.value("hookd_reloads_total", {{"result", "ok"}}) == 2);
  CHECK(m.value("hookd_reloads_total", {{"result", "failed"}}) == 1);
  stop_cleanly(h);
}

TEST_CASE("/metrics: the backlog gauges follow the spool, counted by a thread of their own",
          "[service]") {
  test::temp_dir dir;
  // A second handler that always fails, with one attempt: its delivery goes dead at once.
  std::string text = config_text(dir);
  const std::string routes = "routes:\n  - to: [audit]\n";
  REQUIRE(text.find(routes) != std::string::npos);
  text.replace(text.find(routes), routes.size(),
               "  hook: {type: exec, command: [\"/bin/false\"], retry: {attempts: 1}}\n"
               "routes:\n  - to: [audit, hook]\n");
  const auto config = dir.write("hookd.yaml", text);
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
  INFO(h.log());
  REQUIRE(h.admin_port() != 0);

  auto r = test::send_request(h.port(), altoviz_request(event_body("g-1")));
  REQUIRE((r && r->status == 200));
  REQUIRE(eventually([&] {
    const auto m = scrape(h.admin_port());
    return m.value("hookd_deliveries_dead", {{"handler", "hook"}}) == 1;
  }));
  const auto m = scrape(h.admin_port());
  CHECK(m.value("hookd_deliveries_pending", {{"handler", "hook"}}) == 0);
  CHECK(m.value("hookd_deliveries_pending", {{"handler", "audit"}}) == 0);
  CHECK(m.value("hookd_deliveries_dead", {{"handler", "audit"}}) == 0);
  CHECK(m.value("hookd_deliveries_total", {{"handler", "hook"}, {"outcome", "dead"}}) == 1);
  // The thread is named for `top -H` (docs/operations.md) and stops with the daemon.
  bool named = false;
  for (const auto& task : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(h.process().pid()) + "/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    named = named || name == "hookd-backlog";
  }
  CHECK(named);
  stop_cleanly(h);
}

TEST_CASE("/metrics: valid exposition format, counters follow the traffic", "[service]") {
  running_hookd h;
  INFO(h.log());
  REQUIRE(h.hookd.admin_port() != 0);

  const auto first = scrape(h.hookd.admin_port());
  INFO(first.errors.size() << " format errors, first: "
                           << (first.errors.empty() ? "" : first.errors.front()));
  CHECK(first.errors.empty());
  CHECK(first.types.at("hookd_http_requests_total") == "counter");
  CHECK(first.types.at("hookd_http_request_duration_seconds") == "histogram");
  CHECK(first.types.at("hookd_deliveries_pending") == "gauge");
  CHECK(first.value("hookd_build_info", {{"version", HOOKD_VERSION}}) == 1);
  CHECK_FALSE(first.value("hookd_events_accepted_total", {{"endpoint", "altoviz"}}));
  // Every configured handler's backlog gauges exist from the start, at 0.
  CHECK(first.value("hookd_deliveries_pending", {{"handler", "audit"}}) == 0);
  CHECK(first.value("hookd_deliveries_dead", {{"handler", "audit"}}) == 0);

  // One accepted, one duplicate, one refused signature.
  auto r = test::send_request(h.port(), altoviz_request(event_body("m-1")));
  REQUIRE((r && r->status == 200));
  r = test::send_request(h.port(), altoviz_request(event_body("m-1")));
  REQUIRE((r && r->status == 200));
  r = test::send_request(
      h.port(), post("/hooks/altoviz", event_body("m-2"), {{"X-SIGNATURE", std::string(64, '0')}}));
  REQUIRE((r && r->status == 401));

  REQUIRE(eventually([&] {
    const auto m = scrape(h.hookd.admin_port());
    return m.value("hookd_deliveries_total", {{"handler", "audit"}, {"outcome", "done"}}) == 1;
  }));
  const auto m = scrape(h.hookd.admin_port());
  CHECK(m.errors.empty());
  CHECK(m.value("hookd_events_accepted_total", {{"endpoint", "altoviz"}}) == 1);
  CHECK(m.value("hookd_events_duplicate_total", {{"endpoint", "altoviz"}}) == 1);
  CHECK(m.value("hookd_http_requests_total", {{"endpoint", "altoviz"}, {"status", "200"}}) == 2);
  CHECK(m.value("hookd_http_requests_total", {{"endpoint", "altoviz"}, {"status", "401"}}) == 1);
  CHECK(m.value("hookd_verification_failures_total",
                {{"endpoint", "altoviz"}, {"reason", "bad_signature"}}) == 1);
  CHECK(m.value("hookd_http_request_duration_seconds_count", {{"endpoint", "altoviz"}}) == 3);
  CHECK(m.value("hookd_handler_duration_seconds_count", {{"handler", "audit"}}) == 1);
  CHECK(m.value("hookd_spool_commit_batch_size_count") >= 1);
  CHECK(m.value("hookd_spool_commit_duration_seconds_count") >= 1);
  // Histogram buckets are cumulative and end with +Inf == _count.
  double last = 0;
  for (const auto& s : m.samples) {
    if (s.name != "hookd_http_request_duration_seconds_bucket") continue;
    CHECK(s.value >= last);
    last = s.value;
    if (s.labels.at("le") == "+Inf") CHECK(s.value == 3);
  }
  // A probe of a random /hooks/ name does not become a label value.
  r = test::send_request(h.port(), post("/hooks/no-such-thing", "{}"));
  REQUIRE((r && r->status == 404));
  const auto after = scrape(h.hookd.admin_port());
  CHECK(after.value("hookd_http_requests_total", {{"endpoint", ""}, {"status", "404"}}) == 1);
  for (const auto& s : after.samples) {
    if (s.labels.count("endpoint") != 0) CHECK(s.labels.at("endpoint") != "no-such-thing");
  }
  // The admin listener answers only its own paths, and the public one never serves them.
  const auto on_public = get(h.port(), "/metrics");
  REQUIRE(on_public);
  CHECK(on_public->status == 404);
  const auto unknown = get(h.hookd.admin_port(), "/hooks/altoviz");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
}

TEST_CASE("/readyz: 503 while the spool's filesystem takes no writes, 200 again after",
          "[service]") {
  test::temp_dir dir;
  std::string why;
  auto mnt = test::tmpfs_mount::make(dir / "small", "2m", false, why);
  if (!mnt) {
    WARN("not run: " << why << " (needs root or CAP_SYS_ADMIN)");
    return;
  }
  std::string text = config_text(dir);
  const std::string spool = (dir / "hookd.db").string();
  text.replace(text.find(spool), spool.size(), (dir / "small" / "hookd.db").string());
  const auto config = dir.write("hookd.yaml", text);
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
  INFO(h.log());
  REQUIRE(eventually([&] {
    const auto r = get(h.admin_port(), "/readyz");
    return r && r->status == 200;
  }));

  // Fill the filesystem.
  const auto filler = dir / "small" / "filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(64 << 10, 'x');
    for (int i = 0; i < 64 && out; ++i)
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
  std::optional<test::http_response> not_ready;
  REQUIRE(eventually([&] {
    not_ready = get(h.admin_port(), "/readyz");
    return not_ready && not_ready->status == 503;
  }));
  CHECK(not_ready->body.find("spool not writable") != std::string::npos);
  CHECK(not_ready->header("Retry-After"));
  // Liveness is another question: hookd is alive.
  const auto healthz = get(h.admin_port(), "/healthz");
  REQUIRE(healthz);
  CHECK(healthz->status == 200);

  std::filesystem::remove(filler);
  CHECK(eventually([&] {
    const auto r = get(h.admin_port(), "/readyz");
    return r && r->status == 200;
  }));
  stop_cleanly(h);
}

TEST_CASE("log.format json: one object per line, stable fields, no credential", "[service]") {
  test::temp_dir dir;
  std::string text = config_text(dir);
  const std::string debug = "  level: debug\n";
  text.replace(text.find(debug), debug.size(), "  level: debug\n  format: json\n");
  const auto config = dir.write("hookd.yaml", text);
  test::hookd_process h(HOOKD_BINARY, config, dir / "hookd.log");
  // A request whose id and subject hold quotes and control characters.
  const std::string body = R"({"id":"q\"uote\u0001","type":"CustomerCreated","data":{"id":370}})";
  auto r = test::send_request(h.port(), altoviz_request(body));
  REQUIRE((r && r->status == 200));
  r = test::send_request(h.port(), post("/hooks/weavy/NewCustomer?token=" + weavy_token,
                                        R"({"result":{"codecustomer":"C1"}})"));
  REQUIRE((r && r->status == 200));
  REQUIRE(eventually([&] {
    return h.log().find(R"("reason":"accepted","id":"q\"uote\\x01")") != std::string::npos;
  }));
  stop_cleanly(h);

  std::istringstream lines(h.log());
  int requests = 0;
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    const json j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j.contains("time"));
    CHECK(j.contains("level"));
    CHECK(j.contains("msg"));
    if (j["msg"] == "request") {
      ++requests;
      for (const char* field :
           {"method", "route", "endpoint", "status", "reason", "id", "ms", "peer"}) {
        CHECK(j.contains(field));
      }
      CHECK(j["status"].is_number());
      CHECK(j["ms"].is_number());
    }
    // The secrets and the token never appear, not even the token from the URL.
    CHECK(line.find(altoviz_secret) == std::string::npos);
    CHECK(line.find(weavy_token) == std::string::npos);
  }
  CHECK(requests == 2);
}
