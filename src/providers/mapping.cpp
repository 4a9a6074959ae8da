#include "mapping.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

#include <hookd/core/glob.hpp>

#include "crypto.hpp"
#include "encoding.hpp"

namespace hookd::providers::detail {

namespace {

using origin = config::field_source::origin;

bool is_upper(char c) noexcept {
  return c >= 'A' && c <= 'Z';
}
bool is_lower(char c) noexcept {
  return c >= 'a' && c <= 'z';
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
// Bytes of multi-byte UTF-8 sequences belong to words (they are neither case nor separator).
bool is_word(char c) noexcept {
  return is_upper(c) || is_lower(c) || is_digit(c) || static_cast<unsigned char>(c) >= 0x80;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (is_upper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string join(const std::vector<std::string>& words, std::size_t first, std::size_t last,
                 std::string_view sep) {
  std::string out;
  for (std::size_t i = first; i < last; ++i) {
    if (i > first) out += sep;
    out += words[i];
  }
  return out;
}

rejection missing(const compiled_source& s) {
  return rejection{400, "missing_field", "missing " + s.describe()};
}

rejection wrong_type(const compiled_source& s, std::string_view expected) {
  return rejection{400, "invalid_field", s.describe() + " must be " + std::string(expected)};
}

/// A looked-up value: JSON from the body, or text from a header or the URL.
struct looked_up {
  const json* value = nullptr;
  std::optional<std::string_view> text;
  bool present() const noexcept { return text.has_value() || (value && !value->is_null()); }
};

/// Header values become event attributes, which are JSON strings written to logs: only visible
/// ASCII and blanks are taken (obs-text bytes need not be valid UTF-8).
bool printable_ascii(std::string_view text) noexcept {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

looked_up look_up(const compiled_source& s, const json& body, const mapping_input& in) {
  looked_up out;
  switch (s.from) {
    case origin::body:
      out.value = s.pointer->resolve(body);
      break;
    case origin::header:
      out.text = in.headers.get(s.header);
      break;
    case origin::path:
      out.text = in.rest;
      break;
  }
  return out;
}

/// A required, non-empty string (type, entity, action).
std::optional<rejection> required_string(const compiled_source& s, const json& body,
                                         const mapping_input& in, std::string& out) {
  const looked_up v = look_up(s, body, in);
  if (!v.present()) return missing(s);
  if (v.text) {
    if (!printable_ascii(*v.text)) return wrong_type(s, "printable ASCII");
    out = std::string(*v.text);
  } else if (v.value->is_string()) {
    out = v.value->get_ref<const std::string&>();
  } else {
    return wrong_type(s, "a string");
  }
  if (out.empty()) return missing(s);
  return std::nullopt;
}

/// An id-like scalar as text: strings as they are, integers in decimal; nullopt otherwise.
std::optional<std::string> scalar_text(const json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>();
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return std::nullopt;
}

/// A non-empty array of id-like scalars joined with ',' ([17, 18] -> "17,18"); nullopt otherwise.
std::optional<std::string> joined_ids(const json& array) {
  if (array.empty()) return std::nullopt;
  std::string joined;
  for (const auto& element : array) {
    auto text = scalar_text(element);
    if (!text) return std::nullopt;
    if (&element != &array.front()) joined.push_back(',');
    joined += *text;
  }
  return joined;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

body_pointer::body_pointer(std::string text) : text_(std::move(text)) {
  if (text_.empty()) return;
  if (text_.front() != '/') {
    throw std::invalid_argument("JSON pointer must be empty or start with '/': " + text_);
  }
  std::string_view rest = std::string_view(text_).substr(1);
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view raw = rest.substr(0, slash);
    std::string segment;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        segment.push_back(raw[i]);
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        segment.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        throw std::invalid_argument("JSON pointer has a bad '~' escape: " + text_);
      }
    }
    segments_.push_back(std::move(segment));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  glob_last_ = segments_.back().find_first_of("*?") != std::string::npos;
}

const json* body_pointer::resolve(const json& doc) const noexcept {
  const json* at = &doc;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const std::string& seg = segments_[i];
    if (at->is_object()) {
      if (glob_last_ && i + 1 == segments_.size()) {
        const json* found = nullptr;
        for (auto it = at->begin(); it != at->end(); ++it) {
          if (glob_match(seg, it.key())) {
            found = &it.value();
            break;
          }
        }
        return found;
      }
      const auto it = at->find(seg);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      // RFC 6901 array index: digits without a leading zero.
      std::size_t index = 0;
      const char* first = seg.data();
      const char* last = seg.data() + seg.size();
      if (seg.empty() || (seg.size() > 1 && seg[0] == '0')) return nullptr;
      const auto [ptr, ec] = std::from_chars(first, last, index);
      if (ec != std::errc{} || ptr != last || index >= at->size()) return nullptr;
      at = &(*at)[index];
    } else {
      return nullptr;
    }
  }
  return at;
}

json* body_pointer::resolve(json& doc) const noexcept {
  return const_cast<json*>(resolve(static_cast<const json&>(doc)));
}

compiled_source::compiled_source(const config::field_source& source) : from(source.from) {
  switch (from) {
    case origin::body:
      pointer.emplace(source.name);
      break;
    case origin::header:
      if (source.name.empty()) throw std::invalid_argument("header source without a name");
      header = source.name;
      break;
    case origin::path:
      break;
  }
}

std::string compiled_source::describe() const {
  switch (from) {
    case origin::body:
      return pointer->whole_document() ? "body" : "field " + pointer->text();
    case origin::header:
      return "header " + header;
    case origin::path:
      return "event name in URL path";
  }
  return "value";
}

// ---------------------------------------------------------------------------------------------

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!is_word(c)) {
      if (!current.empty()) words.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (is_upper(c) && !current.empty()) {
      const char prev = text[i - 1];
      const bool after_lower = is_lower(prev) || is_digit(prev);
      // "HTTPRequest": the R starts a word because a lowercase letter follows it.
      const bool ends_acronym = is_upper(prev) && i + 1 < text.size() && is_lower(text[i + 1]);
      if (after_lower || ends_acronym) {
        words.push_back(std::move(current));
        current.clear();
      }
    }
    current.push_back(is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

bool valid_event_name(std::string_view rest) noexcept {
  if (rest.empty()) return false;
  for (const char c : rest) {
    if (!(is_upper(c) || is_lower(c) || is_digit(c) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string stable_id(std::string_view endpoint, std::string_view rest, const json& body) {
  // Not the raw bytes: they may hold a credential (AlphaTouch's api_key), and an id that is a
  // hash over it would let anyone who sees the id test guesses of the key offline. The parsed
  // body has it removed; serializing it is deterministic, so a retry (the same bytes) still
  // gets the same id. The parser has checked the UTF-8, so `replace` never changes anything.
  const std::string canonical = body.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string input;
  input.reserve(endpoint.size() + rest.size() + canonical.size() + 2);
  input.append(endpoint).push_back('\0');
  input.append(rest).push_back('\0');
  input.append(canonical);
  const sha256_digest d = sha256(input);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(d.data()), 16));
}

// ---------------------------------------------------------------------------------------------

compiled_mapping::compiled_mapping(const config::mapping& m) : split_(m.split), data_(m.data) {
  auto compile = [this](const std::optional<config::field_source>& s) {
    std::optional<compiled_source> out;
    if (s) {
      out.emplace(*s);
      needs_object_ |= s->from == origin::body;
      uses_path_ |= s->from == origin::path;
    }
    return out;
  };
  id_ = compile(m.id);
  type_ = compile(m.type);
  if (!type_) {
    entity_ = compile(m.entity);
    action_ = compile(m.action);
    if (!entity_ || !action_) {
      throw std::invalid_argument("mapping needs `type`, or both `entity` and `action`");
    }
  }
  for (const auto& s : m.subject)
    subject_.push_back(*compile(s));
  for (const auto& [type, sources] : m.subject_by_type) {
    auto& compiled = subject_by_type_[type];
    for (const auto& s : sources)
      compiled.push_back(*compile(s));
  }
  subject_required_ = m.subject_required;
  data_required_ = m.data_required;
  for (const auto& [verb, renamed] : m.actions) {
    actions_.emplace_back(lowercase(verb), lowercase(renamed));
  }
  needs_object_ |= !data_.whole_document();
}

std::string compiled_mapping::rename_action(std::string verb) const {
  // The provider's own renames win over the built-in ones.
  for (const auto& [from, to] : actions_) {
    if (from == verb) return to;
  }
  static constexpr std::pair<std::string_view, std::string_view> builtin[] = {
      {"add", "added"},      {"create", "created"}, {"update", "updated"},
      {"delete", "deleted"}, {"move", "moved"},
  };
  for (const auto& [from, to] : builtin) {
    if (from == verb) return std::string(to);
  }
  return verb;
}

std::optional<rejection> compiled_mapping::read_subject(const std::vector<compiled_source>& sources,
                                                        const json& body, const mapping_input& in,
                                                        std::string& out) const {
  out.clear();
  // The first source present but unusable, and what it should have been: named when the
  // subject is required and no source gives one.
  const compiled_source* unusable = nullptr;
  std::string_view expected;
  for (const auto& s : sources) {
    const looked_up v = look_up(s, body, in);
    if (!v.present()) continue;
    std::optional<std::string> text;
    if (v.text) {
      if (printable_ascii(*v.text)) {
        text = std::string(*v.text);
      } else if (unusable == nullptr) {
        unusable = &s;
        expected = "printable ASCII";
      }
    } else {
      text = scalar_text(*v.value);
      if (!text && v.value->is_array()) text = joined_ids(*v.value);
      if (!text && unusable == nullptr) {
        // Any other type (float, bool, object) is not an id: try the next source.
        unusable = &s;
        expected = "a string, an integer or an array of them";
      }
    }
    if (text && !text->empty()) {
      out = std::move(*text);
      return std::nullopt;
    }
  }
  if (!subject_required_) return std::nullopt;
  if (unusable != nullptr) return wrong_type(*unusable, expected);
  std::string what;
  for (const auto& s : sources) {
    what += what.empty() ? "missing " : " or ";
    what += s.describe();
  }
  if (what.empty()) what = "missing subject";
  return rejection{400, "missing_field", std::move(what)};
}

std::optional<rejection> compiled_mapping::apply(json& body, const mapping_input& in,
                                                 event& out) const {
  if (uses_path_ && !valid_event_name(in.rest)) {
    return rejection{
        400, "bad_path",
        in.rest.empty() ? "missing event name in URL path" : "invalid event name in URL path"};
  }

  // id
  if (id_) {
    const looked_up v = look_up(*id_, body, in);
    if (!v.present()) return missing(*id_);
    if (v.text) {
      if (!printable_ascii(*v.text)) return wrong_type(*id_, "printable ASCII");
      out.id = std::string(*v.text);
    } else if (auto text = scalar_text(*v.value)) {
      out.id = std::move(*text);
    } else {
      return wrong_type(*id_, "a string or an integer");
    }
    if (out.id.empty()) return missing(*id_);
  } else {
    out.id = stable_id(in.endpoint, in.rest, body);
  }

  // type
  std::string entity;
  std::string action;
  if (type_) {
    if (auto r = required_string(*type_, body, in, out.providertype)) return r;
    const std::string& pt = out.providertype;
    switch (split_) {
      case config::type_split::suffix:
      case config::type_split::prefix: {
        const std::vector<std::string> words = split_words(pt);
        if (words.size() < 2) {
          return wrong_type(*type_, split_ == config::type_split::suffix
                                        ? "an <Entity><Action> name such as CustomerCreated"
                                        : "an <Action><Entity> name such as NewCustomer");
        }
        if (split_ == config::type_split::suffix) {
          entity = join(words, 0, words.size() - 1, "_");
          action = words.back();
        } else {
          action = words.front();
          entity = join(words, 1, words.size(), "_");
        }
        break;
      }
      case config::type_split::dotted: {
        const std::size_t dot = pt.find('.');
        if (dot == std::string::npos || dot == 0 || dot + 1 == pt.size()) {
          return wrong_type(*type_, "an <entity>.<action> name such as lead.sold");
        }
        entity = lowercase(std::string_view(pt).substr(0, dot));
        action = lowercase(std::string_view(pt).substr(dot + 1));
        break;
      }
    }
  } else {
    std::string raw_entity;
    std::string raw_action;
    if (auto r = required_string(*entity_, body, in, raw_entity)) return r;
    if (auto r = required_string(*action_, body, in, raw_action)) return r;
    out.providertype = raw_entity + "." + raw_action;
    entity = lowercase(raw_entity);
    action = lowercase(raw_action);
  }
  out.action = rename_action(std::move(action));
  out.entity = std::move(entity);
  out.type = out.entity + "." + out.action;

  // subject: the event type's own sources where the mapping has them, else `subject`.
  const auto by_type = subject_by_type_.find(out.type);
  if (auto r = read_subject(by_type != subject_by_type_.end() ? by_type->second : subject_, body,
                            in, out.subject)) {
    return r;
  }

  // data last: it is moved out of the body.
  json* d = data_.resolve(body);
  if (d == nullptr || d->is_null()) {
    if (data_required_) {
      return rejection{400, "missing_field", "missing field " + data_.text()};
    }
    out.data = nullptr;
  } else {
    out.data = std::move(*d);
  }
  return std::nullopt;
}

}  // namespace hookd::providers::detail
