// The `providers:` schema: a signature scheme plus a field mapping. The built-in presets
// (presets.yaml) and the user's providers are read by this same code.

#include <algorithm>
#include <cctype>
#include <set>

#include <hookd/core/http_token.hpp>

#include "schema.hpp"

namespace hookd::config {

const char* credential_key(const scheme& s) {
  struct visitor {
    const char* operator()(const no_scheme&) const { return ""; }
    const char* operator()(const hmac_scheme&) const { return "secret"; }
    const char* operator()(const token_scheme&) const { return "token"; }
    const char* operator()(const body_field_scheme&) const { return "api_key"; }
  };
  return std::visit(visitor{}, s);
}

namespace detail {

bool valid_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  bool only_dots = true;
  for (char c : name) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
    if (c != '.') only_dots = false;
  }
  return !only_dots;
}

namespace {

// An RFC 6901 JSON pointer ("/a/b", "~0" for '~', "~1" for '/'). With `glob_last`, the last
// segment may hold the glob characters * and ?. Returns the problem, or "" when valid.
std::string pointer_problem(std::string_view pointer, bool glob_last) {
  if (pointer.empty() || pointer.front() != '/') {
    return "a JSON pointer must start with \"/\"";
  }
  const std::size_t last_segment = pointer.rfind('/');
  for (std::size_t i = 0; i < pointer.size(); ++i) {
    const char c = pointer[i];
    if (c == '~' && (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))) {
      return "invalid escape in JSON pointer: \"~\" must be followed by 0 or 1 (~0 is \"~\", ~1 "
             "is \"/\")";
    }
    if (c == '*' || c == '?') {
      if (!glob_last) return "glob characters (* ?) are not allowed in this JSON pointer";
      if (i < last_segment) {
        return "glob characters (* ?) are allowed only in the last segment of a JSON pointer";
      }
    }
  }
  return {};
}

constexpr std::string_view source_help =
    "expected a JSON pointer into the body such as /data/id, header:Header-Name, or path";

std::optional<field_source> read_source(const node& n, const std::string& path, diagnostics& diag) {
  if (!expect(n, node::kind::string, path, diag, "a source (" + std::string(source_help) + ")")) {
    return std::nullopt;
  }
  const std::string& text = n.text;
  field_source out;
  if (text == "path") {
    out.from = field_source::origin::path;
    return out;
  }
  constexpr std::string_view header_prefix = "header:";
  if (text.rfind(header_prefix, 0) == 0) {
    out.from = field_source::origin::header;
    out.name = text.substr(header_prefix.size());
    if (!is_http_token(out.name)) {
      diag.add(n, path, quote(out.name) + " is not a valid header name");
      return std::nullopt;
    }
    return out;
  }
  if (text.empty() || text.front() != '/') {
    diag.add(n, path, quote(text) + " is not a source; " + std::string(source_help));
    return std::nullopt;
  }
  if (auto problem = pointer_problem(text, true); !problem.empty()) {
    diag.add(n, path, problem);
    return std::nullopt;
  }
  out.from = field_source::origin::body;
  out.name = text;
  return out;
}

// `subject` and each value of `subject_by_type`: one source, or a non-empty list of them.
void read_sources(const node& n, const std::string& path, std::vector<field_source>& out,
                  diagnostics& diag) {
  if (n.type == node::kind::sequence) {
    if (n.items.empty()) diag.add(n, path, "must list at least one source");
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      if (auto s = read_source(n.items[i], index_path(path, i), diag)) out.push_back(*s);
    }
  } else if (n.type == node::kind::string) {
    if (auto s = read_source(n, path, diag)) out.push_back(*s);
  } else {
    expect(n, node::kind::string, path, diag, "a source or a list of sources");
  }
}

// A key of `subject_by_type`: an event type as hookd writes it. The provider's own spelling
// (NewCustomer) could never match, so it is refused rather than silently ignored.
bool valid_event_type(std::string_view type) noexcept {
  const std::size_t dot = type.find('.');
  if (dot == std::string_view::npos || dot == 0 || type.back() == '.') return false;
  return std::none_of(type.begin(), type.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || c == ' ' || static_cast<unsigned char>(c) < 0x20;
  });
}

