#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The one internal document tree both YAML and JSON are read into, so the schema is validated by
// one piece of code whatever the file's syntax. Private to the config module.
namespace hookd::config::detail {

/// A mapping's key and value (a std::pair would need `node` complete where node declares its
/// members: valid for GCC's library, not in the standard).
struct member;

struct node {
  /// YAML plain scalars are resolved with the YAML 1.2 core schema (`8080` is an integer,
  /// `true` a boolean, `~` null), quoted ones are strings: the same document written in YAML or
  /// JSON gives the same tree.
  enum class kind { null, boolean, integer, number, string, sequence, mapping };

  kind type = kind::null;
  std::string text;  ///< scalars: the value as written (string content, "8080", "true", "1.5")
  std::vector<node> items;      ///< sequence
  std::vector<member> members;  ///< mapping, in document order
  /// Position of the node in document order (pre-order), used to report problems in file order.
  std::size_t order = 0;

  bool is_scalar() const noexcept {
    return type != kind::sequence && type != kind::mapping && type != kind::null;
  }
};

struct member {
  member(std::string key, node value) : first(std::move(key)), second(std::move(value)) {}
  std::string first;  ///< the key
  node second;        ///< the value
};

/// "a string", "an integer", ... for "expected X, got Y" messages.
const char* kind_name(node::kind k) noexcept;

/// A syntax error: 1-based line and column, and a message that never quotes the document.
struct syntax_error {
  int line = 0;
  int column = 0;
  std::string message;
};

/// Parses YAML (first document). Returns false and fills `error` on a syntax error.
bool parse_yaml(std::string_view text, node& out, syntax_error& error);

/// Parses JSON. Returns false and fills `error` on a syntax error.
bool parse_json(std::string_view text, node& out, syntax_error& error);

}  // namespace hookd::config::detail
