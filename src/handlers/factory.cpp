#include <stdexcept>
#include <type_traits>

#include <hookd/handlers/handler.hpp>

#include "exec_handler.hpp"
#include "file_handler.hpp"
#include "log_handler.hpp"

namespace hookd::handlers {

namespace {

// The one table from a config alternative to its handler: adding a handler type means adding a
// case here (and to config::handler_kind), nothing registers itself behind the scenes.
struct factory {
  const std::string& name;

  std::unique_ptr<handler> operator()(const config::log_handler&) const {
    return std::make_unique<detail::log_handler>(name);
  }
  std::unique_ptr<handler> operator()(const config::file_handler& spec) const {
    return std::make_unique<detail::file_handler>(name, spec);
  }
  std::unique_ptr<handler> operator()(const config::exec_handler& spec) const {
    return std::make_unique<detail::exec_handler>(name, spec);
  }
};

// The same table for `hookd check`: validation without side effects.
struct checker {
  const std::string& name;

  void operator()(const config::log_handler&) const {}
  void operator()(const config::file_handler& spec) const { detail::file_handler::check(spec); }
  void operator()(const config::exec_handler& spec) const {
    // Its constructor only validates (and warns about a command not found): nothing to undo.
    detail::exec_handler probe(name, spec);
  }
};

}  // namespace

std::unique_ptr<handler> make_handler(const config::handler_spec& spec) {
  return std::visit(factory{spec.name}, spec.kind);
}

void check_handler(const config::handler_spec& spec) {
  std::visit(checker{spec.name}, spec.kind);
}

}  // namespace hookd::handlers
