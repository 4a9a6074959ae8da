#include <algorithm>

#include <hookd/core/glob.hpp>
#include <hookd/dispatch/routes.hpp>

namespace hookd::dispatch {

namespace {

bool field_matches(const std::string& pattern, const std::string& value) {
  return pattern.empty() || glob_match(pattern, value);
}

}  // namespace

route_table::route_table(std::vector<config::route_spec> routes) : routes_(std::move(routes)) {}

std::vector<std::string> route_table::match(const event& ev) const {
  std::vector<std::string> names;
  for (const auto& r : routes_) {
    if (!field_matches(r.endpoint, ev.endpoint) || !field_matches(r.provider, ev.provider) ||
        !field_matches(r.type, ev.type)) {
      continue;
    }
    for (const auto& name : r.to) {
      // Routes name a handful of handlers: a linear scan beats a set here.
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

std::set<std::string> route_table::handler_names() const {
  std::set<std::string> names;
  for (const auto& r : routes_)
    names.insert(r.to.begin(), r.to.end());
  return names;
}

}  // namespace hookd::dispatch
