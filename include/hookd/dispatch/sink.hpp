#pragma once

#include <functional>

#include <hookd/core/event.hpp>

namespace hookd::dispatch {

enum class submit_status {
  accepted,     ///< stored: answer 200 accepted
  duplicate,    ///< (endpoint, id) already stored: answer 200 duplicate, nothing dispatched
  unavailable,  ///< cannot store now (queue full, disk full): answer 503 with Retry-After
};

/// Where the request path hands a verified, normalized event. The completion runs exactly once,
/// on any thread (the caller posts back to its own executor); submit() never blocks.
class event_sink {
 public:
  virtual ~event_sink() = default;
  virtual void submit(event ev, std::function<void(submit_status)> done) = 0;
};

}  // namespace hookd::dispatch
