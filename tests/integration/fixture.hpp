#pragma once

#include <csignal>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <hookd/core/json.hpp>

#include "hmac.hpp"
#include "http_client.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace hookd::it {

using namespace std::chrono_literals;

// Literal test credentials, only ever used against a hookd started by these tests.
inline const std::string altoviz_secret = "it-altoviz-secret-1";
inline const std::string offerte_secret = "it-offerte-secret-2";
inline const std::string alphatouch_key = "it-alphatouch-key-3";
inline const std::string weavy_token = "it-weavy-token-4";

/// The server keys a test may change; the rest of the config is fixed.
struct server_settings {
  std::string max_body = "4KiB";
  std::string max_header = "2KiB";
  std::string request_timeout = "10s";
  std::string idle_timeout = "10s";
  std::string shutdown_grace = "10s";
  std::string max_connections = "100";
};

/// The config every integration test runs: the four seed providers, one `file` handler.
inline std::string make_config(const test::temp_dir& dir, const server_settings& s = {}) {
  std::ostringstream out;
  out << "server:\n"
      << "  listen: \"127.0.0.1:0\"\n"
      << "  threads: 2\n"
      << "  max_body: " << s.max_body << "\n"
      << "  max_header: " << s.max_header << "\n"
      << "  request_timeout: " << s.request_timeout << "\n"
      << "  idle_timeout: " << s.idle_timeout << "\n"
      << "  shutdown_grace: " << s.shutdown_grace << "\n"
      << "  max_connections: " << s.max_connections << "\n"
      << "admin:\n"
      << "  listen: \"127.0.0.1:0\"\n"
      << "spool:\n"
      << "  path: \"" << (dir / "hookd.db").string() << "\"\n"
      << "log:\n"
      << "  level: debug\n"
      << "endpoints:\n"
      << "  altoviz: {provider: altoviz, secret: \"" << altoviz_secret << "\"}\n"
      << "  offerte: {provider: offerte-adviseur, secret: \"" << offerte_secret << "\"}\n"
      << "  alphatouch: {provider: alphatouch, api_key: \"" << alphatouch_key << "\"}\n"
      << "  weavy: {provider: weavy, token: \"" << weavy_token << "\"}\n"
      << "handlers:\n"
      << "  audit: {type: file, path: \"" << (dir / "events.jsonl").string() << "\"}\n"
      << "routes:\n"
      << "  - to: [audit]\n";
  return out.str();
}

/// A hookd started for one test on 127.0.0.1 with an ephemeral port, in its own directory.
struct running_hookd {
  explicit running_hookd(const server_settings& s = {})
      : config(dir.write("hookd.yaml", make_config(dir, s))),
        events(dir / "events.jsonl"),
        hookd(HOOKD_BINARY, config, dir / "hookd.log") {}

  std::uint16_t port() const { return hookd.port(); }
  std::string log() const { return hookd.log(); }

  test::temp_dir dir;
  std::filesystem::path config;
  std::filesystem::path events;
  test::hookd_process hookd;
};

/// Polls `cond` until it holds or `timeout` passes; its last value.
inline bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

/// SIGTERM, then hookd must exit 0 (a graceful stop) within 30 s.
inline void stop_cleanly(test::hookd_process& h) {
  h.process().signal(SIGTERM);
  const auto code = h.process().wait_exit(30s);
  REQUIRE(code);
  CHECK(*code == 0);
}

/// A POST with a JSON body and the given headers.
inline std::string post(const std::string& target, const std::string& body,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
  headers.emplace_back("Content-Type", "application/json");
  return test::make_request("POST", target, headers, body);
}

inline std::string altoviz_request(const std::string& body) {
  return post("/hooks/altoviz", body,
              {{"X-SIGNATURE", test::hmac_sha256_hex(altoviz_secret, body)}});
}

/// A file-handler line with `time` checked for shape and removed (it is when hookd received it).
inline json without_time(const std::string& line) {
  json j = json::parse(line);
  const auto time = j.at("time").get<std::string>();
  // 2026-11-22T10:00:00.123Z
  const bool shaped = time.size() == 24 && time[4] == '-' && time[10] == 'T' && time[19] == '.' &&
                      time.back() == 'Z';
  if (!shaped) throw std::runtime_error("bad time attribute: " + time);
  j.erase("time");
  return j;
}

}  // namespace hookd::it
