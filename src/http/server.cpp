#include <algorithm>
#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <hookd/core/thread_name.hpp>
#include <hookd/core/units.hpp>
#include <hookd/http/server.hpp>

#include "listener.hpp"
#include "server_state.hpp"
#include "session.hpp"

namespace hookd::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string bound_address::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

/// "host:port" or "[v6]:port" -> host and port. An empty host means every IPv4 address.
std::pair<std::string, std::string> split_host_port(const char* key, const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    throw std::runtime_error(std::string(key) + ": \"" + address + "\" is not host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  return {host, address.substr(colon + 1)};
}

unsigned thread_count(unsigned configured) {
  if (configured != 0) return configured;
  return std::max(1u, std::thread::hardware_concurrency());
}

/// The io_contexts of the io threads after the first, one thread each (concurrency hint 1).
std::vector<std::unique_ptr<boost::asio::io_context>> more_contexts(unsigned threads) {
  std::vector<std::unique_ptr<boost::asio::io_context>> out;
  for (unsigned i = 1; i < threads; ++i)
    out.push_back(std::make_unique<boost::asio::io_context>(1));
  return out;
}

}  // namespace

struct server::impl {
  impl(const config::server_config& c, std::shared_ptr<endpoint_snapshot> endpoints,
       dispatch::event_sink& sink, server_options o)
      : cfg(c),
        opts(std::move(o)),
        more_io(more_contexts(thread_count(c.threads))),
        ioc(1),
        shards(std::make_shared<detail::io_shards>(all_contexts())),
        state(std::make_shared<detail::server_state>(c, std::move(endpoints), sink, shards,
                                                     opts.on_request)),
        signals(ioc, SIGINT, SIGTERM),
        reload_signal(ioc),
        reopen_signal(ioc),
        grace(ioc) {
    if (!opts.admin_listen.empty()) {
      if (!opts.admin) throw std::invalid_argument("admin.listen: no admin handler");
      // Probes and scrapes: no body, small headers, few connections, the public timeouts.
      config::server_config a = c;
      a.listen = opts.admin_listen;
      a.max_body = 0;
      a.max_header = 8 << 10;
      a.max_connections = admin_max_connections;
      admin_state = std::make_shared<detail::server_state>(a, sink, opts.admin, shards);
    }
  }

  ~impl() {
    state->detach();
    if (admin_state) admin_state->detach();
    // Completions that came after the io threads stopped: their sessions go now, while every
    // io_context (which their sockets belong to) still exists.
    shards->discard_completions();
  }

  std::vector<net::io_context*> all_contexts() {
    std::vector<net::io_context*> out{&ioc};
    for (auto& c : more_io)
      out.push_back(c.get());
    return out;
  }

  /// Thread-safe (io_context::stop is): from a signal, the last session to drain, the grace.
  void stop_all() {
    ioc.stop();
    for (auto& c : more_io)
      c->stop();
  }

  /// More than a monitoring system needs; a flood of them cannot starve the public listeners.
  static constexpr std::size_t admin_max_connections = 64;

  void bind_all(const std::vector<std::string>& listen, const char* key,
                const std::shared_ptr<detail::server_state>& to,
                std::vector<bound_address>& bound) {
    tcp::resolver resolver(ioc);
    for (const auto& address : listen) {
      const auto [host, port] = split_host_port(key, address);
      boost::system::error_code ec;
      const auto results =
          resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
      if (ec || results.empty()) {
        throw std::runtime_error(std::string(key) + ": cannot resolve \"" + address +
                                 "\": " + (ec ? ec.message() : "no address"));
      }
      for (const auto& entry : results)
        bind_one(key, address, entry.endpoint(), to, bound);
    }
  }

