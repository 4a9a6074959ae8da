// hookd-loadgen: drives hookd with uniquely identified, validly signed Altoviz-shaped events over
// N keep-alive connections, so every request is a real insert (not a duplicate). Used by the
// benchmark (bench/run) and by the crash test (tests/integration/crash_test.sh).
//
// Two modes:
//  - load (default): --threads event loops (default: one per core, as wrk), each over its share
//    of the connections with non-blocking sockets and epoll, one request in flight per
//    connection. The latency it measures is the time from the first byte sent to the moment the
//    answer's last byte was there (epoll's report). The same client drives nginx for the ceiling,
//    so hookd's figures compare like for like.
//  - idle (--idle N): opens N keep-alive connections (each sends one signed request first, unless
//    --no-idle-request), prints one "open ..." line, holds them for --hold seconds, then reports
//    how many are still open. For measuring the server's memory per idle connection.
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <hookd/providers/signing.hpp>

namespace {

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string endpoint = "altoviz";
  std::string secret = "demo-altoviz-secret";
  unsigned connections = 1;
  std::uint64_t requests = 0;  // 0: run for `seconds`
  double seconds = 10;
  std::size_t body_size = 1024;
  std::string id_prefix = "lg";
  bool random_ids = false;  // <prefix>-<16 hex digits> in no order, as providers' ids are
  std::string acked_file;   // ids answered 2xx, one per line
  bool json = false;
  unsigned idle = 0;  // idle mode: connections to open and hold
  double hold = 10;   // idle mode: seconds to hold them
  bool idle_request = true;
  unsigned threads = std::max(1U, std::thread::hardware_concurrency());  // event loops
};

[[noreturn]] void usage(int code) {
  std::fputs(
      "usage: hookd-loadgen [--host H] [--port P] [--endpoint NAME] [--secret S]\n"
      "                     [--connections N] [--requests N | --seconds S] [--body-size BYTES]\n"
      "                     [--threads T] [--id-prefix P] [--random-ids] [--acked FILE] [--json]\n"
      "       hookd-loadgen --idle N [--hold S] [--no-idle-request] [--host H] [--port P] ...\n"
      "Sends Altoviz-shaped events with unique ids (<id-prefix>-<n>), each signed with\n"
      "HMAC-SHA256 in X-SIGNATURE, over N keep-alive connections, one request in flight each,\n"
      "driven by T threads (default: one per core), each an event loop over its share of them.\n"
      "--requests bounds the total count, --seconds the duration (default 10 s); whichever comes\n"
      "first ends the run; answers still awaited 30 s after the end count as errors. Connection\n"
      "errors are counted and retried (reconnect) until the run ends. Prints one summary line\n"
      "(--json: one JSON object): requests/s of 2xx answers, p50, p99, p99.9 latency of every\n"
      "answered request, non-2xx answers and connection errors.\n"
      "--random-ids: ids <id-prefix>-<16 hex digits>, unique but in no order (a bijective mix of\n"
      "n), as providers' UUIDs are, instead of <id-prefix>-<n> in order.\n"
      "--idle N opens N connections, sends one signed request on each (not with\n"
      "--no-idle-request), prints \"open N ok M\", holds them --hold seconds (default 10), then\n"
      "prints how many the server kept open.\n",
      code == 0 ? stdout : stderr);
  std::exit(code);  // NOLINT(concurrency-mt-unsafe): parsing the options, before any thread
}

options parse(int argc, char** argv) {
  options o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) usage(2);
        return argv[++i];
      };
      if (a == "--host")
        o.host = value();
      else if (a == "--port")
        o.port = static_cast<std::uint16_t>(std::stoul(value()));
      else if (a == "--endpoint")
        o.endpoint = value();
      else if (a == "--secret")
        o.secret = value();
      else if (a == "--connections")
        o.connections = static_cast<unsigned>(std::stoul(value()));
      else if (a == "--requests")
        o.requests = std::stoull(value());
      else if (a == "--seconds")
        o.seconds = std::stod(value());
      else if (a == "--body-size")
        o.body_size = std::stoul(value());
      else if (a == "--threads")
        o.threads = static_cast<unsigned>(std::stoul(value()));
      else if (a == "--id-prefix")
        o.id_prefix = value();
      else if (a == "--random-ids")
        o.random_ids = true;
      else if (a == "--acked")
        o.acked_file = value();
      else if (a == "--json")
        o.json = true;
      else if (a == "--idle")
        o.idle = static_cast<unsigned>(std::stoul(value()));
      else if (a == "--hold")
        o.hold = std::stod(value());
      else if (a == "--no-idle-request")
        o.idle_request = false;
      else if (a == "--help" || a == "-h")
        usage(0);
      else
        usage(2);
    }
  } catch (const std::exception&) {  // std::stoul and friends on a bad number
    usage(2);
  }
  if (o.connections == 0 || o.threads == 0) usage(2);
  return o;
}

