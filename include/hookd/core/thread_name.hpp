#pragma once

namespace hookd {

/// Names the calling thread, as `top -H`, `ps -L`, gdb and perf show it (Linux keeps 15
/// characters: a longer name is cut). Failure is ignored: a name is only a help.
void set_thread_name(const char* name) noexcept;

}  // namespace hookd
