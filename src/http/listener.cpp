#include "listener.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <spdlog/spdlog.h>

#include "session.hpp"

namespace hookd::http::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;

listener::listener(tcp::acceptor acceptor, std::shared_ptr<server_state> state)
    : acceptor_(std::move(acceptor)), retry_(acceptor_.get_executor()), state_(std::move(state)) {}

void listener::run() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::stop() {
  // Dispatch: from the server's first io thread (begin_shutdown), the acceptor closes now, so
  // connections still in the kernel's backlog are refused at once.
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
    self->stopped_ = true;
    boost::system::error_code ignored;
    self->retry_.cancel();
    self->acceptor_.close(ignored);  // the pending accept completes with operation_aborted
  });
}

void listener::resume() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    if (self->stopped_ || !self->paused_) return;
    self->paused_ = false;
    self->do_accept();
  });
}

void listener::do_accept() {
  // The connection's socket belongs to its shard's io_context from the start: one thread runs
  // each, so the session's handlers never run concurrently.
  const auto& shard = state_->next_shard();
  acceptor_.async_accept(
      shard.io->get_executor(),
      boost::beast::bind_front_handler(&listener::on_accept, shared_from_this(), &shard));
}

void listener::on_accept(const io_shards::shard* shard, boost::beast::error_code ec,
                         tcp::socket socket) {
  if (ec) {
    if (stopped_ || ec == net::error::operation_aborted) return;
    spdlog::warn("accept: {}", ec.message());
    // Out of descriptors or memory: accepting again at once would spin; back off briefly.
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
        ec == net::error::no_memory) {
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = shared_from_this()](boost::beast::error_code wait_ec) {
        if (!wait_ec && !self->stopped_) self->do_accept();
      });
      return;
    }
    return do_accept();
  }
  if (stopped_ || state_->stopping()) return;  // the socket closes as it goes out of scope

  const bool more = state_->admit(shared_from_this());
  std::make_shared<session>(std::move(socket), state_, *shard->mailbox)->run();
  if (more) return do_accept();
  // At max_connections: accept nothing until a session ends and resume() is called.
  paused_ = true;
  spdlog::debug("at max_connections ({}), pausing accept", state_->config().max_connections);
}

}  // namespace hookd::http::detail
