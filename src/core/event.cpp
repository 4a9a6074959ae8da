#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include <hookd/core/event.hpp>
#include <hookd/core/json_parse.hpp>

namespace hookd {

std::string format_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch());
  const auto secs = floor<seconds>(ms);
  const std::time_t tt = secs.count();
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (ms - secs).count());
}

std::chrono::system_clock::time_point parse_time(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  int consumed = 0;
  // NOLINTNEXTLINE(cert-err34-c): the return value and the consumed count are both checked.
  const int fields = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                                 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed);
  if (fields != 6) throw std::invalid_argument("not an RFC 3339 time: " + text);
  std::string_view rest = std::string_view(text).substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 3) millis = millis * 10 + (rest.front() - '0');
      ++digits;
      rest.remove_prefix(1);
    }
    for (; digits < 3; ++digits)
      millis *= 10;
  }
  if (rest != "Z") throw std::invalid_argument("not an RFC 3339 UTC time: " + text);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t secs = timegm(&tm);
  return std::chrono::system_clock::time_point{std::chrono::seconds{secs} +
                                               std::chrono::milliseconds{millis}};
}

namespace {

/// Calls f(name, value) for every CloudEvents attribute but `data`, in the order hookd writes
/// them: the one list to_cloudevent() and cloudevent_text() share.
template <class F>
void for_each_attribute(const event& e, F&& f) {
  f("specversion", std::string_view("1.0"));
  f("id", std::string_view(e.id));
  f("source", std::string_view(e.source));
  f("type", std::string_view(e.type));
  if (!e.subject.empty()) f("subject", std::string_view(e.subject));
  const std::string time = format_time(e.time);
  f("time", std::string_view(time));
  f("datacontenttype", std::string_view("application/json"));
  f("provider", std::string_view(e.provider));
  f("endpoint", std::string_view(e.endpoint));
  f("entity", std::string_view(e.entity));
  f("action", std::string_view(e.action));
  f("providertype", std::string_view(e.providertype));
}

}  // namespace

json to_cloudevent(const event& e) {
  json j = json::object();
  for_each_attribute(e, [&j](const char* name, std::string_view value) { j[name] = value; });
  j["data"] = e.data;
  return j;
}

namespace {

constexpr auto replace_invalid = json::error_handler_t::replace;

/// Appends `text` as a JSON string, as nlohmann's serializer writes it. Text is nearly always
/// printable ASCII without quote or backslash, which the serializer copies unchanged (its
/// UTF-8 decoder costs tens of instructions per byte); only other text goes through it.
void append_string(std::string& out, std::string_view text) {
  if (plain_prefix(text) == text.size()) {
    out += '"';
    out += text;
    out += '"';
  } else {
    out += json(text).dump(-1, ' ', false, replace_invalid);
  }
}

/// Appends v.dump(-1, ' ', false, replace): objects, arrays and strings walked here, numbers,
/// booleans and null written by the serializer.
void append_value(std::string& out, const json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      char separator = '{';
      for (const auto& [key, value] : v.items()) {
        out += separator;
        separator = ',';
        append_string(out, key);
        out += ':';
        append_value(out, value);
      }
      out += separator == '{' ? "{}" : "}";
      return;
    }
    case json::value_t::array: {
      char separator = '[';
      for (const auto& item : v) {
        out += separator;
        separator = ',';
        append_value(out, item);
      }
      out += separator == '[' ? "[]" : "]";
      return;
    }
    case json::value_t::string:
      append_string(out, v.get_ref<const std::string&>());
      return;
    default:
      out += v.dump(-1, ' ', false, replace_invalid);
      return;
  }
}

}  // namespace

std::string cloudevent_text(const event& e) {
  // Built as text: to_cloudevent(e).dump() copied the whole of `data` into a new object (an
  // allocation per node), inserted each attribute into an ordered map first, and ran every byte
  // through the serializer's UTF-8 decoder. The bytes are the same (event_test checks it).
  std::string out;
  out.reserve(512);
  char separator = '{';
  for_each_attribute(e, [&](const char* name, std::string_view value) {
    out += separator;
    separator = ',';
    out += '"';
    out += name;
    out += "\":";
    append_string(out, value);
  });
  out += ",\"data\":";
  append_value(out, e.data);
  out += '}';
  return out;
}

event from_cloudevent(const json& j) {
  auto text = [&j](const char* key) -> std::string {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
      throw std::invalid_argument(std::string("event attribute missing or not a string: ") + key);
    }
    return it->get<std::string>();
  };
  event e;
  e.id = text("id");
  e.source = text("source");
  e.type = text("type");
  if (j.contains("subject")) e.subject = text("subject");
  e.time = parse_time(text("time"));
  e.provider = text("provider");
  e.endpoint = text("endpoint");
  e.entity = text("entity");
  e.action = text("action");
  e.providertype = text("providertype");
  auto data = j.find("data");
  if (data != j.end()) e.data = *data;
  return e;
}

}  // namespace hookd
