// `hookd run`: the daemon. Builds the pipeline from the config, opens the spool, starts the
// dispatcher and the server, and runs a supervisor thread beside them for what is neither
// request nor delivery: the service manager (READY, WATCHDOG, STATUS, STOPPING), reloads on
// SIGHUP and the spool's health probe; a thread of its own counts the backlog for the gauges.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <hookd/config/loader.hpp>
#include <hookd/core/thread_name.hpp>
#include <hookd/core/units.hpp>
#include <hookd/http/server.hpp>
#include <hookd/metrics/metrics.hpp>
#include <hookd/systemd/notify.hpp>

#include "commands.hpp"
#include "logging.hpp"
#include "runtime.hpp"
#include "telemetry.hpp"

namespace hookd::cli {

namespace {

using steady = std::chrono::steady_clock;

const char* handler_type(const config::handler_kind& kind) {
  if (std::holds_alternative<config::log_handler>(kind)) return "log";
  if (std::holds_alternative<config::file_handler>(kind)) return "file";
  return "exec";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ", ";
    out += i;
  }
  return out.empty() ? "(none)" : out;
}

/// A test hook, off unless the variable is set: SIGUSR2 blocks every io thread for the given
/// duration, so a test can see the watchdog stop while the io loop is stuck.
constexpr const char* freeze_variable = "HOOKD_TEST_FREEZE_IO_ON_SIGUSR2";
volatile std::sig_atomic_t freeze_requested = 0;
extern "C" void on_sigusr2(int) {
  freeze_requested = 1;
}

std::vector<std::string> handler_names(const config::config& cfg) {
  std::vector<std::string> names;
  for (const auto& h : cfg.handlers)
    names.push_back(h.name);
  return names;
}

/// The config keys a reload cannot apply: they need a restart. Each changed one is logged.
std::vector<std::string> restart_only_changes(const config::config& running,
                                              const config::config& next) {
  std::vector<std::string> changed;
  const auto& a = running.server;
  const auto& b = next.server;
  if (a.listen != b.listen) {
    changed.push_back("server.listen (running: " + join(a.listen) +
                      "; in the file: " + join(b.listen) + ")");
  }
  if (a.threads != b.threads) changed.emplace_back("server.threads");
  if (a.max_body != b.max_body) changed.emplace_back("server.max_body");
  if (a.max_header != b.max_header) changed.emplace_back("server.max_header");
  if (a.max_connections != b.max_connections) changed.emplace_back("server.max_connections");
  if (a.request_timeout != b.request_timeout) changed.emplace_back("server.request_timeout");
  if (a.idle_timeout != b.idle_timeout) changed.emplace_back("server.idle_timeout");
  if (a.shutdown_grace != b.shutdown_grace) changed.emplace_back("server.shutdown_grace");
  if (running.spool.path != next.spool.path) {
    changed.push_back("spool.path (running: " + running.spool.path +
                      "; in the file: " + next.spool.path + ")");
  }
  if (!(running.spool == next.spool) && running.spool.path == next.spool.path) {
    changed.emplace_back("spool (dedup_window, retention or max_backlog)");
  }
  if (running.admin.listen != next.admin.listen) {
    changed.push_back("admin.listen (running: " + join(running.admin.listen) +
                      "; in the file: " + join(next.admin.listen) + ")");
  }
  if (running.dispatch.workers != next.dispatch.workers) changed.emplace_back("dispatch.workers");
  return changed;
}

class daemon {
 public:
  explicit daemon(config::config cfg) : cfg_(std::move(cfg)), telemetry_(registry_) {}

  int run();

 private:
  // ---- the admin listener (io threads: quick, never blocking) --------------------------------
  http::answer admin(const http::inbound_request& in);
  http::answer readiness();

  // ---- the supervisor thread --------------------------------------------------------------
  void supervise();
  void tick(steady::time_point now);
  void watchdog(steady::time_point now);
  void reload();
  std::string status_text() const;
  void request(std::atomic<bool>& flag);

  // ---- the backlog thread -------------------------------------------------------------------
  /// Counts the backlog for the gauges and the status line until stop, paced by backlog_pause():
  /// a count's cost follows the backlog, and nothing else (the watchdog, reloads, /readyz's
  /// probe) waits for it.
  void count_backlog();

  config::config cfg_;  // the config in force; only the supervisor thread changes it (reload)
  metrics::registry registry_;
  telemetry telemetry_;
  runtime rt_;
  std::shared_ptr<http::endpoint_snapshot> endpoints_;
  std::unique_ptr<http::server> server_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> reload_requested_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};

