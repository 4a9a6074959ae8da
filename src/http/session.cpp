#include "session.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <spdlog/spdlog.h>

#include <hookd/core/log_fields.hpp>
#include <hookd/http/framing.hpp>
#include <hookd/http/router.hpp>

namespace hookd::http::detail {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// After an answer that closes the connection, the client may still be sending (a body we
/// refused): closing at once would make the kernel reset the connection and the client could
/// lose our answer. So the write side is shut first and input is discarded for this long.
constexpr auto linger_time = std::chrono::seconds(2);

/// What a lingering connection reads (and discards) at a time.
constexpr std::size_t linger_read_size = 4096;

/// What a connection reads its next request into while it waits for it (do_wait): a request of
/// up to this many bytes (a typical webhook) arrives whole in that one read.
///
/// The wait is a read, not a wait for readability (async_wait): Asio re-arms the socket in epoll
/// for every such wait (an epoll_ctl per request). A read is tried at once instead (a recvfrom
/// that usually finds nothing yet), then queued without a call; with the timer's calls that
/// also went away, 2.3 system calls per request became 1.8 (docs/performance.md, 23.). The
/// price is this buffer, held while the connection is idle: 10 000 idle keep-alive connections
/// take about 20 MiB more (bench/, workload c: 39.8 -> 58.4 MiB).
constexpr std::size_t wait_read_size = 2048;

/// Room made in the read buffer when the first read did not hold the whole request (it ended
/// before the headers did, or the body is still to come). Beast reads into the
/// buffer's free capacity, at least 512 bytes: with this much room most of the rest arrives in
/// one read; larger requests still grow the buffer up to the limits.
constexpr std::size_t request_read_reserve = 8192;

/// Whether the buffer holds the blank line that ends a request's headers.
bool holds_header_end(const beast::flat_buffer& b) {
  const std::string_view text(static_cast<const char*>(b.data().data()), b.size());
  return text.find("\r\n\r\n") != std::string_view::npos;
}

/// The request's headers as providers see them (no Beast types in the providers module).
class beast_headers final : public providers::header_source {
 public:
  explicit beast_headers(const bhttp::fields& fields) : fields_(fields) {}
  std::optional<std::string_view> get(std::string_view name) const override {
    const auto it = fields_.find(name);
    if (it == fields_.end()) return std::nullopt;
    return it->value();
  }

 private:
  const bhttp::fields& fields_;
};

std::string format_peer(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  const auto address = ep.address();
  // Appended piece by piece: g++ 12 at -O3 takes a chain of operator+ here for an overlapping
  // memcpy (a false -Wrestrict, GCC bug 105651).
  std::string out;
  if (address.is_v6()) out += '[';
  out += address.to_string();
  if (address.is_v6()) out += ']';
  out += ':';
  out += std::to_string(ep.port());
  return out;
}

bool is_quiet_close(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::operation_aborted ||
         ec == net::error::broken_pipe || ec == bhttp::error::partial_message;
}

}  // namespace

session::session(tcp::socket&& socket, std::shared_ptr<server_state> state,
                 completion_mailbox& mailbox)
    : stream_(std::move(socket)),
      executor_(stream_.get_executor()),
      idle_timer_(executor_),
      state_(std::move(state)),
      mailbox_(mailbox),
      peer_(format_peer(stream_.socket())) {}

session::~session() {
  state_->release(key_);
}

void session::run() {
  key_ = state_->track(weak_from_this());
  spdlog::debug("connection from {}", peer_);
  // Start on the session's own thread: the accept handler runs on the listener's.
  net::post(executor_, [self = shared_from_this()] { self->do_wait(); });
}

void session::notify_shutdown() {
  net::post(executor_, [self = shared_from_this()] { self->on_shutdown(); });
}

void session::on_shutdown() {
  // Only a connection waiting for its next request is closed now; one in the middle of a request
  // finishes it, answers with Connection: close (state_->stopping()) and closes after the write.
  // Bytes already received but not read yet are a request in flight too. So are bytes the wait's
  // read has taken but on_wait has not committed yet: cancelling a read that has completed does
  // nothing, and on_wait serves them.
  beast::error_code ec;
  if (phase_ == phase::waiting && buffer_.size() == 0 && stream_.socket().available(ec) == 0) {
    idle_timer_.cancel();
    stream_.cancel();
  }
}

