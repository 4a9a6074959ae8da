#pragma once

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "server_state.hpp"

namespace hookd::http::detail {

/// Accepts connections on one bound acceptor and starts a session for each, pausing while the
/// server is at max_connections (the kernel's backlog holds the rest).
/// Thread-safety: run(), stop() and resume() may be called from any thread; the work happens on
/// the acceptor's io_context, which one thread runs.
class listener : public std::enable_shared_from_this<listener> {
 public:
  /// `acceptor` is open, bound and listening, on an io_context run by one thread. Each session
  /// runs on the next of `state`'s io shards.
  listener(boost::asio::ip::tcp::acceptor acceptor, std::shared_ptr<server_state> state);

  void run();
  void stop();
  void resume();

 private:
  void do_accept();
  void on_accept(const io_shards::shard* shard, boost::beast::error_code ec,
                 boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;  // backs off when accept fails for lack of descriptors
  std::shared_ptr<server_state> state_;
  bool paused_ = false;
  bool stopped_ = false;
};

}  // namespace hookd::http::detail