std::optional<scheme> read_scheme(const node& n, const std::string& path, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return std::nullopt;
  map_reader r(n, path, diag);
  const node* type_node = r.require("type");
  std::optional<std::size_t> type;
  if (type_node != nullptr) {
    type = read_choice(*type_node, r.path_of("type"), diag, {"hmac", "token", "body-field", "none"},
                       "scheme type");
  }
  if (!type) {
    // Without a known type the other keys cannot be judged: the type's message is enough.
    return std::nullopt;
  }
  bool ok = true;
  scheme out;
  switch (*type) {
    case 0: {
      hmac_scheme s;
      if (const node* v = r.require("header")) {
        if (auto h = read_name(*v, r.path_of("header"), diag)) {
          if (is_http_token(*h)) {
            s.header = *h;
          } else {
            diag.add(*v, r.path_of("header"), quote(*h) + " is not a valid header name");
            ok = false;
          }
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
      if (const node* v = r.take("algorithm")) {
        auto a = read_choice(*v, r.path_of("algorithm"), diag, {"sha1", "sha256", "sha512"},
                             "algorithm");
        if (a) {
          s.algorithm = static_cast<hmac_algorithm>(*a);
        } else {
          ok = false;
        }
      }
      if (const node* v = r.take("encoding")) {
        auto e =
            read_choice(*v, r.path_of("encoding"), diag, {"hex", "base64", "auto"}, "encoding");
        if (e) {
          s.encoding = static_cast<signature_encoding>(*e);
        } else {
          ok = false;
        }
      }
      if (const node* v = r.take("prefix")) {
        if (auto p = read_string(*v, r.path_of("prefix"), diag)) {
          s.prefix = *p;
        } else {
          ok = false;
        }
      }
      if (const node* v = r.take("separator")) {
        if (auto p = read_string(*v, r.path_of("separator"), diag)) {
          s.separator = *p;
        } else {
          ok = false;
        }
      }
      r.finish("for a scheme of type hmac");
      out = s;
      break;
    }
    case 1: {
      token_scheme s;
      if (const node* v = r.take("in")) {
        auto in = read_choice(*v, r.path_of("in"), diag, {"path", "query", "header"}, "location");
        if (in) {
          s.in = static_cast<token_location>(*in);
        } else {
          ok = false;
        }
      }
      if (const node* v = r.take("name")) {
        if (s.in == token_location::path) {
          diag.add(*v, r.path_of("name"),
                   "`name` applies only to `in: query` or `in: header` (a path token is the "
                   "first segment after the endpoint name)");
          ok = false;
        } else if (auto name = read_name(*v, r.path_of("name"), diag)) {
          if (s.in == token_location::header && !is_http_token(*name)) {
            diag.add(*v, r.path_of("name"), quote(*name) + " is not a valid header name");
            ok = false;
          }
          s.name = *name;
        } else {
          ok = false;
        }
      }
      r.finish("for a scheme of type token");
      out = s;
      break;
    }
    case 2: {
      body_field_scheme s;
      if (const node* v = r.require("field")) {
        if (auto f = read_name(*v, r.path_of("field"), diag)) {
          s.field = *f;
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
      r.finish("for a scheme of type body-field");
      out = s;
      break;
    }
    default:
      r.finish("for a scheme of type none");
      out = no_scheme{};
      break;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<mapping> read_mapping(const node& n, const std::string& path, diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return std::nullopt;
  map_reader r(n, path, diag);
  const std::size_t problems_before = diag.size();
  mapping out;

  auto source = [&](const char* key, std::optional<field_source>& into) -> const node* {
    const node* v = r.take(key);
    if (v != nullptr) into = read_source(*v, r.path_of(key), diag);
    return v;
  };
  source("id", out.id);
  const node* type_node = source("type", out.type);
  const node* split_node = r.take("split");
  if (split_node != nullptr) {
    auto split =
        read_choice(*split_node, r.path_of("split"), diag, {"suffix", "prefix", "dotted"}, "split");
    if (split) out.split = static_cast<type_split>(*split);
  }
  const node* entity_node = source("entity", out.entity);
  const node* action_node = source("action", out.action);

  if (const node* v = r.take("actions")) {
    const std::string apath = r.path_of("actions");
    if (expect(*v, node::kind::mapping, apath, diag)) {
      map_reader actions(*v, apath, diag);
      for (const auto& [verb, renamed] : v->members) {
        if (verb.empty()) {
          diag.add(renamed, apath, "an action name must not be empty");
          continue;
        }
        if (auto to = read_name(renamed, actions.path_of(verb), diag)) {
          out.actions.emplace(verb, *to);
        }
      }
    }
  }

  const node* subject_node = r.take("subject");
  if (subject_node != nullptr) {
    read_sources(*subject_node, r.path_of("subject"), out.subject, diag);
  }

  if (const node* v = r.take("subject_by_type")) {
    const std::string bpath = r.path_of("subject_by_type");
    if (expect(*v, node::kind::mapping, bpath, diag,
               "a mapping from event type to a source or a list of sources")) {
      map_reader types(*v, bpath, diag);  // reports a type given twice
      for (const auto& [type, sources] : v->members) {
        const std::string tpath = types.path_of(type);
        if (!valid_event_type(type)) {
          diag.add(sources, tpath,
                   quote(type) +
                       " is not an event type; use the type hookd writes, lowercase "
                       "<entity>.<action> such as customer.created");
          continue;
        }
        if (out.subject_by_type.count(type) != 0) continue;  // a duplicate, already reported
        read_sources(sources, tpath, out.subject_by_type[type], diag);
      }
    }
  }

  if (const node* v = r.take("data")) {
    const std::string dpath = r.path_of("data");
    if (auto d = read_string(*v, dpath, diag)) {
      if (d->empty()) {
        out.data.clear();
      } else if (auto problem = pointer_problem(*d, false); !problem.empty()) {
        diag.add(*v, dpath,
                 problem + "; `data` is a JSON pointer into the body, or \"\" for the whole body");
      } else {
        out.data = *d;
      }
    }
  }
  if (const node* v = r.take("required")) {
    const std::string qpath = r.path_of("required");
    if (expect(*v, node::kind::sequence, qpath, diag, "a list such as [subject, data]")) {
      for (std::size_t i = 0; i < v->items.size(); ++i) {
        const std::string ipath = index_path(qpath, i);
        const node& item = v->items[i];
        if (!expect(item, node::kind::string, ipath, diag, "subject or data")) continue;
        bool* flag = item.text == "subject" ? &out.subject_required
                     : item.text == "data"  ? &out.data_required
                                            : nullptr;
        if (flag == nullptr) {
          diag.add(item, ipath,
                   "unknown value " + quote(item.text) +
                       "; expected subject or data (id, type, entity and action are always "
                       "required)");
        } else if (*flag) {
          diag.add(item, ipath, quote(item.text) + " is listed twice");
        } else {
          *flag = true;
          if (item.text == "subject" && subject_node == nullptr) {
            diag.add(item, ipath,
                     "`subject` is required but not mapped; add `subject:` (the sources for "
                     "every type not listed in `subject_by_type`)");
          }
        }
      }
    }
  }
  r.finish();

  if (type_node != nullptr && (entity_node != nullptr || action_node != nullptr)) {
    diag.add(n, path,
             "give either `type` or `entity` and `action`, not both (`type` is split into "
             "entity and action)");
  } else if (type_node == nullptr) {
    if (entity_node == nullptr && action_node == nullptr) {
      diag.add(n, path, "missing required key `type` (or both `entity` and `action`)");
    } else if (entity_node == nullptr) {
      diag.add(n, path, "missing required key `entity` (`action` needs `entity`)");
    } else if (action_node == nullptr) {
      diag.add(n, path, "missing required key `action` (`entity` needs `action`)");
    }
    if (split_node != nullptr) {
      diag.add(*split_node, r.path_of("split"), "`split` applies to `type`, which is not set");
    }
  }
  if (diag.size() != problems_before) return std::nullopt;
  return out;
}

std::optional<provider_spec> read_provider(const node& n, const std::string& path,
                                           const std::string& name, bool builtin,
                                           diagnostics& diag) {
  if (!expect(n, node::kind::mapping, path, diag)) return std::nullopt;
  map_reader r(n, path, diag);
  std::optional<scheme> verify;
  std::optional<mapping> map;
  if (const node* v = r.require("scheme")) verify = read_scheme(*v, r.path_of("scheme"), diag);
  if (const node* v = r.require("mapping")) map = read_mapping(*v, r.path_of("mapping"), diag);
  r.finish();
  if (!verify || !map) return std::nullopt;
  return provider_spec{name, std::move(*verify), std::move(*map), builtin};
}

}  // namespace

void read_providers(const node& section, std::string_view path, bool builtin,
                    const std::map<std::string, provider_spec>& reserved,
                    std::map<std::string, provider_spec>& out, diagnostics& diag) {
  if (section.type == node::kind::null) return;  // `providers:` with nothing under it
  if (!expect(section, node::kind::mapping, path, diag)) return;
  map_reader r(section, std::string(path), diag);  // reports duplicate names
  std::set<std::string> seen;
  for (const auto& [name, value] : section.members) {
    const std::string ppath = r.path_of(name);
    if (!seen.insert(name).second) continue;  // a duplicate, already reported
    if (!valid_name(name)) {
      diag.add(value, ppath,
               "invalid provider name " + quote(name) + "; use letters, digits, '.', '_' and '-'");
      continue;
    }
    if (reserved.count(name) != 0) {
      diag.add(value, ppath,
               quote(name) +
                   " is a built-in provider; give yours another name (or use the "
                   "built-in one as it is)");
      continue;
    }
    if (auto spec = read_provider(value, ppath, name, builtin, diag)) {
      out.emplace(name, std::move(*spec));
    }
  }
}

}  // namespace detail
}  // namespace hookd::config
