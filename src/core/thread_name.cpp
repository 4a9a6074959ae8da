#include <cstring>
#include <pthread.h>

#include <hookd/core/thread_name.hpp>

namespace hookd {

void set_thread_name(const char* name) noexcept {
  // The kernel's limit is 16 bytes with the terminating NUL; pthread_setname_np refuses longer.
  char buf[16] = {};
  std::strncpy(buf, name, sizeof buf - 1);
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace hookd
