// hookd-loadgen: drives hookd with uniquely identified, validly signed Altoviz-shaped events over
// N keep-alive connections, so every request is a real insert (not a duplicate). Used by the
// benchmark (bench/run) and by the crash test (tests/integration/crash_test.sh).
//
// Two modes:
//  - load (default): one thread per connection, blocking sockets, one request in flight per
//    connection. The latency it measures is the time from the first byte sent to the last byte of
//    the answer on that connection. Simple on purpose: the same client drives nginx for the
//    ceiling, so hookd's figures compare like for like.
//  - idle (--idle N): opens N keep-alive connections (each sends one signed request first, unless
//    --no-idle-request), prints one "open ..." line, holds them for --hold seconds, then reports
//    how many are still open. For measuring the server's memory per idle connection.
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/socket.h>
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
  std::string acked_file;  // ids answered 2xx, one per line
  bool json = false;
  unsigned idle = 0;  // idle mode: connections to open and hold
  double hold = 10;   // idle mode: seconds to hold them
  bool idle_request = true;
};

[[noreturn]] void usage(int code) {
  std::fputs(
      "usage: hookd-loadgen [--host H] [--port P] [--endpoint NAME] [--secret S]\n"
      "                     [--connections N] [--requests N | --seconds S] [--body-size BYTES]\n"
      "                     [--id-prefix P] [--acked FILE] [--json]\n"
      "       hookd-loadgen --idle N [--hold S] [--no-idle-request] [--host H] [--port P] ...\n"
      "Sends Altoviz-shaped events with unique ids (<id-prefix>-<n>), each signed with\n"
      "HMAC-SHA256 in X-SIGNATURE, over N keep-alive connections, one request in flight each.\n"
      "--requests bounds the total count, --seconds the duration (default 10 s); whichever comes\n"
      "first ends the run. Connection errors are counted and retried (reconnect) until the run\n"
      "ends. Prints one summary line (--json: one JSON object): requests/s of 2xx answers, p50,\n"
      "p99, p99.9 latency of every answered request, non-2xx answers and connection errors.\n"
      "--idle N opens N connections, sends one signed request on each (not with\n"
      "--no-idle-request), prints \"open N ok M\", holds them --hold seconds (default 10), then\n"
      "prints how many the server kept open.\n",
      code == 0 ? stdout : stderr);
  std::exit(code);
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
      else if (a == "--id-prefix")
        o.id_prefix = value();
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
  if (o.connections == 0) usage(2);
  return o;
}

using clock_type = std::chrono::steady_clock;

/// Builds the requests of one connection into buffers reused from one request to the next, so the
/// generator spends as little CPU as it can (it shares the machine with the server it measures).
class request_builder {
 public:
  explicit request_builder(const options& o) : opt_(o) {}

  /// The request for event number `n`; valid until the next call.
  const std::string& build(std::uint64_t n) {
    id_.clear();
    fmt::format_to(std::back_inserter(id_), "{}-{}", opt_.id_prefix, n);
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
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    if (buffer_.size() < 12) return std::nullopt;
    const int status = std::atoi(buffer_.c_str() + 9);  // "HTTP/1.1 200 ..."
    const std::string_view header(buffer_.data(), header_end);
    std::size_t length = 0;
    if (const auto cl = find_nocase(header, "\r\ncontent-length:"); cl != std::string_view::npos)
      length = std::strtoul(buffer_.c_str() + cl + 17, nullptr, 10);
    const bool closing = find_nocase(header, "\r\nconnection: close") != std::string_view::npos;
    while (buffer_.size() < header_end + 4 + length) {
      if (!fill()) return std::nullopt;
    }
    buffer_.erase(0, header_end + 4 + length);
    if (closing) close();
    return status;
  }