  // Watchdog: a ping goes to the io loop and to the spool writer each tick; WATCHDOG=1 is sent
  // only when both answered the previous one.
  std::optional<std::chrono::microseconds> watchdog_interval_;
  std::uint64_t ping_sent_ = 0;
  std::atomic<std::uint64_t> io_ack_{0};
  /// The thread that runs server_->run(): the first io thread (the test hook spares it).
  std::thread::id first_io_thread_;
  std::atomic<std::uint64_t> writer_ack_{0};
  steady::time_point last_watchdog_{};
  bool missed_logged_ = false;
  std::string last_status_;
  std::optional<duration> freeze_for_;
};

int daemon::run() {
  // Socket activation first, before any thread exists (listen_fds reads and unsets variables).
  std::vector<systemd::listen_socket> inherited = systemd::listen_fds();
  watchdog_interval_ = systemd::watchdog_interval();
  // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread exists yet.
  if (const char* v = std::getenv(freeze_variable); v != nullptr && *v != '\0') {
    freeze_for_ = parse_duration(v);
    if (!freeze_for_) throw std::runtime_error(std::string(freeze_variable) + ": not a duration");
    std::signal(SIGUSR2, on_sigusr2);
    spdlog::warn("test hook {}: SIGUSR2 blocks the io threads for {}", freeze_variable, v);
  }

  telemetry_.handlers(handler_names(cfg_));
  runtime_hooks hooks;
  hooks.on_batch = [this](const spool::batch_info& b) { telemetry_.batch(b); };
  hooks.on_attempt = [this](std::string_view handler, std::string_view outcome, double seconds) {
    telemetry_.delivery(handler, outcome, seconds);
  };
  // A schema migration rebuilds indexes over the whole spool and may outlast TimeoutStartSec:
  // while it runs, ask the service manager for more time (migration_pace).
  hooks.on_migrating = [pace = migration_pace{}]() mutable {
    const auto by = pace.next(steady::now());
    if (!by) return;
    if (const auto ec = systemd::extend_timeout(*by, "migrating the spool's schema")) {
      spdlog::warn("sd_notify EXTEND_TIMEOUT_USEC: {}", ec.message());
    }
  };
  rt_ = build_runtime(cfg_, build_mode::run, hooks);
  for (const auto& ep : cfg_.endpoints) {
    spdlog::info("endpoint {}: POST /hooks/{} (provider {}{})", ep.name, ep.name, ep.provider,
                 ep.verify_none ? ", verify: none" : "");
  }
  for (const auto& h : cfg_.handlers) {
    spdlog::info("handler {}: {}", h.name, handler_type(h.kind));
  }

  http::server_options so;
  for (auto& s : inherited)
    so.inherited_fds.push_back(s.release());
  so.admin_listen = cfg_.admin.listen;
  so.admin = [this](const http::inbound_request& in) { return admin(in); };
  so.on_request = [this](const http::request_record& r) { telemetry_.request(r); };
  so.on_ready = [this] {
    ready_ = true;
    if (const auto ec = systemd::ready(status_text())) {
      spdlog::warn("sd_notify READY=1: {}", ec.message());
    }
    spdlog::info("ready: accepting requests");
    cv_.notify_all();  // the watchdog starts now
  };
  so.on_stopping = [this] {
    stopping_ = true;
    systemd::stopping("stopping");
  };
  so.on_reload = [this] { request(reload_requested_); };
  so.on_reopen = [this] { rt_.dispatcher->reopen(); };

  endpoints_ = std::make_shared<http::endpoint_snapshot>(rt_.parts.endpoints);
  // Declared after the dispatcher (inside rt_): destroyed first, after the dispatcher has run
  // every completion it was given (stop below).
  server_ = std::make_unique<http::server>(cfg_.server, endpoints_, *rt_.dispatcher, std::move(so));
  if (!inherited.empty()) {
    spdlog::info("socket activation: serving on {} inherited socket(s); server.listen is ignored",
                 inherited.size());
  }
  for (const auto& address : server_->addresses()) {
    spdlog::info("listening on {}", address.to_string());
  }
  for (const auto& address : server_->admin_addresses()) {
    spdlog::info("admin listener on {} (/healthz, /readyz, /metrics)", address.to_string());
  }

  // Set before the supervisor starts (which reads it): this thread runs server_->run().
  first_io_thread_ = std::this_thread::get_id();
  std::thread supervisor([this] {
    set_thread_name("hookd-supervise");
    supervise();
  });
  std::thread backlog;
  try {
    backlog = std::thread([this] {
      set_thread_name("hookd-backlog");
      count_backlog();
    });
  } catch (...) {  // no thread to be had: stop the supervisor before `this` goes away
    request(stop_requested_);
    supervisor.join();
    throw;
  }
  server_->run();
  request(stop_requested_);
  rt_.spool->cancel_reads();  // a count in progress ends now, not when the backlog is counted
  supervisor.join();
  backlog.join();

  spdlog::info("http server stopped; finishing deliveries in flight for up to {}",
               format_duration(cfg_.server.shutdown_grace));
  rt_.dispatcher->stop(cfg_.server.shutdown_grace);
  // Commits what is still queued and runs every append completion while the server (their
  // destination) still exists: http::server's lifetime contract.
  rt_.spool.reset();
  server_.reset();
  spdlog::info("stopped");
  return exit_ok;
}

