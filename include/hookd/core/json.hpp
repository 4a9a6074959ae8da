#pragma once

#include <nlohmann/json.hpp>

namespace hookd {

/// hookd keeps JSON objects in document order, so an event's `data` reads as the provider sent it
/// and the CloudEvents attributes come out in a stable, readable order.
using json = nlohmann::ordered_json;

}  // namespace hookd
