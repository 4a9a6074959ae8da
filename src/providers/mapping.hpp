#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <hookd/config/config.hpp>
#include <hookd/core/event.hpp>
#include <hookd/core/json.hpp>
#include <hookd/providers/endpoint.hpp>

/// A provider's field mapping compiled once: pointers split into segments, renames lowercased.
/// Private to hookd_providers.
namespace hookd::providers::detail {

/// An RFC 6901 JSON pointer whose last segment may be a glob (`*`, `?`): the first member, in
/// document order, whose key matches.
class body_pointer {
 public:
  /// Throws std::invalid_argument when `text` is neither empty nor starts with '/', or holds a
  /// `~` escape other than ~0 and ~1.
  explicit body_pointer(std::string text);

  const std::string& text() const noexcept { return text_; }
  bool whole_document() const noexcept { return segments_.empty(); }

  /// The value it names, or nullptr when any step is missing (wrong container type included).
  const json* resolve(const json& doc) const noexcept;
  json* resolve(json& doc) const noexcept;

 private:
  std::string text_;
  std::vector<std::string> segments_;  // unescaped
  bool glob_last_ = false;
};

/// Where one mapped value comes from, with the pointer precompiled.
struct compiled_source {
  config::field_source::origin from;
  std::optional<body_pointer> pointer;  // origin::body
  std::string header;                   // origin::header

  explicit compiled_source(const config::field_source& source);
  /// "field /id", "header X-Event", "URL path": what a message names.
  std::string describe() const;
};

/// What a mapping reads besides the parsed body.
struct mapping_input {
  std::string_view endpoint;  // the endpoint's name, for the stable id
  std::string_view rest;      // the URL rest after the token segment (if any) is removed
  const header_source& headers;
};

class compiled_mapping {
 public:
  /// Throws std::invalid_argument on a mapping the loader should have refused.
  explicit compiled_mapping(const config::mapping& m);

  /// True when some source or `data` reads inside the body, which must then be a JSON object.
  bool needs_object() const noexcept { return needs_object_; }

  /// Fills id, type, entity, action, providertype, subject and data of `out`. `body` is the parsed
  /// body with any credential field already removed (the stable id hashes it); it is consumed
  /// (data is moved out of it). Returns the rejection when a required value is missing or of the
  /// wrong type. Throws only std::bad_alloc.
  std::optional<rejection> apply(json& body, const mapping_input& in, event& out) const;

 private:
  std::optional<compiled_source> id_;
  std::optional<compiled_source> type_;
  config::type_split split_ = config::type_split::suffix;
  std::optional<compiled_source> entity_;
  std::optional<compiled_source> action_;
  std::vector<std::pair<std::string, std::string>> actions_;  // lowercase verb -> replacement
  std::vector<compiled_source> subject_;
  std::map<std::string, std::vector<compiled_source>, std::less<>> subject_by_type_;
  body_pointer data_{""};
  bool subject_required_ = false;
  bool data_required_ = false;
  bool needs_object_ = false;
  bool uses_path_ = false;

  std::string rename_action(std::string verb) const;
  /// The subject from the first usable source, "" when none; a rejection when it is required.
  std::optional<rejection> read_subject(const std::vector<compiled_source>& sources,
                                        const json& body, const mapping_input& in,
                                        std::string& out) const;
};

/// `NewCustomer`, `CreditNoteCreated`, `HTTPRequestSent` -> lowercase words; a boundary falls
/// before an uppercase letter that follows a lowercase letter or digit, or that starts a word
/// after an acronym; any character other than a letter, digit or non-ASCII byte separates words.
std::vector<std::string> split_words(std::string_view text);

/// True when `rest` is exactly one non-empty segment of [A-Za-z0-9_.-].
bool valid_event_name(std::string_view rest) noexcept;

/// First 32 lowercase hex digits of SHA-256(endpoint '\0' rest '\0' body), where `body` is the
/// parsed body serialized compactly (members in document order), after the credential field was
/// removed: the id of a retried delivery is the same, and tells nothing about the credential.
std::string stable_id(std::string_view endpoint, std::string_view rest, const json& body);

}  // namespace hookd::providers::detail