// Waits for the first byte of a request: on a kept-alive connection under the idle timeout, on
// a new one under the request timeout. The request timeout then starts again for the request
// itself, from its first byte to its last.
//
// It waits with a read of at most wait_read_size bytes (see there): a buffer grown for a longer
// request is given back first. The read goes to the socket itself, not through tcp_stream, whose
// deadline would be the request timeout: hence a timer for this wait.
void session::do_wait() {
  phase_ = phase::waiting;
  if (state_->stopping()) return do_close();
  if (buffer_.size() > 0) return do_read_header();  // pipelined: the next request is here
  if (buffer_.capacity() > wait_read_size) buffer_.shrink_to_fit();
  const auto& cfg = state_->config();
  idle_timed_out_ = false;
  idle_timer_.expires_after(requests_ == 0 ? cfg.request_timeout : cfg.idle_timeout);
  idle_timer_.async_wait(beast::bind_front_handler(&session::on_idle_timer, shared_from_this()));
  stream_.socket().async_read_some(
      buffer_.prepare(wait_read_size),
      beast::bind_front_handler(&session::on_wait, shared_from_this()));
}

void session::on_idle_timer(beast::error_code ec) {
  // Cancelled (bytes arrived, or the session closed), or a stale expiry: the timer was set
  // again for a later wait after this one had already completed.
  if (ec || phase_ != phase::waiting || idle_timer_.expiry() > std::chrono::steady_clock::now()) {
    return;
  }
  idle_timed_out_ = true;
  beast::error_code ignored;
  stream_.socket().cancel(ignored);  // on_wait gets operation_aborted
}

void session::on_wait(beast::error_code ec, std::size_t bytes) {
  idle_timer_.cancel();
  // Bytes taken off the socket are a request, served even when the idle deadline passed in the
  // same turn (the timer's cancel came too late for this read): from here the request timeout
  // applies. (A read that fails, or is cancelled, took nothing.)
  if (ec || bytes == 0) {
    if (idle_timed_out_) {
      spdlog::debug("closing {} connection from {}", requests_ == 0 ? "silent" : "idle", peer_);
    } else if (!is_quiet_close(ec)) {
      spdlog::debug("wait on {}: {}", peer_, ec.message());
    }
    return do_close();
  }
  buffer_.commit(bytes);
  // Headers still to come: room for them, or Beast would go on in reads of 512 bytes to 2 KiB.
  // (A body still to come gets its room in on_read_header.)
  if (!holds_header_end(buffer_)) buffer_.reserve(request_read_reserve);
  do_read_header();
}

void session::do_read_header() {
  phase_ = phase::reading;
  started_ = std::chrono::steady_clock::now();
  route_ = "other";
  endpoint_.clear();
  event_id_.clear();

  // A fresh parser per request: its limits and state never leak from one request to the next.
  const auto& cfg = state_->config();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::uint64_t>(cfg.max_header, std::numeric_limits<std::uint32_t>::max())));
  parser_->body_limit(cfg.max_body);
  // One deadline for the whole request, header and body: tcp_stream keeps the expiry across
  // the operations until it is set again.
  stream_.expires_after(cfg.request_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&session::on_read_header, shared_from_this()));
}

void session::on_read_header(beast::error_code ec, std::size_t) {
  if (ec) return fail_read(ec, "read header");
  // Request smuggling: what Beast's parser lets through, refused before the body is read.
  if (auto refused = check_framing(parser_->get().base())) return do_write(*refused);
  if (parser_->is_done()) return handle_request();

  // The body is still to come: room for it (the wait's buffer is 2 KiB).
  if (buffer_.capacity() < request_read_reserve) buffer_.reserve(request_read_reserve);
  const auto& req = parser_->get();
  if (req.version() >= 11 && beast::iequals(req[bhttp::field::expect], "100-continue")) {
    return do_continue();
  }
  do_read_body();
}

// The client waits for "100 Continue" before sending the body (curl does for bodies over 1 KiB).
void session::do_continue() {
  answer interim;
  interim.status = 100;
  serialize(interim, wire{}, out_);
  net::async_write(stream_, net::buffer(out_),
                   beast::bind_front_handler(&session::on_continue, shared_from_this()));
}

void session::on_continue(beast::error_code ec, std::size_t) {
  if (ec) return fail_read(ec, "write 100-continue");
  std::string().swap(out_);  // not held while the body is read and the event handled
  do_read_body();
}

void session::do_read_body() {
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&session::on_read_body, shared_from_this()));
}

void session::on_read_body(beast::error_code ec, std::size_t) {
  if (ec) return fail_read(ec, "read body");
  handle_request();
}

void session::fail_read(beast::error_code ec, const char* step) {
  if (auto refusal = answer_for_parse_error(ec)) {
    spdlog::info("refusing request from {}: {} ({})", peer_, refusal->reason, ec.message());
    return do_write(*refusal);
  }
  if (ec == beast::error::timeout) {
    spdlog::info("request from {} not complete within request_timeout, closing", peer_);
  } else if (!is_quiet_close(ec)) {
    spdlog::debug("{} from {}: {}", step, peer_, ec.message());
  }
  do_close();
}

