#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include <hookd/metrics/metrics.hpp>

namespace hookd::metrics {
namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

void check_names(const std::string& name, const std::vector<std::string>& label_names,
                 bool histogram) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name: " + name);
  const auto fail = [&name](std::string_view problem, const std::string& label) {
    std::string message = name;
    message += ": ";
    message += problem;
    message += label;
    throw std::invalid_argument(message);
  };
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const auto& l = label_names[i];
    if (!valid_label_name(l)) fail("invalid label name: ", l);
    // `le` is the bucket label of histograms; on other types it would confuse readers.
    if (histogram && l == "le") fail("label name le is reserved", {});
    for (std::size_t j = 0; j < i; ++j) {
      if (label_names[j] == l) fail("label name twice: ", l);
    }
  }
}

void check_bounds(const std::string& name, const std::vector<double>& bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      throw std::invalid_argument(name + ": bucket bounds must be finite and strictly increasing");
    }
  }
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void render_header(std::string& out, const std::string& name, const std::string& help,
                   std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape_help(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

/// `{a="x",b="y"}`, with an optional extra label (le) last; "" without any label.
void render_labels(std::string& out, const std::vector<std::string>& names,
                   const label_values& values, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void render_sample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                   const label_values& values, const std::string& value,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  render_labels(out, names, values, extra_name, extra_value);
  out += ' ';
  out += value;
  out += '\n';
}

template <class Series>
constexpr std::string_view type_name() {
  if constexpr (std::is_same_v<Series, counter>) {
    return "counter";
  } else if constexpr (std::is_same_v<Series, gauge>) {
    return "gauge";
  } else {
    return "histogram";
  }
}

/// A gauge family whose samples come from a function at scrape time.
class callback_family final : public detail::family_base {
 public:
  callback_family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::function<std::vector<sample>()> read)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        read_(std::move(read)) {}

  void render(std::string& out) const override {
    std::vector<sample> samples;
    try {
      samples = read_();
    } catch (const std::exception&) {
      // A failing source (spool busy) must not cost the whole scrape: the metric is absent,
      // which alerting on absent() can catch.
      out += "# " + name_ + ": not available in this scrape\n";
      return;
    }
    render_header(out, name_, help_, "gauge");
    std::sort(samples.begin(), samples.end(),
              [](const sample& a, const sample& b) { return a.labels < b.labels; });
    for (const auto& s : samples) {
      if (s.labels.size() != label_names_.size()) continue;  // malformed sample: skipped
      render_sample(out, name_, label_names_, s.labels, format_value(s.value));
    }
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::vector<sample>()> read_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void histogram::observe(double v) noexcept {
  // First bound >= v ("le" is inclusive); NaN and values above every bound land in +Inf.
  std::size_t index = bounds_.size();
  if (!std::isnan(v)) {
    index = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                     bounds_.begin());
  }
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.bounds = bounds_;
  s.buckets.resize(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.buckets[i] = total;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> default_duration_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  if (!(start > 0) || !(factor > 1) || count == 0) {
    throw std::invalid_argument("exponential_buckets: needs start > 0, factor > 1, count >= 1");
  }
  std::vector<double> out;
  out.reserve(count);
  double v = start;
  for (std::size_t i = 0; i < count; ++i, v *= factor)
    out.push_back(v);
  return out;
}

// ---------------------------------------------------------------------------------------------

template <class Series>
family<Series>::family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <class Series>
Series& family<Series>::with(const label_values& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("{}: {} label values given, {} expected", name_,
                                            values.size(), label_names_.size()));
  }
  std::lock_guard lock(mutex_);
  auto& slot = series_[values];
  if (!slot) {
    if constexpr (std::is_same_v<Series, histogram>) {
      slot = std::make_unique<histogram>(bounds_);
    } else {
      slot = std::make_unique<Series>();
    }
  }
  return *slot;
}

template <class Series>
void family<Series>::render(std::string& out) const {
  render_header(out, name_, help_, type_name<Series>());
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    if constexpr (std::is_same_v<Series, counter>) {
      render_sample(out, name_, label_names_, values, std::to_string(series->value()));
    } else if constexpr (std::is_same_v<Series, gauge>) {
      render_sample(out, name_, label_names_, values, format_value(series->value()));
    } else {
      const auto s = series->read();
      const std::string bucket = name_ + "_bucket";
      for (std::size_t i = 0; i < s.bounds.size(); ++i) {
        render_sample(out, bucket, label_names_, values, std::to_string(s.buckets[i]), "le",
                      format_value(s.bounds[i]));
      }
      render_sample(out, bucket, label_names_, values, std::to_string(s.count()), "le", "+Inf");
      render_sample(out, name_ + "_sum", label_names_, values, format_value(s.sum));
      render_sample(out, name_ + "_count", label_names_, values, std::to_string(s.count()));
    }
  }
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

// ---------------------------------------------------------------------------------------------

void registry::add(std::vector<std::string> names, std::unique_ptr<detail::family_base> f) {
  std::lock_guard lock(mutex_);
  for (const auto& n : names) {
    if (std::find(names_.begin(), names_.end(), n) != names_.end()) {
      throw std::invalid_argument("metric name used twice: " + n);
    }
  }
  names_.insert(names_.end(), names.begin(), names.end());
  families_.push_back(std::move(f));
}

counter_family& registry::counter(const std::string& name, std::string help,
                                  std::vector<std::string> label_names) {
  check_names(name, label_names, false);
  auto f = std::make_unique<counter_family>(name, std::move(help), std::move(label_names));
  auto& ref = *f;
  add({name}, std::move(f));
  return ref;
}

gauge_family& registry::gauge(const std::string& name, std::string help,
                              std::vector<std::string> label_names) {
  check_names(name, label_names, false);
  auto f = std::make_unique<gauge_family>(name, std::move(help), std::move(label_names));
  auto& ref = *f;
  add({name}, std::move(f));
  return ref;
}

histogram_family& registry::histogram(const std::string& name, std::string help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds) {
  check_names(name, label_names, true);
  check_bounds(name, bounds);
  auto f = std::make_unique<histogram_family>(name, std::move(help), std::move(label_names),
                                              std::move(bounds));
  auto& ref = *f;
  // A histogram's samples use three names; none may collide with another metric's.
  add({name, name + "_bucket", name + "_sum", name + "_count"}, std::move(f));
  return ref;
}

void registry::callback_gauge(const std::string& name, std::string help,
                              std::function<double()> read) {
  callback_gauge(name, std::move(help), {}, [read = std::move(read)] {
    return std::vector<sample>{{{}, read()}};
  });
}

void registry::callback_gauge(const std::string& name, std::string help,
                              std::vector<std::string> label_names,
                              std::function<std::vector<sample>()> read) {
  check_names(name, label_names, false);
  auto f = std::make_unique<callback_family>(name, std::move(help), std::move(label_names),
                                             std::move(read));
  add({name}, std::move(f));
}

std::string registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& f : families_)
    f->render(out);
  return out;
}

// ---------------------------------------------------------------------------------------------

bool valid_metric_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) noexcept {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace hookd::metrics