  void bind_one(const char* key, const std::string& address, const tcp::endpoint& where,
                const std::shared_ptr<detail::server_state>& to,
                std::vector<bound_address>& bound) {
    // The acceptor runs on the first io_context (one thread: no strand needed); each session
    // goes to an io shard when accepted.
    tcp::acceptor acceptor(ioc);
    boost::system::error_code ec;
    const auto fail = [&](const char* what) {
      throw std::runtime_error(std::string(key) + ": cannot " + what + " \"" + address +
                               "\": " + ec.message());
    };
    acceptor.open(where.protocol(), ec);
    if (ec) fail("open");
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) fail("configure");
    acceptor.bind(where, ec);
    if (ec) fail("bind");
    acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) fail("listen on");
    add_listener(std::move(acceptor), to, bound);
  }

  /// Serves the listening sockets systemd passed (socket activation) instead of binding.
  void adopt(std::vector<int>& fds) {
    // Owned from here on, whatever happens below: each is closed by its acceptor, or here.
    std::vector<int> owned;
    owned.swap(fds);
    const auto close_rest = [&owned] {
      for (int& fd : owned) {
        if (fd >= 0) ::close(std::exchange(fd, -1));
      }
    };
    try {
      for (int& slot : owned) {
        const int fd = std::exchange(slot, -1);
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        std::string problem;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
          problem = std::system_category().message(errno);
        } else if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
          problem = "not an IPv4 or IPv6 socket";
        }
        boost::system::error_code ec;
        tcp::acceptor acceptor(ioc);
        if (problem.empty()) {
          acceptor.assign(ss.ss_family == AF_INET ? tcp::v4() : tcp::v6(), fd, ec);
          if (ec) problem = ec.message();
        }
        if (!problem.empty()) {
          if (!acceptor.is_open()) ::close(fd);
          throw std::runtime_error("inherited socket " + std::to_string(fd) +
                                   " cannot serve HTTP: " + problem);
        }
        add_listener(std::move(acceptor), state, addresses);
      }
    } catch (...) {
      close_rest();
      throw;
    }
  }

  void add_listener(tcp::acceptor acceptor, const std::shared_ptr<detail::server_state>& to,
                    std::vector<bound_address>& bound) {
    boost::system::error_code ec;
    const auto local = acceptor.local_endpoint(ec);
    if (ec) throw std::runtime_error("listener: cannot query its address: " + ec.message());
    bound.push_back({local.address().to_string(), local.port()});
    listeners.push_back(std::make_shared<detail::listener>(std::move(acceptor), to));
  }

  void wait_signal() {
    signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (shutting_down.load()) {
        spdlog::warn("signal {} during shutdown: stopping now", signo);
        stop_all();
        return;
      }
      spdlog::info("signal {}: shutting down", signo);
      begin_shutdown();
      wait_signal();
    });
  }

  /// Re-arms `set` for `fn` after every delivery of its signal.
  void wait_for(net::signal_set& set, const char* name, const std::function<void()>& fn) {
    set.async_wait([this, &set, name, &fn](const boost::system::error_code& ec, int) {
      if (ec) return;
      spdlog::info("{}", name);
      fn();
      wait_for(set, name, fn);
    });
  }

  void begin_shutdown() {
    if (shutting_down.exchange(true)) return;
    accepting = false;
    if (opts.on_stopping) opts.on_stopping();
    const std::size_t open = state->active() + (admin_state ? admin_state->active() : 0);
    spdlog::info("no longer accepting; waiting up to {} for {} open connection(s)",
                 format_duration(cfg.shutdown_grace), open);
    for (auto& l : listeners)
      l->stop();
    // Whichever thread ends the last session of the last server_state to drain posts the stop
    // to the first io_context: what is queued there before it runs first (an accept that
    // completed before the listeners closed: its socket is closed by on_accept, not left open
    // until the server is destroyed).
    auto drained = std::make_shared<std::atomic<int>>(admin_state ? 2 : 1);
    auto on_drained = [this, drained] {
      if (drained->fetch_sub(1) == 1) net::post(ioc, [this] { stop_all(); });
    };
    auto live = state->begin_shutdown(on_drained);
    if (admin_state) {
      auto admin_live = admin_state->begin_shutdown(on_drained);
      live.insert(live.end(), admin_live.begin(), admin_live.end());
    }
    for (auto& s : live)
      s->notify_shutdown();
    grace.expires_after(cfg.shutdown_grace);
    grace.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      spdlog::warn("shutdown grace ({}) over with {} connection(s) open: closing them",
                   format_duration(cfg.shutdown_grace), state->active());
      stop_all();
    });
  }

  static void run_loop(net::io_context& io) {
    // A handler that throws unwinds out of run(); log it and keep the thread serving.
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::critical("io thread: unexpected exception: {}", e.what());
      } catch (...) {
        spdlog::critical("io thread: unexpected exception");
      }
    }
  }

  const config::server_config cfg;
  server_options opts;
  /// The other shards, a thread each. Destroyed after `ioc`: a pending accept on `ioc` holds
  /// the socket it would give to a session of another shard.
  std::vector<std::unique_ptr<net::io_context>> more_io;
  net::io_context ioc;  ///< listeners, signals, timers, and the sessions of the first shard
  std::shared_ptr<detail::io_shards> shards;
  std::shared_ptr<detail::server_state> state;
  std::shared_ptr<detail::server_state> admin_state;         // null: no admin listener
  std::vector<std::shared_ptr<detail::listener>> listeners;  // public and admin
  std::vector<bound_address> addresses;
  std::vector<bound_address> admin_addresses;
  net::signal_set signals;
  net::signal_set reload_signal;
  net::signal_set reopen_signal;
  net::steady_timer grace;
  std::atomic<bool> shutting_down{false};
  std::atomic<bool> accepting{false};
};

