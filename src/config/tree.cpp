#include "tree.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace hookd::config::detail {

const char* kind_name(node::kind k) noexcept {
  switch (k) {
    case node::kind::null:
      return "null";
    case node::kind::boolean:
      return "a boolean";
    case node::kind::integer:
      return "an integer";
    case node::kind::number:
      return "a number";
    case node::kind::string:
      return "a string";
    case node::kind::sequence:
      return "a list";
    case node::kind::mapping:
      return "a mapping";
  }
  return "a value";
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool is_yaml_int(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  return all_digits(s);
}

// [-+]? ( \.[0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?  and the .inf/.nan spellings.
bool is_yaml_float(std::string_view s) {
  for (std::string_view special : {".nan", ".NaN", ".NAN"}) {
    if (s == special) return true;
  }
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  for (std::string_view special : {".inf", ".Inf", ".INF"}) {
    if (s == special) return true;
  }
  auto digits = [&s]() {
    std::size_t n = 0;
    while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n])) != 0)
      ++n;
    s.remove_prefix(n);
    return n;
  };
  std::size_t mantissa = digits();
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (!s.empty() && (s.front() == 'e' || s.front() == 'E')) {
    s.remove_prefix(1);
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
    if (digits() == 0) return false;
  }
  return s.empty();
}

// YAML 1.2 core schema resolution of a plain (unquoted, untagged) scalar.
node::kind resolve_plain(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return node::kind::null;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return node::kind::boolean;
  }
  if (is_yaml_int(s)) return node::kind::integer;
  if (is_yaml_float(s)) return node::kind::number;
  return node::kind::string;
}

void from_yaml(const YAML::Node& in, node& out, std::size_t& counter) {
  out.order = counter++;
  switch (in.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out.type = node::kind::null;
      return;
    case YAML::NodeType::Scalar: {
      out.text = in.Scalar();
      const std::string& tag = in.Tag();
      // "!" marks a quoted scalar; an explicit !!str forces a string as well.
      if (tag == "!" || tag == "tag:yaml.org,2002:str") {
        out.type = node::kind::string;
      } else {
        out.type = resolve_plain(out.text);
        if (out.type == node::kind::boolean) {
          out.text = (out.text[0] == 't' || out.text[0] == 'T') ? "true" : "false";
        }
      }
      return;
    }
    case YAML::NodeType::Sequence:
      out.type = node::kind::sequence;
      out.items.reserve(in.size());
      for (const auto& item : in) {
        from_yaml(item, out.items.emplace_back(), counter);
      }
      return;
    case YAML::NodeType::Map:
      out.type = node::kind::mapping;
      for (const auto& pair : in) {
        // Complex keys (a list or a mapping as key) have no meaning in the schema; their text is
        // empty, which no schema key matches, so they are reported as unknown keys.
        std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
        out.members.emplace_back(std::move(key), node{});
        from_yaml(pair.second, out.members.back().second, counter);
      }
      return;
  }
}

// Builds the tree from nlohmann's SAX events, which (unlike parsing into a json value) keeps
// duplicate keys visible so they can be reported, and the document order of every node.
class json_builder final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit json_builder(node& root) : root_(root) {}

  bool null() override { return scalar(node::kind::null, {}); }
  bool boolean(bool val) override { return scalar(node::kind::boolean, val ? "true" : "false"); }
  bool number_integer(number_integer_t val) override {
    return scalar(node::kind::integer, std::to_string(val));
  }
  bool number_unsigned(number_unsigned_t val) override {
    return scalar(node::kind::integer, std::to_string(val));
  }
  bool number_float(number_float_t /*val*/, const string_t& s) override {
    return scalar(node::kind::number, s);
  }
  bool string(string_t& val) override { return scalar(node::kind::string, std::move(val)); }
  bool binary(binary_t& /*val*/) override { return false; }  // not produced by text JSON

  bool start_object(std::size_t /*elements*/) override {
    open(node::kind::mapping);
    return true;
  }
  bool key(string_t& val) override {
    key_ = std::move(val);
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override {
    open(node::kind::sequence);
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override {
    message_ = ex.what();
    return false;
  }

  const std::string& message() const noexcept { return message_; }

 private:
  // The node the next value goes into: the root, a new list item, or the member named key_.
  node& slot() {
    if (stack_.empty()) return root_;
    node& parent = *stack_.back();
    if (parent.type == node::kind::sequence) return parent.items.emplace_back();
    parent.members.emplace_back(std::move(key_), node{});
    return parent.members.back().second;
  }

  bool scalar(node::kind k, std::string text) {
    node& n = slot();
    n.type = k;
    n.text = std::move(text);
    n.order = counter_++;
    return true;
  }

  void open(node::kind k) {
    node& n = slot();
    n.type = k;
    n.order = counter_++;
    // Children are appended only to the innermost open container, so this pointer stays valid
    // until the container is closed.
    stack_.push_back(&n);
  }

  node& root_;
  std::vector<node*> stack_;
  std::string key_;
  std::string message_;
  std::size_t counter_ = 0;
};

// nlohmann's message is "[json.exception.parse_error.101] parse error at line L, column C: what;
// last read: '<document text>'; expected ...". The quoted document text may hold a secret, so it
// is cut out; line and column are reported separately.
std::string clean_json_message(std::string message) {
  if (auto colon = message.find(": ");
      message.rfind("[json.exception", 0) == 0 && colon != std::string::npos) {
    message.erase(0, colon + 2);
  }
  if (auto start = message.find("; last read: '"); start != std::string::npos) {
    auto end = message.find("'; expected", start);
    message.erase(start, end == std::string::npos ? std::string::npos : end + 1 - start);
  }
  return message;
}

}  // namespace

bool parse_yaml(std::string_view text, node& out, syntax_error& error) {
  try {
    YAML::Node doc = YAML::Load(std::string(text));
    std::size_t counter = 0;
    from_yaml(doc, out, counter);
    return true;
  } catch (const YAML::Exception& ex) {
    // yaml-cpp's messages name the construct ("illegal map value").
    error.line = ex.mark.line + 1;
    error.column = ex.mark.column + 1;
    // A few messages end with the offending text ("unknown escape character: x", "invalid
    // unicode: ..."): cut it, it could be part of a secret.
    error.message = ex.msg.substr(0, ex.msg.find(": "));
    return false;
  }
}

bool parse_json(std::string_view text, node& out, syntax_error& error) {
  json_builder builder(out);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(text, &builder);
  } catch (const nlohmann::json::exception&) {
    ok = false;
  }
  if (ok) return true;
  // The line and column come from nlohmann's message, which is then stripped of document text.
  std::string message = builder.message();
  error.line = 1;
  error.column = 1;
  auto at = message.find("at line ");
  if (at != std::string::npos) {
    int line = 0;
    int column = 0;
    if (std::sscanf(message.c_str() + at, "at line %d, column %d", &line, &column) == 2) {
      error.line = line;
      error.column = column;
    }
  }
  error.message = message.empty() ? std::string("invalid JSON") : clean_json_message(message);
  return false;
}

}  // namespace hookd::config::detail
