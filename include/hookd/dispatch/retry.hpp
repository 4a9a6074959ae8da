#pragma once

#include <random>

#include <hookd/config/config.hpp>
#include <hookd/core/units.hpp>

namespace hookd::dispatch {

/// The delay before the next attempt, after attempt number `attempt` (1 = the first) failed.
/// Exponential backoff with "equal jitter": the nominal delay d = initial * 2^(attempt-1), capped
/// at `max`, and the result drawn uniformly from [d/2, d]. Half the delay is guaranteed (a failing
/// handler is not hammered), the other half spreads retries of many events apart.
/// Pure: the randomness comes from `rng` only.
duration next_delay(const config::retry_policy& policy, unsigned attempt, std::mt19937_64& rng);

/// The nominal (jitter-free) delay after attempt `attempt`: initial * 2^(attempt-1), capped at max.
duration nominal_delay(const config::retry_policy& policy, unsigned attempt) noexcept;

/// True when attempt number `attempt` was the last one the policy allows (attempts counts the
/// first): the delivery is then dead instead of retried.
bool exhausted(const config::retry_policy& policy, unsigned attempt) noexcept;

}  // namespace hookd::dispatch