void daemon::request(std::atomic<bool>& flag) {
  {
    std::lock_guard lock(mu_);
    flag = true;
  }
  cv_.notify_all();
}

// ---- admin ---------------------------------------------------------------------------------

http::answer daemon::admin(const http::inbound_request& in) {
  std::string_view path = in.target.substr(0, in.target.find('?'));
  const bool known = path == "/healthz" || path == "/readyz" || path == "/metrics";
  if (!known) return http::not_found();
  // HEAD: GET's answer, whose body the session leaves out.
  if (in.method != "GET" && in.method != "HEAD") return http::method_not_allowed("GET, HEAD");
  if (path == "/healthz") return http::healthy();
  if (path == "/readyz") return readiness();
  http::answer a;
  a.status = 200;
  a.reason = "metrics";
  a.content_type = std::string(metrics::content_type);
  a.body = registry_.render();
  return a;
}

http::answer daemon::readiness() {
  std::vector<std::string> problems;
  if (!ready_.load()) problems.emplace_back("starting");
  if (stopping_.load() || !server_->accepting()) problems.emplace_back("not accepting");
  if (!rt_.spool->writable()) problems.emplace_back("spool not writable");
  if (problems.empty()) {
    http::answer a = http::healthy();
    a.reason = "ready";
    return a;
  }
  http::answer a = http::error_answer(503, "not_ready", join(problems));
  a.headers.emplace_back("Retry-After", "5");
  return a;
}

// ---- supervisor ------------------------------------------------------------------------------

void daemon::supervise() {
  // Often enough for the watchdog (half of WatchdogSec) and for /readyz to follow the disk.
  auto period = std::chrono::duration_cast<steady::duration>(std::chrono::seconds(1));
  if (watchdog_interval_) {
    period = std::min(period, std::chrono::duration_cast<steady::duration>(*watchdog_interval_));
  }
  auto next = steady::now();
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_until(lock, next, [&] {
      return stop_requested_.load() || reload_requested_.load() || steady::now() >= next;
    });
    if (stop_requested_.load()) return;
    const bool reload_now = reload_requested_.exchange(false);
    lock.unlock();
    if (reload_now) reload();
    if (const auto now = steady::now(); now >= next) {
      tick(now);
      next = now + period;
    }
    lock.lock();
  }
}

void daemon::tick(steady::time_point now) {
  if (freeze_for_ && freeze_requested != 0) {
    freeze_requested = 0;
    const auto threads = server_->io_threads();
    // One io thread, not the first when there are several (the watchdog once watched the first
    // alone): a single stuck one must be noticed too.
    spdlog::warn("test hook: blocking 1 io thread(s) of {} for {}", threads,
                 format_duration(*freeze_for_));
    auto taken = std::make_shared<std::atomic<bool>>(false);
    server_->post_each([this, d = *freeze_for_, taken, threads] {
      if (threads > 1 && std::this_thread::get_id() == first_io_thread_) return;
      if (!taken->exchange(true)) std::this_thread::sleep_for(d);
    });
  }
  rt_.spool->probe();
  if (ready_.load()) watchdog(now);
  if (!stopping_.load()) {
    auto text = status_text();
    if (text != last_status_) {
      systemd::status(text);
      last_status_ = std::move(text);
    }
  }
}

