#include <cstdio>

int main() {
  std::puts("hookd " HOOKD_VERSION);
  return 0;
}
