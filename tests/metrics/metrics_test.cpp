#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <hookd/metrics/metrics.hpp>

namespace {

using namespace hookd::metrics;

// ---------------------------------------------------------------------------------------------
// A small parser of the text exposition format 0.0.4, written from the spec rather than from
// the renderer: it rejects what a Prometheus server would reject and returns every sample.

struct parsed_sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct parsed {
  std::map<std::string, std::string> types;  // metric name -> counter|gauge|histogram|...
  std::map<std::string, std::string> helps;
  std::vector<parsed_sample> samples;

  std::vector<parsed_sample> find(const std::string& name) const {
    std::vector<parsed_sample> out;
    for (const auto& s : samples) {
      if (s.name == name) out.push_back(s);
    }
    return out;
  }
  /// The value of the one sample with this name and these labels; throws when absent.
  double value(const std::string& name,
               const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    throw std::runtime_error("no sample " + name);
  }
};

const std::regex metric_name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
const std::regex label_name_re("[a-zA-Z_][a-zA-Z0-9_]*");

double parse_number(const std::string& text) {
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  std::size_t used = 0;
  double v = std::stod(text, &used);
  if (used != text.size()) throw std::runtime_error("bad number: " + text);
  return v;
}

/// The metric a sample belongs to: histogram samples carry _bucket/_sum/_count.
std::string family_of(const parsed& p, const std::string& sample_name) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (sample_name.size() > s.size() &&
        sample_name.compare(sample_name.size() - s.size(), s.size(), s) == 0) {
      auto base = sample_name.substr(0, sample_name.size() - s.size());
      auto it = p.types.find(base);
      if (it != p.types.end() && it->second == "histogram") return base;
    }
  }
  return sample_name;
}

parsed parse_exposition(const std::string& text) {
  parsed p;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("no final newline");
  std::istringstream in(text);
  std::string line;
  std::set<std::string> seen_series;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name;
      words >> keyword >> name;
      if (keyword == "HELP" || keyword == "TYPE") {
        if (!std::regex_match(name, metric_name_re)) throw std::runtime_error("bad name: " + line);
        std::string rest;
        std::getline(words, rest);
        if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
        if (keyword == "TYPE") {
          static const std::set<std::string> types{"counter", "gauge", "histogram", "summary",
                                                   "untyped"};
          if (!types.count(rest)) throw std::runtime_error("bad type: " + line);
          if (p.types.count(name)) throw std::runtime_error("TYPE twice: " + line);
          if (!p.find(name).empty()) throw std::runtime_error("TYPE after samples: " + line);
          p.types[name] = rest;
        } else {
          p.helps[name] = rest;
        }
      }
      continue;
    }
    parsed_sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, metric_name_re)) throw std::runtime_error("bad name: " + line);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        auto eq = line.find('=', i);
        if (eq == std::string::npos) throw std::runtime_error("no '=': " + line);
        std::string lname = line.substr(i, eq - i);
        if (!std::regex_match(lname, label_name_re)) throw std::runtime_error("bad label: " + line);
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') throw std::runtime_error("no quote: " + line);
        ++i;
        std::string value;
        for (;;) {
          if (i >= line.size()) throw std::runtime_error("unterminated value: " + line);
          char c = line[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= line.size()) throw std::runtime_error("bad escape: " + line);
            char e = line[i++];
            if (e == 'n') {
              value += '\n';
            } else if (e == '\\' || e == '"') {
              value += e;
            } else {
              throw std::runtime_error("bad escape: " + line);
            }
          } else {
            value += c;
          }
        }
        if (s.labels.count(lname)) throw std::runtime_error("label twice: " + line);
        s.labels[lname] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) throw std::runtime_error("unterminated labels: " + line);
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') throw std::runtime_error("no value: " + line);
    s.value = parse_number(line.substr(i + 1));
    const auto family = family_of(p, s.name);
    if (!p.types.count(family)) throw std::runtime_error("sample before its TYPE: " + line);
    std::ostringstream key;
    key << s.name;
    for (const auto& [k, v] : s.labels)
      key << '\x1f' << k << '=' << v;
    if (!seen_series.insert(key.str()).second) throw std::runtime_error("series twice: " + line);
    p.samples.push_back(std::move(s));
  }
  return p;
}

/// Histogram invariants: buckets cumulative (non-decreasing by le), +Inf present and equal to
/// _count, for every label set.
void check_histogram(const parsed& p, const std::string& name) {
  std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> by_labels;
  for (const auto& s : p.find(name + "_bucket")) {
    auto labels = s.labels;
    REQUIRE(labels.count("le") == 1);
    double le = parse_number(labels["le"]);
    labels.erase("le");
    by_labels[labels].emplace_back(le, s.value);
  }
  REQUIRE_FALSE(by_labels.empty());
  for (auto& [labels, buckets] : by_labels) {
    std::sort(buckets.begin(), buckets.end());
    for (std::size_t i = 1; i < buckets.size(); ++i) {
      CHECK(buckets[i].second >= buckets[i - 1].second);
    }
    REQUIRE(std::isinf(buckets.back().first));
    CHECK(buckets.back().second == p.value(name + "_count", labels));
    CHECK_NOTHROW(p.value(name + "_sum", labels));
  }
}

}  // namespace