  std::optional<int> exchange(const std::string& request) {
    if (!send_all(request)) return std::nullopt;
    return read_answer();
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

struct shared_state {
  explicit shared_state(const options& o, clock_type::time_point end) : opt(o), deadline(end) {}

  const options& opt;
  clock_type::time_point deadline;
  std::atomic<std::uint64_t> next_id{0};
  std::mutex mutex;
  std::vector<double> latencies_ms;  // every answered request
  std::vector<std::string> acked;
  std::map<int, std::uint64_t> non2xx_statuses;  // status -> count, for the summary
  std::uint64_t ok = 0, non2xx = 0, errors = 0;
};

void run_connection(shared_state& s) {
  const options& o = s.opt;
  connection conn(o);
  request_builder builder(o);
  std::vector<double> latencies;
  latencies.reserve(1 << 16);
  std::vector<std::string> acked;
  std::map<int, std::uint64_t> statuses;
  std::uint64_t ok = 0, non2xx = 0, errors = 0;
  while (clock_type::now() < s.deadline) {
    const std::uint64_t n = s.next_id.fetch_add(1);
    if (o.requests != 0 && n >= o.requests) break;
    const std::string& request = builder.build(n);
    if (!conn.ensure_open()) {
      ++errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the daemon may be restarting
      continue;
    }
    const auto start = clock_type::now();
    const auto status = conn.exchange(request);
    const auto took = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    if (!status) {
      ++errors;
      conn.close();
      continue;
    }
    latencies.push_back(took);
    if (*status >= 200 && *status < 300) {
      ++ok;
      if (!o.acked_file.empty()) acked.push_back(builder.id());
    } else {
      ++non2xx;
      ++statuses[*status];
    }
  }
  std::lock_guard lock(s.mutex);
  for (const auto& [status, count] : statuses)
    s.non2xx_statuses[status] += count;
  s.latencies_ms.insert(s.latencies_ms.end(), latencies.begin(), latencies.end());
  s.acked.insert(s.acked.end(), std::make_move_iterator(acked.begin()),
                 std::make_move_iterator(acked.end()));
  s.ok += ok;
  s.non2xx += non2xx;
  s.errors += errors;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto index = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
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
  std::vector<std::thread> threads;
  threads.reserve(opt.connections);
  for (unsigned i = 0; i < opt.connections; ++i)
    threads.emplace_back(run_connection, std::ref(s));
  for (auto& t : threads)
    t.join();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();

  std::sort(s.latencies_ms.begin(), s.latencies_ms.end());
  if (!opt.acked_file.empty()) {
    std::ofstream out(opt.acked_file, std::ios::trunc);
    for (const auto& id : s.acked)
      out << id << '\n';
    if (!out) {
      std::cerr << "hookd-loadgen: cannot write " << opt.acked_file << '\n';
      return 1;
    }
  }
  const double rps = elapsed > 0 ? static_cast<double>(s.ok) / elapsed : 0;
  std::string statuses;  // "503":2,... for the JSON summary
  for (const auto& [status, count] : s.non2xx_statuses)
    statuses += fmt::format("{}\"{}\":{}", statuses.empty() ? "" : ",", status, count);
  if (opt.json) {
    std::cout
        << fmt::format(
               R"({{"mode":"load","connections":{},"seconds":{:.3f},"ok":{},"non2xx":{},"non2xx_statuses":{{{}}},"errors":{},"rps":{:.1f},"p50_ms":{:.3f},"p99_ms":{:.3f},"p999_ms":{:.3f}}})",
               opt.connections, elapsed, s.ok, s.non2xx, statuses, s.errors, rps,
               percentile(s.latencies_ms, 50), percentile(s.latencies_ms, 99),
               percentile(s.latencies_ms, 99.9))
        << '\n';
  } else {
    std::cout << fmt::format(
        "connections {}  seconds {:.2f}  ok {}  non-2xx {}  errors {}  req/s {:.0f}  "
        "p50 {:.3f} ms  p99 {:.3f} ms  p99.9 {:.3f} ms\n",
        opt.connections, elapsed, s.ok, s.non2xx, s.errors, rps, percentile(s.latencies_ms, 50),
        percentile(s.latencies_ms, 99), percentile(s.latencies_ms, 99.9));
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
                                 std::strerror(errno));
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
