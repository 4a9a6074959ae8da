#pragma once

#include <set>
#include <string>
#include <vector>

#include <hookd/config/config.hpp>
#include <hookd/core/event.hpp>

namespace hookd::dispatch {

/// The config's routes, evaluated per event. Immutable after construction: match() is safe from
/// any number of threads.
class route_table {
 public:
  route_table() = default;
  explicit route_table(std::vector<config::route_spec> routes);

  /// The handler names the event goes to: every route whose match fields all match (an empty
  /// field matches anything; values are globs on endpoint, provider and type), their `to` lists
  /// concatenated in route order with repeats removed (first occurrence kept).
  std::vector<std::string> match(const event& ev) const;

  /// Every handler name any route mentions (to check them against the handlers at start-up).
  std::set<std::string> handler_names() const;

  const std::vector<config::route_spec>& routes() const noexcept { return routes_; }

 private:
  std::vector<config::route_spec> routes_;
};

}  // namespace hookd::dispatch