server::server(const config::server_config& cfg, std::shared_ptr<endpoint_snapshot> endpoints,
               dispatch::event_sink& sink, server_options opts)
    : impl_(std::make_unique<impl>(cfg, std::move(endpoints), sink, std::move(opts))) {
  auto& m = *impl_;
  if (!m.opts.inherited_fds.empty()) {
    m.adopt(m.opts.inherited_fds);
  } else {
    if (cfg.listen.empty()) throw std::runtime_error("server.listen: no address to listen on");
    m.bind_all(cfg.listen, "server.listen", m.state, m.addresses);
  }
  if (m.admin_state)
    m.bind_all(m.opts.admin_listen, "admin.listen", m.admin_state, m.admin_addresses);
}

server::~server() = default;

const std::vector<bound_address>& server::addresses() const noexcept {
  return impl_->addresses;
}

const std::vector<bound_address>& server::admin_addresses() const noexcept {
  return impl_->admin_addresses;
}

void server::run() {
  auto& m = *impl_;
  m.wait_signal();
  if (m.opts.on_reload) {
    m.reload_signal.add(SIGHUP);
    m.wait_for(m.reload_signal, "SIGHUP: reloading the config", m.opts.on_reload);
  }
  if (m.opts.on_reopen) {
    m.reopen_signal.add(SIGUSR1);
    m.wait_for(m.reopen_signal, "SIGUSR1: reopening handler outputs", m.opts.on_reopen);
  }
  for (auto& l : m.listeners)
    l->run();
  // After the accepts above are queued: the first handler to run finds every listener serving.
  net::post(m.ioc, [&m] {
    if (m.shutting_down.load()) return;
    m.accepting = true;
    if (m.opts.on_ready) m.opts.on_ready();
  });
  // The other shards' threads: kept running while they have no session (work guard) until
  // stop_all().
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  guards.reserve(m.more_io.size());
  for (auto& io : m.more_io)
    guards.push_back(net::make_work_guard(*io));
  std::vector<std::thread> extra;
  extra.reserve(m.more_io.size());
  try {
    for (auto& io : m.more_io)
      extra.emplace_back([&io] {
        set_thread_name("hookd-io");
        impl::run_loop(*io);
      });
  } catch (...) {  // no thread to be had: stop those that started before failing
    m.stop_all();
    for (auto& t : extra)
      t.join();
    throw;
  }
  impl::run_loop(m.ioc);
  m.stop_all();  // the first shard stopped: so do the others
  for (auto& t : extra)
    t.join();
}

void server::shutdown() {
  impl_->state->mark_stopping();
  if (impl_->admin_state) impl_->admin_state->mark_stopping();
  net::post(impl_->ioc, [i = impl_.get()] { i->begin_shutdown(); });
}

void server::post_each(const std::function<void()>& fn) {
  auto& m = *impl_;
  net::post(m.ioc, fn);
  for (auto& io : m.more_io)
    net::post(*io, fn);
}

std::size_t server::io_threads() const noexcept {
  return 1 + impl_->more_io.size();
}

bool server::accepting() const noexcept {
  return impl_->accepting.load();
}

}  // namespace hookd::http
