#include <fstream>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <hookd/core/thread_name.hpp>

namespace {

/// The name the kernel holds for the calling thread.
std::string own_comm() {
  std::ifstream in("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace

TEST_CASE("a thread is named as given, cut to the kernel's 15 characters", "[core]") {
  std::string short_name;
  std::string long_name;
  std::thread t([&] {
    hookd::set_thread_name("hookd-writer");
    short_name = own_comm();
    hookd::set_thread_name("hookd-a-name-longer-than-fifteen");
    long_name = own_comm();
  });
  t.join();
  CHECK(short_name == "hookd-writer");
  CHECK(long_name == "hookd-a-name-lo");
}