TEST_CASE("metrics: counters render with HELP, TYPE and escaped labels, and move") {
  registry r;
  auto& requests = r.counter("hookd_requests_total", "HTTP requests by endpoint and status.",
                             {"endpoint", "status"});
  auto& ok = requests.with({"altoviz", "200"});
  auto& denied = requests.with({"altoviz", "401"});
  ok.inc();
  ok.inc(2);
  denied.inc();
  requests.with({"we\"ird\\name\nx", "200"}).inc(5);

  const auto text = r.render();
  const auto p = parse_exposition(text);
  CHECK(p.types.at("hookd_requests_total") == "counter");
  CHECK(p.helps.at("hookd_requests_total") == "HTTP requests by endpoint and status.");
  CHECK(p.value("hookd_requests_total", {{"endpoint", "altoviz"}, {"status", "200"}}) == 3);
  CHECK(p.value("hookd_requests_total", {{"endpoint", "altoviz"}, {"status", "401"}}) == 1);
  CHECK(p.value("hookd_requests_total", {{"endpoint", "we\"ird\\name\nx"}, {"status", "200"}}) ==
        5);
  CHECK(text.find(R"(endpoint="we\"ird\\name\nx")") != std::string::npos);

  // The same label values give the same series.
  CHECK(&requests.with({"altoviz", "200"}) == &ok);
  ok.inc();
  CHECK(parse_exposition(r.render())
            .value("hookd_requests_total", {{"endpoint", "altoviz"}, {"status", "200"}}) == 4);
}

TEST_CASE("metrics: HELP text escapes backslash and newline") {
  registry r;
  r.counter("x_total", "line one\nline \\two").get().inc();
  const auto text = r.render();
  CHECK(text.find("# HELP x_total line one\\nline \\\\two\n") != std::string::npos);
  CHECK_NOTHROW(parse_exposition(text));
}

TEST_CASE("metrics: gauges go up, down and to any value") {
  registry r;
  auto& g = r.gauge("hookd_pending", "Pending deliveries.").get();
  g.inc();
  g.inc();
  g.dec();
  CHECK(parse_exposition(r.render()).value("hookd_pending") == 1);
  g.set(-2.5);
  CHECK(parse_exposition(r.render()).value("hookd_pending") == -2.5);
  g.set(INFINITY);
  CHECK(r.render().find("hookd_pending +Inf\n") != std::string::npos);
}

TEST_CASE("metrics: histograms are cumulative with +Inf, _sum and _count") {
  registry r;
  auto& h = r.histogram("hookd_request_duration_seconds", "Request duration.", {"endpoint"},
                        {0.1, 0.5, 1});
  auto& a = h.with({"a"});
  a.observe(0.05);  // le 0.1
  a.observe(0.1);   // le 0.1: bounds are inclusive
  a.observe(0.3);   // le 0.5
  a.observe(7);     // +Inf only
  h.with({"b"}).observe(0.7);

  const auto p = parse_exposition(r.render());
  CHECK(p.types.at("hookd_request_duration_seconds") == "histogram");
  check_histogram(p, "hookd_request_duration_seconds");
  const auto bucket = [&](const std::string& ep, const std::string& le) {
    return p.value("hookd_request_duration_seconds_bucket", {{"endpoint", ep}, {"le", le}});
  };
  CHECK(bucket("a", "0.1") == 2);
  CHECK(bucket("a", "0.5") == 3);
  CHECK(bucket("a", "1") == 3);
  CHECK(bucket("a", "+Inf") == 4);
  CHECK(p.value("hookd_request_duration_seconds_count", {{"endpoint", "a"}}) == 4);
  CHECK(p.value("hookd_request_duration_seconds_sum", {{"endpoint", "a"}}) ==
        Approx(0.05 + 0.1 + 0.3 + 7));
  CHECK(bucket("b", "0.5") == 0);
  CHECK(bucket("b", "1") == 1);
}

TEST_CASE("metrics: a NaN observation counts only in +Inf") {
  registry r;
  auto& h = r.histogram("h_seconds", "h", {}, {1, 2}).get();
  h.observe(NAN);
  const auto s = h.read();
  CHECK(s.buckets == std::vector<std::uint64_t>{0, 0, 1});
}

TEST_CASE("metrics: callback gauges are read at scrape time") {
  registry r;
  double pending = 3;
  r.callback_gauge("hookd_deliveries_pending", "Deliveries waiting.", [&] { return pending; });
  r.callback_gauge("hookd_deliveries", "Deliveries by state.", {"state"}, [&] {
    return std::vector<sample>{{{"pending"}, pending}, {{"dead"}, 1}};
  });
  r.callback_gauge("hookd_broken", "Fails.", []() -> double { throw std::runtime_error("busy"); });

  auto p = parse_exposition(r.render());
  CHECK(p.types.at("hookd_deliveries_pending") == "gauge");
  CHECK(p.value("hookd_deliveries_pending") == 3);
  CHECK(p.value("hookd_deliveries", {{"state", "dead"}}) == 1);
  CHECK(p.find("hookd_broken").empty());  // dropped from this scrape, the rest still renders
  pending = 42;
  p = parse_exposition(r.render());
  CHECK(p.value("hookd_deliveries_pending") == 42);
  CHECK(p.value("hookd_deliveries", {{"state", "pending"}}) == 42);
}

TEST_CASE("metrics: names, labels and bounds are validated at registration") {
  registry r;
  CHECK_THROWS_AS(r.counter("1abc", "h"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("a-b", "h"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("", "h"), std::invalid_argument);
  CHECK_NOTHROW(r.counter("ns:sub_name_total", "h"));
  CHECK_THROWS_AS(r.counter("ns:sub_name_total", "h"), std::invalid_argument);  // twice
  CHECK_THROWS_AS(r.gauge("g", "h", {"a:b"}), std::invalid_argument);
  CHECK_THROWS_AS(r.gauge("g", "h", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(r.gauge("g", "h", {"x", "x"}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h1", "h", {"le"}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h2", "h", {}, {1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h3", "h", {}, {2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h4", "h", {}, {1, INFINITY}), std::invalid_argument);
  r.histogram("lat", "h", {});
  CHECK_THROWS_AS(r.counter("lat_count", "h"), std::invalid_argument);  // collides with lat's

  auto& f = r.counter("c_total", "h", {"a", "b"});
  CHECK_THROWS_AS(f.with({"only-one"}), std::invalid_argument);
  CHECK(valid_metric_name("hookd_x:y_total"));
  CHECK_FALSE(valid_metric_name("9x"));
  CHECK(valid_label_name("_x9"));
  CHECK_FALSE(valid_label_name("x-y"));
}

TEST_CASE("metrics: concurrent updates are all counted") {
  registry r;
  auto& c = r.counter("c_total", "h", {"t"});
  auto& h = r.histogram("h_seconds", "h", {}, {0.5}).get();
  constexpr int threads = 4;
  constexpr int per_thread = 20000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto& mine = c.with({t % 2 == 0 ? "even" : "odd"});  // looked up once, then lock-free
      for (int i = 0; i < per_thread; ++i) {
        mine.inc();
        h.observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  // Scrapes while writers run must always parse.
  for (int i = 0; i < 20; ++i)
    CHECK_NOTHROW(parse_exposition(r.render()));
  for (auto& t : pool)
    t.join();

  const auto p = parse_exposition(r.render());
  CHECK(p.value("c_total", {{"t", "even"}}) == 2.0 * per_thread);
  CHECK(p.value("c_total", {{"t", "odd"}}) == 2.0 * per_thread);
  CHECK(p.value("h_seconds_count") == threads * per_thread);
  CHECK(p.value("h_seconds_bucket", {{"le", "0.5"}}) == threads * per_thread / 2);
  CHECK(p.value("h_seconds_sum") == Approx(threads * per_thread / 2 * 1.25));
}

TEST_CASE("metrics: the parser in this test rejects malformed text") {
  // Guards the guard: a parser that accepted anything would make the tests above vacuous.
  CHECK_THROWS(parse_exposition("# TYPE a counter\na{x=\"unterminated} 1\n"));
  CHECK_THROWS(parse_exposition("a 1\n"));                               // no TYPE
  CHECK_THROWS(parse_exposition("# TYPE a counter\na{x=\"\\t\"} 1\n"));  // bad escape
  CHECK_THROWS(parse_exposition("# TYPE a counter\na 1\na 2\n"));        // series twice
  CHECK_THROWS(parse_exposition("# TYPE a counter\na one\n"));
  CHECK_THROWS(parse_exposition("# TYPE a counter\na 1"));  // no final newline
}

TEST_CASE("metrics: value formatting") {
  CHECK(format_value(1) == "1");
  CHECK(format_value(0.25) == "0.25");
  CHECK(format_value(-INFINITY) == "-Inf");
  CHECK(format_value(NAN) == "NaN");
  CHECK(escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CHECK(exponential_buckets(1, 2, 4) == std::vector<double>{1, 2, 4, 8});
}
