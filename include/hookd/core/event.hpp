#pragma once

#include <chrono>
#include <string>

#include <hookd/core/json.hpp>

namespace hookd {

/// The common event every provider's payload is normalized into: a CloudEvents 1.0 event
/// (structured JSON mode) plus hookd's extension attributes. See docs/event-model.md.
struct event {
  std::string id;       ///< provider event id, or a stable hash when the provider has none
  std::string source;   ///< "hookd/<endpoint>"
  std::string type;     ///< "<entity>.<action>", lowercase
  std::string subject;  ///< the entity's id as a string; empty: attribute omitted
  std::chrono::system_clock::time_point time;  ///< when hookd received the request
  std::string provider;                        ///< provider (preset or custom) name
  std::string endpoint;                        ///< endpoint name, as in /hooks/<endpoint>
  std::string entity;                          ///< e.g. "customer"
  std::string action;                          ///< e.g. "created"
  std::string providertype;  ///< the provider's own type name, e.g. "CustomerCreated"
  json data;                 ///< the payload, with secrets removed
};

/// The CloudEvents structured-mode JSON object, attributes in a fixed order.
json to_cloudevent(const event& e);

/// to_cloudevent(e).dump() with invalid UTF-8 replaced by U+FFFD, byte for byte, without
/// building the object: what the spool stores. Throws nothing but std::bad_alloc.
std::string cloudevent_text(const event& e);

/// Reads back what to_cloudevent wrote. Throws std::invalid_argument naming a missing attribute.
event from_cloudevent(const json& j);

/// RFC 3339 UTC with milliseconds: 2026-11-22T10:00:00.123Z.
std::string format_time(std::chrono::system_clock::time_point t);

/// Parses what format_time writes (also accepts no fraction). Throws std::invalid_argument.
std::chrono::system_clock::time_point parse_time(const std::string& text);

}  // namespace hookd
