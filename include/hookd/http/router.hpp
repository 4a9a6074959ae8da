#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <hookd/core/event.hpp>
#include <hookd/http/answer.hpp>
#include <hookd/providers/endpoint.hpp>

/// The request path's decisions, kept out of the I/O code: a complete request goes in, either an
/// answer or an event to hand to the sink comes out. No sockets, no Beast types: unit-testable.
namespace hookd::http {

/// One complete request as read by the session. Views into the session's buffers, valid for the
/// duration of the decide() call.
struct inbound_request {
  std::string_view method;  ///< exactly as sent ("POST"); methods are case-sensitive
  std::string_view target;  ///< origin-form request target, query included
  const providers::header_source& headers;
  std::string_view body;
  std::chrono::system_clock::time_point received;
};

/// What to do with a request: answer it now, or submit the event and answer from the sink's
/// status. `endpoint` names the configured endpoint the request reached (empty when none), and
/// `route` labels the path for the request log without echoing it ("hooks", "healthz", "other").
struct decision {
  std::variant<answer, event> outcome;
  std::string endpoint;
  std::string_view route = "other";
};

/// Routes `POST /hooks/<endpoint>[/<rest>]` to the endpoint's ingest (rest percent-decoded, query
/// split off), `GET /healthz` (and HEAD) to a health answer, anything else to 404 (or 405 for a
/// method other than POST under /hooks/). `endpoints` may be null (no table yet): every endpoint is
/// unknown. Does not perform I/O; may throw only std::bad_alloc.
decision decide(const inbound_request& request, const providers::endpoint_table* endpoints);

/// RFC 3986 percent-decoding of a path segment ('+' stays '+'). Nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace hookd::http
