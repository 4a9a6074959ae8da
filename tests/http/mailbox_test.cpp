// The mailbox that brings the sink's completions back to an io thread (src/http/mailbox.hpp).

#include "mailbox.hpp"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <hookd/core/wakeup_batch.hpp>

using hookd::http::detail::completion_mailbox;
namespace net = boost::asio;

TEST_CASE("mailbox: a burst handed over from another thread runs in one handler, in order",
          "[http][mailbox]") {
  net::io_context io(1);
  auto box = std::make_shared<completion_mailbox>(io.get_executor());
  std::vector<int> ran;
  std::vector<std::thread::id> on;
  std::thread writer([&] {
    for (int i = 0; i < 100; ++i) {
      box->post([&, i] {
        ran.push_back(i);
        on.push_back(std::this_thread::get_id());
      });
    }
  });
  writer.join();
  CHECK(ran.empty());  // never inline

  // One wake-up for the whole burst: a single handler ran all of them.
  CHECK(io.poll() == 1);
  REQUIRE(ran.size() == 100);
  for (int i = 0; i < 100; ++i)
    CHECK(ran[static_cast<std::size_t>(i)] == i);
  for (const auto& id : on)
    CHECK(id == std::this_thread::get_id());  // the thread running the io_context

  // Handed over again after the drain: a new handler is posted.
  box->post([&] { ran.push_back(100); });
  io.restart();
  CHECK(io.poll() == 1);
  CHECK(ran.size() == 101);
}

TEST_CASE("mailbox: inside a wakeup batch the io thread is woken once, when the batch ends",
          "[http][mailbox]") {
  // An io thread that keeps up would otherwise take a group commit's answers one by one.
  net::io_context io(1);
  auto box = std::make_shared<completion_mailbox>(io.get_executor());
  int ran = 0;
  std::atomic<int> stage{0};  // 1: the first answer is posted, the batch open; 2: go on
  std::thread writer([&] {
    const hookd::wakeup_batch batch;
    box->post([&] { ++ran; });
    stage = 1;
    stage.notify_all();
    stage.wait(1);  // while the io thread looks
    box->post([&] { ++ran; });
  });  // the batch ends with the thread's function
  stage.wait(0);
  CHECK(io.poll() == 0);  // nothing posted yet: not woken for the first answer
  stage = 2;
  stage.notify_all();
  writer.join();
  io.restart();
  CHECK(io.poll() == 1);  // one drain for both
  CHECK(ran == 2);
}

TEST_CASE("mailbox: what is posted while a drain runs goes to the next one", "[http][mailbox]") {
  net::io_context io(1);
  auto box = std::make_shared<completion_mailbox>(io.get_executor());
  int ran = 0;
  box->post([&] {
    ++ran;
    box->post([&] { ++ran; });  // from the io thread, during the drain
  });
  CHECK(io.poll_one() == 1);
  CHECK(ran == 1);
  io.restart();
  CHECK(io.poll() == 1);
  CHECK(ran == 2);
}

TEST_CASE("mailbox: a function that throws does not keep the others from running",
          "[http][mailbox]") {
  net::io_context io(1);
  auto box = std::make_shared<completion_mailbox>(io.get_executor());
  int ran = 0;
  box->post([&] { ++ran; });
  box->post([] { throw std::runtime_error("must not throw, but did"); });
  box->post([&] { ++ran; });
  CHECK(io.poll() == 1);
  CHECK(ran == 2);
}

TEST_CASE("mailbox: discard() releases what never ran, and it never runs", "[http][mailbox]") {
  auto io = std::make_unique<net::io_context>(1);
  auto box = std::make_shared<completion_mailbox>(io->get_executor());
  auto held = std::make_shared<int>(7);  // stands for a session the function keeps alive
  bool ran = false;
  box->post([held, &ran] { ran = true; });
  CHECK(held.use_count() == 2);
  io->stop();  // the server stopped: the drain stays queued

  box->discard();
  CHECK(held.use_count() == 1);  // released while the io_context still exists
  io.reset();                    // destroys the queued drain unrun
  CHECK_FALSE(ran);
  CHECK(box.use_count() == 1);  // the destroyed drain held the only other reference
}
