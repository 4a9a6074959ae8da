#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/core/wakeup_batch.hpp>

namespace {

/// Records when it is woken, in a log shared with others.
class recorder final : public hookd::wakeable {
 public:
  recorder(int id, std::vector<int>& log) : id_(id), log_(log) {}
  void wake() noexcept override { log_.push_back(id_); }

 private:
  int id_;
  std::vector<int>& log_;
};

}  // namespace

TEST_CASE("wakeup batch: no batch open, nothing is deferred", "[core][wakeup]") {
  std::vector<int> log;
  CHECK_FALSE(hookd::wakeup_batch::defer(std::make_shared<recorder>(1, log)));
  CHECK(log.empty());  // the caller wakes it itself
}

TEST_CASE("wakeup batch: wakes what was deferred when it ends, in order", "[core][wakeup]") {
  std::vector<int> log;
  {
    const hookd::wakeup_batch batch;
    CHECK(hookd::wakeup_batch::defer(std::make_shared<recorder>(1, log)));
    CHECK(hookd::wakeup_batch::defer(std::make_shared<recorder>(2, log)));
    CHECK(log.empty());
  }
  CHECK(log == std::vector<int>{1, 2});
  // Closed: the next hand-over is not deferred.
  CHECK_FALSE(hookd::wakeup_batch::defer(std::make_shared<recorder>(3, log)));
}

TEST_CASE("wakeup batch: an inner batch defers to the outer one", "[core][wakeup]") {
  std::vector<int> log;
  {
    const hookd::wakeup_batch outer;
    {
      const hookd::wakeup_batch inner;
      CHECK(hookd::wakeup_batch::defer(std::make_shared<recorder>(1, log)));
    }
    CHECK(log.empty());  // the inner one's end woke nothing
  }
  CHECK(log == std::vector<int>{1});
}
