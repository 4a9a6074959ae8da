#include <array>
#include <charconv>
#include <limits>
#include <utility>

#include <hookd/core/units.hpp>

namespace hookd {
namespace {

// Splits "123unit" into its number and its unit; nullopt when there is no leading number.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
  std::uint64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || ptr == first) return std::nullopt;
  return std::pair{value, text.substr(static_cast<std::size_t>(ptr - first))};
}

std::optional<std::uint64_t> multiply(std::uint64_t value, std::uint64_t factor) {
  if (factor != 0 && value > std::numeric_limits<std::uint64_t>::max() / factor)
    return std::nullopt;
  return value * factor;
}

struct unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::array duration_units{unit{"ms", 1}, unit{"s", 1000}, unit{"m", 60'000},
                                    unit{"h", 3'600'000}, unit{"d", 86'400'000}};

constexpr std::array size_units{unit{"B", 1},
                                unit{"KiB", 1ULL << 10},
                                unit{"MiB", 1ULL << 20},
                                unit{"GiB", 1ULL << 30},
                                unit{"kB", 1000},
                                unit{"MB", 1000ULL * 1000},
                                unit{"GB", 1000ULL * 1000 * 1000}};

}  // namespace

std::optional<duration> parse_duration(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  for (const auto& u : duration_units) {
    if (u.name != parts->second) continue;
    auto ms = multiply(parts->first, u.factor);
    if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max())) {
      return std::nullopt;
    }
    return duration{static_cast<duration::rep>(*ms)};
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  if (parts->second.empty()) return parts->first;
  for (const auto& u : size_units) {
    if (u.name == parts->second) return multiply(parts->first, u.factor);
  }
  return std::nullopt;
}

std::string format_duration(duration d) {
  const auto ms = static_cast<std::uint64_t>(d.count());
  for (auto it = duration_units.rbegin(); it != duration_units.rend(); ++it) {
    if (ms != 0 && ms % it->factor == 0)
      return std::to_string(ms / it->factor) + std::string(it->name);
  }
  return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
  constexpr std::array binary{unit{"GiB", 1ULL << 30}, unit{"MiB", 1ULL << 20},
                              unit{"KiB", 1ULL << 10}};
  for (const auto& u : binary) {
    if (bytes != 0 && bytes % u.factor == 0)
      return std::to_string(bytes / u.factor) + std::string(u.name);
  }
  return std::to_string(bytes) + "B";
}

}  // namespace hookd