void session::handle_request() {
  phase_ = phase::handling;
  // The one catch-all at the session boundary: nothing below throws by design (results, not
  // exceptions), but an unexpected exception (bad_alloc, a bug) becomes a 500, not a crash.
  try {
    endpoints_ = state_->endpoints();
    const auto& req = parser_->get();
    const beast_headers headers(req.base());
    const inbound_request in{req.method_string(), req.target(), headers, req.body(),
                             std::chrono::system_clock::now()};
    if (const auto& admin = state_->admin()) {
      route_ = "admin";
      return do_write(admin(in));
    }
    auto d = decide(in, endpoints_.get());
    route_ = d.route;
    endpoint_ = std::move(d.endpoint);
    if (auto* a = std::get_if<answer>(&d.outcome)) return do_write(*a);

    auto& ev = std::get<event>(d.outcome);
    event_id_ = ev.id;
    // The completion may run on any thread (the spool writer's, or this one inline): back to
    // this session's thread through its io_context's mailbox, one wake-up for a whole group
    // commit (never inline: handle_request has not returned yet when the sink answers at once).
    state_->sink().submit(std::move(ev), [self = shared_from_this(), id = event_id_,
                                          request = requests_](dispatch::submit_status status) {
      self->mailbox_.post([self, status, id, request] { self->on_submitted(status, id, request); });
    });
  } catch (const std::exception& e) {
    spdlog::error("request from {}: unexpected exception: {}", peer_, e.what());
    do_write(internal_error());
  } catch (...) {
    spdlog::error("request from {}: unexpected exception", peer_);
    do_write(internal_error());
  }
}

void session::on_submitted(dispatch::submit_status status, const std::string& id,
                           unsigned request) {
  // Only the request still waiting for it: if submit() threw after completing, the catch-all
  // has answered 500 already.
  if (phase_ != phase::handling || request != requests_) return;
  try {
    do_write(from_submit(status, id));
  } catch (...) {
    do_write(internal_error());
  }
}

void session::do_write(const answer& a) {
  phase_ = phase::writing;
  const bool have_request = parser_ && parser_->is_header_done();
  const unsigned version = have_request ? parser_->get().version() : 11;
  const bool keep_alive =
      !a.close && have_request && parser_->get().keep_alive() && !state_->stopping();

  log_request(a);
  // A HEAD answer carries GET's headers, Content-Length included, and no body (RFC 9110
  // 9.3.2): a body here would be read by the client as the start of the next response.
  const bool head = have_request && parser_->get().method() == bhttp::verb::head;
  serialize(a, wire{version, keep_alive, head}, out_);

  // A client that does not read its answer is cut off like one that does not send.
  stream_.expires_after(state_->config().request_timeout);
  net::async_write(stream_, net::buffer(out_),
                   beast::bind_front_handler(&session::on_write, shared_from_this(), !keep_alive));
}

void session::on_write(bool close, beast::error_code ec, std::size_t) {
  if (ec) {
    if (!is_quiet_close(ec)) spdlog::debug("write to {}: {}", peer_, ec.message());
    return do_close();
  }
  ++requests_;
  parser_.reset();
  endpoints_.reset();
  std::string().swap(out_);  // nothing is kept for an idle connection
  if (close) return do_linger();
  do_wait();
}

void session::do_linger() {
  phase_ = phase::closing;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(linger_time);
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(linger_read_size),
                          beast::bind_front_handler(&session::on_linger, shared_from_this()));
}

void session::on_linger(beast::error_code ec, std::size_t) {
  if (ec) return do_close();  // the client closed, or linger_time ran out
  buffer_.clear();            // discard
  stream_.async_read_some(buffer_.prepare(linger_read_size),
                          beast::bind_front_handler(&session::on_linger, shared_from_this()));
}

void session::do_close() {
  phase_ = phase::closing;
  idle_timer_.cancel();  // its handler holds the session
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void session::log_request(const answer& a) const {
  // Never the target (its query may hold a token), a header, or the body.
  const auto elapsed = std::chrono::steady_clock::now() - started_;
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  if (const auto& observe = state_->on_request()) {
    observe(request_record{route_, endpoint_, a.status, a.reason,
                           std::chrono::duration<double>(elapsed).count()});
  }
  // Probes (health checks, scrapes) would drown the request log at info.
  const auto level =
      route_ == "healthz" || route_ == "admin" ? spdlog::level::debug : spdlog::level::info;
  const std::string_view method = parser_ && parser_->is_header_done()
                                      ? std::string_view(parser_->get().method_string())
                                      : std::string_view{"-"};
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "{}",
              log_fields("request")
                  .str("method", method)
                  .str("route", route_)
                  .str("endpoint", endpoint_.empty() ? "-" : endpoint_)
                  .num("status", a.status)
                  .str("reason", a.reason)
                  .str("id", event_id_.empty() ? "-" : event_id_)
                  .num("ms", ms)
                  .str("peer", peer_)
                  .text());
}

}  // namespace hookd::http::detail