using clock_type = std::chrono::steady_clock;

/// SplitMix64's finalizer: a bijection of 64-bit values (so distinct n give distinct ids), whose
/// outputs follow no order.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

/// Builds the requests of one connection into buffers reused from one request to the next, so the
/// generator spends as little CPU as it can (it shares the machine with the server it measures).
class request_builder {
 public:
  explicit request_builder(const options& o) : opt_(o) {}

  /// The request for event number `n`; valid until the next call.
  const std::string& build(std::uint64_t n) {
    id_.clear();
    if (opt_.random_ids) {
      fmt::format_to(std::back_inserter(id_), "{}-{:016x}", opt_.id_prefix, mix(n));
    } else {
      fmt::format_to(std::back_inserter(id_), "{}-{}", opt_.id_prefix, n);
    }
    body_.clear();
    fmt::format_to(
        std::back_inserter(body_),
        R"({{"id":"{}","type":"CustomerCreated","data":{{"id":{},"companyName":"Load test","email":"load@example.com","pad":")",
        id_, n);
    constexpr std::string_view tail = "\"}}";
    if (body_.size() + tail.size() < opt_.body_size)
      body_.append(opt_.body_size - body_.size() - tail.size(), 'x');
    body_.append(tail);
    const std::string sig = hookd::providers::hex(
        hookd::providers::hmac(hookd::config::hmac_algorithm::sha256, opt_.secret, body_));
    request_.clear();
    fmt::format_to(std::back_inserter(request_),
                   "POST /hooks/{} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n"
                   "X-SIGNATURE: {}\r\nContent-Length: {}\r\n\r\n",
                   opt_.endpoint, opt_.host, sig, body_.size());
    request_.append(body_);
    return request_;
  }

  const std::string& id() const { return id_; }

 private:
  const options& opt_;
  std::string id_;
  std::string body_;
  std::string request_;
};

/// Case-insensitive search of `needle` (lowercase) in `hay`.
std::size_t find_nocase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    bool match = true;
    for (std::size_t j = 0; j < needle.size() && match; ++j)
      match = std::tolower(static_cast<unsigned char>(hay[i + j])) == needle[j];
    if (match) return i;
  }
  return std::string_view::npos;
}

/// What an answer's bytes say once they are all there.
struct answer {
  int status = 0;
  bool closing = false;    ///< the server said `Connection: close`
  std::size_t length = 0;  ///< bytes of the answer, header and body
};

/// Parses one answer (header, then a Content-Length body) at the start of `buffer`; nullopt while
/// bytes are missing.
std::optional<answer> parse_answer(std::string_view buffer) {
  const std::size_t header_end = buffer.find("\r\n\r\n");
  if (header_end == std::string_view::npos || header_end < 12) return std::nullopt;
  const std::string_view header = buffer.substr(0, header_end);
  answer a;
  a.status = std::atoi(std::string(header.substr(9, 3)).c_str());  // "HTTP/1.1 200 ..."
  std::size_t body = 0;
  if (const auto cl = find_nocase(header, "\r\ncontent-length:"); cl != std::string_view::npos)
    body = std::strtoul(std::string(header.substr(cl + 17, 20)).c_str(), nullptr, 10);
  a.closing = find_nocase(header, "\r\nconnection: close") != std::string_view::npos;
  a.length = header_end + 4 + body;
  if (buffer.size() < a.length) return std::nullopt;
  return a;
}

class connection {
 public:
  explicit connection(const options& o) : opt_(o) {}
  ~connection() { close(); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  connection(connection&& other) noexcept
      : opt_(other.opt_), fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {}
  connection& operator=(connection&&) = delete;

  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

  bool ensure_open() {
    if (fd_ >= 0) return true;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(opt_.port);
    ::inet_pton(AF_INET, opt_.host.c_str(), &addr.sin_addr);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close();
      return false;
    }
    return true;
  }

