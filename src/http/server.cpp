#include <algorithm>
#include <csignal>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

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
std::pair<std::string, std::string> split_host_port(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    throw std::runtime_error("server.listen: \"" + address + "\" is not host:port");
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

}  // namespace

struct server::impl {
  impl(const config::server_config& c, std::shared_ptr<endpoint_snapshot> endpoints,
       dispatch::event_sink& sink)
      : cfg(c),
        threads(thread_count(c.threads)),
        ioc(static_cast<int>(threads)),
        state(std::make_shared<detail::server_state>(c, std::move(endpoints), sink)),
        signals(ioc, SIGINT, SIGTERM),
        reopen_signal(ioc),
        grace(ioc) {}

  ~impl() { state->detach(); }

  void bind_all() {
    tcp::resolver resolver(ioc);
    for (const auto& address : cfg.listen) {
      const auto [host, port] = split_host_port(address);
      boost::system::error_code ec;
      const auto results =
          resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
      if (ec || results.empty()) {
        throw std::runtime_error("server.listen: cannot resolve \"" + address +
                                 "\": " + (ec ? ec.message() : "no address"));
      }
      for (const auto& entry : results)
        bind_one(address, entry.endpoint());
    }
  }

  void bind_one(const std::string& address, const tcp::endpoint& where) {
    // The acceptor runs on its own strand; sessions get theirs when accepted.
    tcp::acceptor acceptor(net::make_strand(ioc));
    boost::system::error_code ec;
    const auto fail = [&](const char* what) {
      throw std::runtime_error("server.listen: cannot " + std::string(what) + " \"" + address +
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
    const auto local = acceptor.local_endpoint(ec);
    if (ec) fail("query");
    addresses.push_back({local.address().to_string(), local.port()});
    listeners.push_back(std::make_shared<detail::listener>(ioc, std::move(acceptor), state));
  }

  void wait_signal() {
    signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (shutting_down.load()) {
        spdlog::warn("signal {} during shutdown: stopping now", signo);
        ioc.stop();
        return;
      }
      spdlog::info("signal {}: shutting down", signo);
      begin_shutdown();
      wait_signal();
    });
  }

  void wait_reopen() {
    reopen_signal.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      spdlog::info("SIGUSR1: reopening handler outputs");
      reopen();
      wait_reopen();
    });
  }

  void begin_shutdown() {
    if (shutting_down.exchange(true)) return;
    spdlog::info("no longer accepting; waiting up to {} for {} open connection(s)",
                 format_duration(cfg.shutdown_grace), state->active());
    for (auto& l : listeners)
      l->stop();
    // io_context::stop is thread-safe; it is called from whichever thread ends the last session.
    auto live = state->begin_shutdown([this] { ioc.stop(); });
    for (auto& s : live)
      s->notify_shutdown();
    grace.expires_after(cfg.shutdown_grace);
    grace.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      spdlog::warn("shutdown grace ({}) over with {} connection(s) open: closing them",
                   format_duration(cfg.shutdown_grace), state->active());
      ioc.stop();
    });
  }

  void run_loop() {
    // A handler that throws unwinds out of run(); log it and keep the thread serving.
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        spdlog::critical("io thread: unexpected exception: {}", e.what());
      } catch (...) {
        spdlog::critical("io thread: unexpected exception");
      }
    }
  }

  const config::server_config cfg;
  const unsigned threads;
  net::io_context ioc;
  std::shared_ptr<detail::server_state> state;
  std::vector<std::shared_ptr<detail::listener>> listeners;
  std::vector<bound_address> addresses;
  net::signal_set signals;
  net::signal_set reopen_signal;
  std::function<void()> reopen;
  net::steady_timer grace;
  std::atomic<bool> shutting_down{false};
};

server::server(const config::server_config& cfg, std::shared_ptr<endpoint_snapshot> endpoints,
               dispatch::event_sink& sink)
    : impl_(std::make_unique<impl>(cfg, std::move(endpoints), sink)) {
  if (cfg.listen.empty()) throw std::runtime_error("server.listen: no address to listen on");
  impl_->bind_all();
}

server::~server() = default;

const std::vector<bound_address>& server::addresses() const noexcept {
  return impl_->addresses;
}

void server::on_reopen(std::function<void()> reopen) {
  impl_->reopen = std::move(reopen);
  impl_->reopen_signal.add(SIGUSR1);
}

void server::run() {
  impl_->wait_signal();
  if (impl_->reopen) impl_->wait_reopen();
  for (auto& l : impl_->listeners)
    l->run();
  std::vector<std::thread> extra;
  extra.reserve(impl_->threads - 1);
  for (unsigned i = 1; i < impl_->threads; ++i)
    extra.emplace_back([this] { impl_->run_loop(); });
  impl_->run_loop();
  for (auto& t : extra)
    t.join();
}

void server::shutdown() {
  impl_->state->mark_stopping();
  net::post(impl_->ioc, [i = impl_.get()] { i->begin_shutdown(); });
}

}  // namespace hookd::http
