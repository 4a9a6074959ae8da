// One endpoint is shared by every io thread: ingest() must give each request its own answer.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/providers/endpoint.hpp>

#include "support.hpp"

using namespace hookd;
using namespace hookd::providers;
using namespace hookd::providers::test;

TEST_CASE("ingest from many threads at once on one endpoint", "[concurrency]") {
  const endpoint ep(endpoint_spec("altoviz", "altoviz", {"old-secret", "new-secret"}),
                    altoviz_preset());
  constexpr int threads = 4;
  constexpr int per_thread = 300;
  std::atomic<int> right{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        test_request r;
        r.body = R"({"id":")" + id + R"(","type":"InvoiceCreated","data":{"id":)" +
                 std::to_string(i) + "}}";
        // Every third request is signed with a secret the endpoint does not know.
        const bool good = i % 3 != 0;
        r.headers.add("X-SIGNATURE",
                      sign(good ? (i % 2 ? "new-secret" : "old-secret") : "other", r.body));
        const auto result = ep.ingest(r.view());
        const auto* e = std::get_if<event>(&result);
        const bool ok = good ? (e != nullptr && e->id == id && e->subject == std::to_string(i))
                             : std::get<rejection>(result).reason == "bad_signature";
        (ok ? right : wrong).fetch_add(1);
      }
    });
  }
  for (auto& th : pool)
    th.join();
  CHECK(wrong.load() == 0);
  CHECK(right.load() == threads * per_thread);
}
