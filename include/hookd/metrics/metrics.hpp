#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

/// Prometheus metrics: counters, gauges, histograms with labels, and gauges computed at scrape
/// time, rendered in the text exposition format 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/).
///
/// The hot path touches only atomics: a caller looks a labelled series up once (`with(...)`, which
/// locks its family) and keeps the returned reference, which stays valid as long as the registry
/// lives. `inc`/`set`/`observe` are lock-free and may be called from any thread.
///
/// Registration (`registry::counter(...)` etc.) validates names and throws std::invalid_argument on
/// a bad or duplicate name: it happens at start-up. `with()` throws std::invalid_argument when the
/// number of label values differs from the family's label names: a programming error, the same on
/// every call, never caused by input.
namespace hookd::metrics {

/// A monotonically increasing count. Lock-free.
class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down. Lock-free.
class gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
  void inc() noexcept { add(1); }
  void dec() noexcept { add(-1); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Observations counted into buckets with fixed upper bounds (plus +Inf), with their sum.
/// Lock-free; a scrape concurrent with observe() may see the sum and the buckets of slightly
/// different moments, as with every Prometheus client. `_count` is rendered as the +Inf bucket, so
/// the two always agree.
class histogram {
 public:
  /// `bounds`: finite, strictly increasing upper bounds (validated by the family).
  explicit histogram(std::vector<double> bounds);

  void observe(double v) noexcept;

  struct snapshot {
    std::vector<double> bounds;          ///< upper bounds, without +Inf
    std::vector<std::uint64_t> buckets;  ///< cumulative counts, one per bound, then +Inf
    double sum = 0;
    std::uint64_t count() const noexcept { return buckets.empty() ? 0 : buckets.back(); }
  };
  snapshot read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  ///< per bucket, not cumulative; +Inf last
  std::atomic<double> sum_{0};
};

/// Bounds for request and handler durations in seconds: 5ms … 10s.
std::vector<double> default_duration_buckets();
/// `count` bounds: start, start*factor, start*factor², … (start > 0, factor > 1).
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

/// Label values, in the order of the family's label names.
using label_values = std::vector<std::string>;

/// One sample of a callback gauge.
struct sample {
  label_values labels;
  double value = 0;
};

namespace detail {
class family_base {
 public:
  virtual ~family_base() = default;
  virtual void render(std::string& out) const = 0;
};
}  // namespace detail

/// The series of one metric name, one per combination of label values. Thread-safe.
template <class Series>
class family final : public detail::family_base {
 public:
  /// The series for these label values, created (at zero) on first use. The reference stays valid
  /// for the registry's lifetime: keep it rather than looking it up per event.
  Series& with(const label_values& values);
  Series& with(std::initializer_list<std::string_view> values) {
    return with(label_values(values.begin(), values.end()));
  }

  /// The series of a family without labels.
  Series& get() { return with(label_values{}); }

  const std::string& name() const noexcept { return name_; }

  // Internal: created by registry.
  family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {});
  void render(std::string& out) const override;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<label_values, std::unique_ptr<Series>> series_;  // sorted: stable output
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

/// All metrics of a process, rendered in registration order. Thread-safe. Not copyable or movable:
/// series references point into it.
class registry {
 public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  counter_family& counter(const std::string& name, std::string help,
                          std::vector<std::string> label_names = {});
  gauge_family& gauge(const std::string& name, std::string help,
                      std::vector<std::string> label_names = {});
  /// `bounds`: finite and strictly increasing; +Inf is added.
  histogram_family& histogram(const std::string& name, std::string help,
                              std::vector<std::string> label_names,
                              std::vector<double> bounds = default_duration_buckets());

  /// A gauge computed at scrape time, e.g. pending deliveries read from the spool. `read` runs on
  /// the scraping thread, under the registry's lock: it must not call into this registry, and
  /// should be quick. An exception from it drops the metric from that scrape (a "# " comment
  /// line says so) rather than failing the scrape.
  void callback_gauge(const std::string& name, std::string help, std::function<double()> read);
  /// The same with labels: `read` returns one sample per series.
  void callback_gauge(const std::string& name, std::string help,
                      std::vector<std::string> label_names,
                      std::function<std::vector<sample>()> read);

  /// The text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8).
  std::string render() const;

 private:
  void add(std::vector<std::string> names, std::unique_ptr<detail::family_base> f);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<detail::family_base>> families_;
  std::vector<std::string> names_;  // every sample name in use, histograms' suffixes included
};

/// The Content-Type of render()'s output.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

/// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name) noexcept;
/// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus).
bool valid_label_name(std::string_view name) noexcept;
/// A label value with backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);
/// A sample value: shortest round-trip decimal, or +Inf, -Inf, NaN.
std::string format_value(double v);

}  // namespace hookd::metrics