  bool send_all(const std::string& request) {
    std::size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Reads one answer (header, then a Content-Length body); its status, or nullopt on a
  /// connection error. Closes the connection if the server said `Connection: close`.
  std::optional<int> read_answer() {
    std::optional<answer> a;
    while (!(a = parse_answer(buffer_))) {
      if (!fill()) return std::nullopt;
    }
    buffer_.erase(0, a->length);
    if (a->closing) close();
    return a->status;
  }

  /// Whether the server still holds the connection open (nothing to read, no FIN, no error).
  bool still_open() const {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) < 0) return false;
    return (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) == 0;
  }

 private:
  bool fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  const options& opt_;
  int fd_ = -1;
  std::string buffer_;
};

/// Counts of one thread, merged into the shared ones at the end.
struct tally {
  std::vector<double> latencies_ms;  // every answered request
  std::vector<std::string> acked;
  std::map<int, std::uint64_t> non2xx_statuses;  // status -> count, for the summary
  std::uint64_t ok = 0, non2xx = 0, errors = 0;

  void merge(tally&& t) {
    for (const auto& [status, count] : t.non2xx_statuses)
      non2xx_statuses[status] += count;
    latencies_ms.insert(latencies_ms.end(), t.latencies_ms.begin(), t.latencies_ms.end());
    acked.insert(acked.end(), std::make_move_iterator(t.acked.begin()),
                 std::make_move_iterator(t.acked.end()));
    ok += t.ok;
    non2xx += t.non2xx;
    errors += t.errors;
  }
};

struct shared_state {
  explicit shared_state(const options& o, clock_type::time_point end) : opt(o), deadline(end) {}

  const options& opt;
  clock_type::time_point deadline;
  std::atomic<std::uint64_t> next_id{0};
  std::mutex mutex;
  tally total;
};

