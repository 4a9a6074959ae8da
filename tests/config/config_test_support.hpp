#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <hookd/config/loader.hpp>

namespace hookd::test {

/// The problems load_text reports for `text` (empty when it loads).
inline std::vector<std::string> problems_of(std::string_view text,
                                            const std::string& file = "hookd.yaml",
                                            config::format fmt = config::format::detect) {
  try {
    config::load_text(text, file, fmt);
  } catch (const config::config_error& e) {
    return e.problems();
  }
  return {};
}

/// Sets an environment variable for the lifetime of the object (unset when `value` is null),
/// restoring its previous state afterwards.
class scoped_env {
 public:
  scoped_env(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) previous_ = old;
    had_ = std::getenv(name_.c_str()) != nullptr;
    if (value != nullptr) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~scoped_env() {
    if (had_) {
      ::setenv(name_.c_str(), previous_.c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
  std::string previous_;
  bool had_ = false;
};

}  // namespace hookd::test