void daemon::watchdog(steady::time_point now) {
  // Both answered the last pings: the io loop and the writer made progress since the last tick.
  const bool alive = io_ack_.load() == ping_sent_ && writer_ack_.load() == ping_sent_;
  if (!watchdog_interval_) return;
  if (alive) {
    if (now - last_watchdog_ >= *watchdog_interval_ - std::chrono::milliseconds(10)) {
      if (const auto ec = systemd::watchdog())
        spdlog::warn("sd_notify WATCHDOG=1: {}", ec.message());
      last_watchdog_ = now;
    }
    const auto seq = ++ping_sent_;
    // Acknowledged once every io thread has answered: each runs its own io_context, and a
    // stuck one would hang every connection dealt to it.
    auto left = std::make_shared<std::atomic<std::size_t>>(server_->io_threads());
    server_->post_each([this, seq, left] {
      if (left->fetch_sub(1) == 1) io_ack_ = seq;
    });
    rt_.spool->ping([this, seq] { writer_ack_ = seq; });
  } else if (now - last_watchdog_ >= *watchdog_interval_ && !missed_logged_) {
    // Said once, at the first missed ping: half of WatchdogSec before systemd restarts hookd.
    spdlog::error("watchdog: {} not making progress; not pinging the service manager",
                  io_ack_.load() != ping_sent_ ? "the io loop is" : "the spool writer is");
    missed_logged_ = true;
  }
  if (alive && missed_logged_) {
    spdlog::info("watchdog: making progress again");
    missed_logged_ = false;
  }
}

void daemon::count_backlog() {
  std::unique_lock lock(mu_);
  while (!stop_requested_.load()) {
    lock.unlock();
    const auto started = steady::now();
    try {
      telemetry_.backlog(rt_.spool->backlog(), std::chrono::system_clock::now());
    } catch (const std::exception& e) {
      spdlog::debug("backlog: {}", e.what());
    }
    const auto pause = backlog_pause(steady::now() - started);
    lock.lock();
    cv_.wait_for(lock, pause, [&] { return stop_requested_.load(); });
  }
}

std::string daemon::status_text() const {
  const auto [pending, dead] = telemetry_.pending_dead();
  return fmt::format("accepted {}, pending {}, dead {}", telemetry_.accepted(), pending, dead);
}

void daemon::reload() {
  systemd::reloading("reloading");
  const auto file = cfg_.file;
  spdlog::info("reload: reading {}", file.string());
  const auto failed = [&](const std::vector<std::string>& problems) {
    for (const auto& p : problems)
      spdlog::error("reload: {}", p);
    spdlog::error("reload failed: {} problem(s); the running config stays in force",
                  problems.size());
    telemetry_.reload(false);
    systemd::ready(status_text());
  };
  config::config next;
  pipeline parts;
  try {
    next = config::load_file(file);
    const reusable_handlers reuse{cfg_.handlers, rt_.parts.handlers};
    parts = build_pipeline(next, &reuse);
  } catch (const config::config_error& e) {
    return failed(e.problems());
  } catch (const std::exception& e) {
    return failed({file.string() + ": " + e.what()});
  }

  for (const auto& key : restart_only_changes(cfg_, next)) {
    spdlog::warn("reload: {} changed: a restart is needed to apply it; keeping the running value",
                 key);
  }
  try {
    rt_.dispatcher->reconfigure(parts.routes, parts.handlers, parts.retry);
    setup_logging(next.log);
  } catch (const std::exception& e) {
    return failed({file.string() + ": " + e.what()});
  }
  endpoints_->set(parts.endpoints);
  rt_.parts = std::move(parts);

  // What is in force now: the new file, except what only a restart applies.
  next.server = cfg_.server;
  next.spool = cfg_.spool;
  next.admin = cfg_.admin;
  next.dispatch = cfg_.dispatch;
  cfg_ = std::move(next);
  spdlog::info("reload: applied ({} endpoint(s), {} handler(s), {} route(s))",
               cfg_.endpoints.size(), cfg_.handlers.size(), cfg_.routes.size());
  for (const auto& ep : cfg_.endpoints) {
    spdlog::info("endpoint {}: POST /hooks/{} (provider {}{})", ep.name, ep.name, ep.provider,
                 ep.verify_none ? ", verify: none" : "");
  }
  telemetry_.handlers(handler_names(cfg_));
  telemetry_.reload(true);
  systemd::ready(status_text());
}

}  // namespace

int run_command(const std::filesystem::path& config_file) {
  setup_default_logging();
  config::config cfg;
  try {
    cfg = config::load_file(config_file);
    setup_logging(cfg.log);
  } catch (const config::config_error& e) {
    for (const auto& p : e.problems())
      std::cerr << p << '\n';
    return exit_failure;
  } catch (const std::exception& e) {
    std::cerr << config_file.string() << ": " << e.what() << '\n';
    return exit_failure;
  }
  spdlog::info("hookd {} starting with config {}", HOOKD_VERSION, config_file.string());

  // A client or a child closing its end must come back as an error code, not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);

  try {
    daemon d(std::move(cfg));
    return d.run();
  } catch (const config::config_error& e) {
    for (const auto& p : e.problems())
      spdlog::critical("{}", p);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
  }
  return exit_failure;
}

}  // namespace hookd::cli
