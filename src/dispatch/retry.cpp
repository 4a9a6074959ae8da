#include <algorithm>

#include <hookd/dispatch/retry.hpp>

namespace hookd::dispatch {

duration nominal_delay(const config::retry_policy& policy, unsigned attempt) noexcept {
  if (policy.initial <= duration::zero()) return duration::zero();
  duration d = std::min(policy.initial, policy.max);
  // Doubling step by step, capped each time, cannot overflow whatever the attempt number.
  for (unsigned i = 1; i < attempt && d < policy.max; ++i) {
    d = (d > policy.max / 2) ? policy.max : d * 2;
  }
  return std::min(d, policy.max);
}

duration next_delay(const config::retry_policy& policy, unsigned attempt, std::mt19937_64& rng) {
  const duration d = nominal_delay(policy, attempt);
  if (d <= duration::zero()) return duration::zero();
  // Equal jitter: uniform in [d/2, d] (d - d/2 keeps odd millisecond counts inside the bounds).
  std::uniform_int_distribution<duration::rep> jitter(0, d.count() - d.count() / 2);
  return duration{d.count() / 2 + jitter(rng)};
}

bool exhausted(const config::retry_policy& policy, unsigned attempt) noexcept {
  return attempt >= policy.attempts;
}

}  // namespace hookd::dispatch