/// One thread's event loop over its share of the connections (non-blocking sockets, epoll), one
/// request in flight per connection, as wrk does: a thread per connection would have the client's
/// 64 threads compete with the server it measures for the same 2 cores.
class event_loop {
 public:
  event_loop(shared_state& s, unsigned connections) : s_(s), o_(s.opt), active_(connections) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    for (unsigned i = 0; i < connections; ++i)
      clients_.emplace_back(o_);
  }
  ~event_loop() {
    for (auto& c : clients_)
      close(c);
    ::close(ep_);
  }
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  /// Runs until every connection is done: the deadline (or --requests) reached and its last
  /// answer in, or `grace` after the deadline at most (a request still unanswered then is an
  /// error).
  tally run() {
    for (auto& c : clients_)
      next(c);
    const auto hard_stop = s_.deadline + grace;
    std::array<epoll_event, 64> events{};
    while (active_ > 0) {
      const auto now = clock_type::now();
      if (now >= hard_stop) {
        for (auto& c : clients_)
          if (c.busy) ++t_.errors;
        break;
      }
      const int timeout_ms = waiting_ > 0 ? retry_pause_ms : 100;
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout_ms);
      if (n < 0 && errno != EINTR)
        throw std::system_error(errno, std::system_category(), "epoll_wait");
      // The time the answers were there: taken once, before the first one is handled.
      const auto arrived = clock_type::now();
      for (int i = 0; i < n; ++i) {
        auto& c = *static_cast<client*>(events[static_cast<std::size_t>(i)].data.ptr);
        const auto ev = events[static_cast<std::size_t>(i)].events;
        if ((ev & EPOLLOUT) != 0 && c.busy) send_rest(c);
        if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && c.fd >= 0) receive(c, arrived);
      }
      if (waiting_ > 0) {
        for (auto& c : clients_)
          if (c.waiting && clock_type::now() >= c.retry_at) {
            c.waiting = false;
            --waiting_;
            next(c);
          }
      }
    }
    return std::move(t_);
  }

 private:
  static constexpr std::chrono::seconds grace{30};
  static constexpr int retry_pause_ms = 20;  // after a failed connect: the daemon may restart

  struct client {
    explicit client(const options& o) : builder(o) {}
    request_builder builder;
    int fd = -1;
    const std::string* request = nullptr;  // builder's, while busy
    std::size_t sent = 0;
    bool want_write = false;
    std::string in;
    clock_type::time_point start;
    bool busy = false;     // a request in flight
    bool waiting = false;  // closed after a failed connect, until retry_at
    clock_type::time_point retry_at;
  };

  bool open(client& c) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return false;
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(o_.port);
    ::inet_pton(AF_INET, o_.host.c_str(), &addr.sin_addr);
    // A blocking connect (immediate on loopback), then non-blocking for the exchanges.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK) != 0) {
      close(c);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      close(c);
      return false;
    }
    c.want_write = false;
    return true;
  }

  void close(client& c) noexcept {
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.in.clear();
  }

  /// Starts the connection's next request, or ends the connection.
  void next(client& c) {
    c.busy = false;
    if (clock_type::now() >= s_.deadline) return finish(c);
    if (c.fd < 0 && !open(c)) {
      ++t_.errors;
      return retry(c, std::chrono::milliseconds(retry_pause_ms));
    }
    const std::uint64_t n = s_.next_id.fetch_add(1);
    if (o_.requests != 0 && n >= o_.requests) return finish(c);
    c.request = &c.builder.build(n);
    c.sent = 0;
    c.busy = true;
    c.start = clock_type::now();
    send_rest(c);
  }

  void finish(client& c) {
    close(c);
    --active_;
  }

  void send_rest(client& c) {
    while (c.sent < c.request->size()) {
      const ssize_t n = ::send(c.fd, c.request->data() + c.sent, c.request->size() - c.sent,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch_write(c, true);
      if (n <= 0) return fail(c);
      c.sent += static_cast<std::size_t>(n);
    }
    watch_write(c, false);
  }

  void watch_write(client& c, bool on) {
    if (c.want_write == on) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0U);
    ev.data.ptr = &c;
    if (::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev) != 0) return fail(c);
    c.want_write = on;
  }

  void receive(client& c, clock_type::time_point arrived) {
    char chunk[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {  // closed by the server, or an error: in the middle of a request, an error
        if (c.busy) return fail(c);
        close(c);
        return next(c);
      }
      c.in.append(chunk, static_cast<std::size_t>(n));
    }
    if (!c.busy) return;  // bytes nobody asked for: read at the next answer
    const auto a = parse_answer(c.in);
    if (!a) return;
    c.in.erase(0, a->length);
    t_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(arrived - c.start).count());
    if (a->status >= 200 && a->status < 300) {
      ++t_.ok;
      if (!o_.acked_file.empty()) t_.acked.push_back(c.builder.id());
    } else {
      ++t_.non2xx;
      ++t_.non2xx_statuses[a->status];
    }
    if (a->closing) close(c);
    next(c);
  }

  /// A connection error: counted, the connection closed, the next request sent on a new one.
  void fail(client& c) {
    ++t_.errors;
    close(c);
    c.busy = false;
    retry(c, std::chrono::milliseconds(0));  // from the loop: no recursion through next()
  }

  void retry(client& c, std::chrono::milliseconds pause) {
    c.waiting = true;
    ++waiting_;
    c.retry_at = clock_type::now() + pause;
  }

  shared_state& s_;
  const options& o_;
  int ep_ = -1;
  std::deque<client> clients_;  // stable addresses: epoll's data.ptr points at them
  std::size_t active_;          // connections not done
  std::size_t waiting_ = 0;     // connections waiting to reconnect
  tally t_;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index =
      static_cast<std::size_t>(std::llround(p / 100.0 * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(index, sorted.size() - 1)];
}

