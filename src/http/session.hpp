#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <hookd/http/answer.hpp>

#include "server_state.hpp"

namespace hookd::http::detail {

/// One HTTP/1.1 connection: reads one request at a time with a fresh parser (limits and a
/// deadline set before reading), lets decide() and the sink answer it, writes the answer, and
/// keeps the connection alive until the client closes it, goes idle too long, or the server stops.
/// Lifetime: owned by the handlers of its pending operation (shared_from_this).
/// Thread-safety: everything runs on the one thread of the session's io_context (its shard);
/// notify_shutdown() may be called from any thread.
class session : public std::enable_shared_from_this<session> {
 public:
  /// `socket` belongs to an io_context run by one thread; `mailbox` is that io_context's (it
  /// lives as long as `state`).
  session(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<server_state> state,
          completion_mailbox& mailbox);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void run();
  void notify_shutdown();

 private:
  enum class phase { waiting, reading, handling, writing, closing };

  void do_wait();
  void on_idle_timer(boost::beast::error_code ec);
  void on_wait(boost::beast::error_code ec, std::size_t bytes);
  void do_read_header();
  void on_read_header(boost::beast::error_code ec, std::size_t n);
  void do_continue();
  void on_continue(boost::beast::error_code ec, std::size_t n);
  void do_read_body();
  void on_read_body(boost::beast::error_code ec, std::size_t n);
  void handle_request();
  void on_submitted(dispatch::submit_status status, const std::string& id, unsigned request);
  void do_write(const answer& a);
  void on_write(bool close, boost::beast::error_code ec, std::size_t n);
  void do_linger();
  void on_linger(boost::beast::error_code ec, std::size_t n);
  void do_close();

  void on_shutdown();
  void fail_read(boost::beast::error_code ec, const char* step);
  void log_request(const answer& a) const;

  boost::beast::tcp_stream stream_;
  const boost::asio::any_io_executor executor_;  // copied so any thread may post
  boost::asio::steady_timer idle_timer_;         // the deadline of do_wait()
  bool idle_timed_out_ = false;
  boost::beast::flat_buffer buffer_;  // 2 KiB while waiting for a request (wait_read_size)
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::string out_;  // the answer being written (serialize()); empty while idle
  std::shared_ptr<server_state> state_;
  completion_mailbox& mailbox_;  // brings the sink's completion back to this io_context
  // The endpoint table this request is served with: a reload swaps the server's snapshot, not
  // this one.
  std::shared_ptr<const providers::endpoint_table> endpoints_;
  std::uint64_t key_ = 0;
  phase phase_ = phase::waiting;
  unsigned requests_ = 0;
  std::string peer_;

  // For the request log.
  std::chrono::steady_clock::time_point started_;
  std::string_view route_ = "other";
  std::string endpoint_;
  std::string event_id_;
};

}  // namespace hookd::http::detail