/// Many connections need many descriptors: take the hard limit (the caller raises it if needed).
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int run_load(const options& opt) {
  shared_state s{opt, clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                              std::chrono::duration<double>(opt.seconds))};
  const auto start = clock_type::now();
  const unsigned threads = std::min(opt.connections, opt.threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  std::string failure;
  for (unsigned i = 0; i < threads; ++i) {
    // Connections dealt evenly: the first `connections % threads` threads take one more.
    const unsigned mine = opt.connections / threads + (i < opt.connections % threads ? 1 : 0);
    workers.emplace_back([&s, &failure, mine] {
      try {
        event_loop loop(s, mine);
        tally t = loop.run();
        std::lock_guard lock(s.mutex);
        s.total.merge(std::move(t));
      } catch (const std::exception& e) {
        std::lock_guard lock(s.mutex);
        failure = e.what();
      }
    });
  }
  for (auto& t : workers)
    t.join();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  if (!failure.empty()) {
    std::cerr << "hookd-loadgen: " << failure << '\n';
    return 1;
  }
  auto& total = s.total;
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  if (!opt.acked_file.empty()) {
    std::ofstream out(opt.acked_file, std::ios::trunc);
    for (const auto& id : total.acked)
      out << id << '\n';
    if (!out) {
      std::cerr << "hookd-loadgen: cannot write " << opt.acked_file << '\n';
      return 1;
    }
  }
  const double rps = elapsed > 0 ? static_cast<double>(total.ok) / elapsed : 0;
  std::string statuses;  // "503":2,... for the JSON summary
  for (const auto& [status, count] : total.non2xx_statuses)
    statuses += fmt::format("{}\"{}\":{}", statuses.empty() ? "" : ",", status, count);
  if (opt.json) {
    std::cout
        << fmt::format(
               R"({{"mode":"load","connections":{},"seconds":{:.3f},"ok":{},"non2xx":{},"non2xx_statuses":{{{}}},"errors":{},"rps":{:.1f},"p50_ms":{:.3f},"p99_ms":{:.3f},"p999_ms":{:.3f}}})",
               opt.connections, elapsed, total.ok, total.non2xx, statuses, total.errors, rps,
               percentile(total.latencies_ms, 50), percentile(total.latencies_ms, 99),
               percentile(total.latencies_ms, 99.9))
        << '\n';
  } else {
    std::cout << fmt::format(
        "connections {}  seconds {:.2f}  ok {}  non-2xx {}  errors {}  req/s {:.0f}  "
        "p50 {:.3f} ms  p99 {:.3f} ms  p99.9 {:.3f} ms\n",
        opt.connections, elapsed, total.ok, total.non2xx, total.errors, rps,
        percentile(total.latencies_ms, 50), percentile(total.latencies_ms, 99),
        percentile(total.latencies_ms, 99.9));
  }
  return 0;
}

int run_idle(const options& opt) {
  // Batches keep the requests in flight (and the server's spool backlog) bounded.
  constexpr std::size_t batch = 256;
  std::vector<connection> conns;
  conns.reserve(opt.idle);
  request_builder builder(opt);
  std::uint64_t ok = 0, non2xx = 0, errors = 0;
  std::uint64_t n = 0;
  const auto start = clock_type::now();
  while (conns.size() < opt.idle) {
    const std::size_t first = conns.size();
    const std::size_t last = std::min<std::size_t>(first + batch, opt.idle);
    for (std::size_t i = first; i < last; ++i) {
      conns.emplace_back(opt);
      if (!conns.back().ensure_open()) {
        std::cerr << fmt::format("hookd-loadgen: connection {} failed: {}\n", i,
                                 std::system_category().message(errno));
        return 1;
      }
      if (opt.idle_request && !conns.back().send_all(builder.build(n++))) ++errors;
    }
    if (!opt.idle_request) continue;
    for (std::size_t i = first; i < last; ++i) {
      const auto status = conns[i].read_answer();
      if (!status)
        ++errors;
      else if (*status >= 200 && *status < 300)
        ++ok;
      else
        ++non2xx;
    }
  }
  const double open_seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  std::cout << fmt::format("open {} ok {} non2xx {} errors {} seconds {:.2f}\n", conns.size(), ok,
                           non2xx, errors, open_seconds)
            << std::flush;
  std::this_thread::sleep_for(std::chrono::duration<double>(opt.hold));
  const auto still = static_cast<std::size_t>(std::count_if(
      conns.begin(), conns.end(), [](const connection& c) { return c.still_open(); }));
  if (opt.json) {
    std::cout
        << fmt::format(
               R"({{"mode":"idle","connections":{},"ok":{},"non2xx":{},"errors":{},"open_seconds":{:.3f},"hold_seconds":{:.1f},"still_open":{}}})",
               conns.size(), ok, non2xx, errors, open_seconds, opt.hold, still)
        << '\n';
  } else {
    std::cout << fmt::format("held {} connections for {:.1f} s; still open {}\n", conns.size(),
                             opt.hold, still);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse(argc, argv);
  raise_fd_limit();
  return opt.idle > 0 ? run_idle(opt) : run_load(opt);
}
