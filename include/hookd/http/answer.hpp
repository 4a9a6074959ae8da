#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <hookd/dispatch/sink.hpp>
#include <hookd/providers/endpoint.hpp>

/// What hookd answers over HTTP, as plain data: the session writes an `answer` as the bytes
/// serialize() makes of it, tests compare answers without a socket. Every body is a JSON object
/// (DESIGN.md, "HTTP answers"), and no body ever carries a credential.
namespace hookd::http {

/// Seconds a client is told to wait (Retry-After) when the sink cannot take an event.
inline constexpr unsigned retry_after_seconds = 5;

struct answer {
  unsigned status = 200;
  std::string body;          ///< JSON text, an object (admin answers may be other text)
  std::string content_type;  ///< empty: application/json
  /// Extra headers (Allow, Retry-After). Server, Content-Type, Content-Length and Connection
  /// are written by serialize(), which leaves out an extra header of one of those names (or
  /// of a name that is not a valid field name).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string reason;  ///< short stable label for the request log and metrics ("accepted", ...)
  bool close = false;  ///< close the connection after answering (the framing cannot be trusted)
};

/// `{"error": message}` with `status`.
answer error_answer(unsigned status, std::string_view reason, std::string_view message);

answer healthy();                                   ///< 200 {"status":"ok"}
answer not_found();                                 ///< 404, an unknown path
answer unknown_endpoint();                          ///< 404, /hooks/<name> with no such endpoint
answer method_not_allowed(std::string_view allow);  ///< 405 with `Allow`
answer internal_error();                            ///< 500, the catch-all at the session boundary
answer from_rejection(const providers::rejection& r);  ///< 400/401 from verification/mapping
/// 200 accepted / 200 duplicate / 503 with Retry-After, for what the sink said about event `id`.
answer from_submit(dispatch::submit_status status, std::string_view id);

/// Answers for a request that could not be read as HTTP; each closes the connection.
answer body_too_large();                                                ///< 413
answer headers_too_large();                                             ///< 431
answer bad_request(std::string_view reason, std::string_view message);  ///< 400, closes

/// How an answer goes on the wire for the request it answers.
struct wire {
  unsigned version = 11;   ///< the request's HTTP version: 10 or 11 (anything else is 11)
  bool keep_alive = true;  ///< the connection stays open after this answer
  bool head = false;       ///< the request was HEAD: the headers of GET's answer, no body
};

/// Writes `a` into `out` (replacing what it held) as an HTTP/1.x response: the status line
/// (with the reason phrase Beast knows for the status), Server, Content-Type, the extra headers
/// (except those named Server, Content-Type, Content-Length or Connection, which are this
/// function's, and those whose name is not a valid field name), Content-Length, Connection
/// where the version's default is not what `w` says, a blank line, then the body. A HEAD answer
/// keeps the Content-Length of its body and sends none; an interim answer (1xx), 204 and 304
/// carry no Content-Type, Content-Length or body, and an interim answer no Connection either.
/// Header values come from hookd itself: a CR, LF or NUL in one is written as a space, so no
/// value can end the header early.
void serialize(const answer& a, const wire& w, std::string& out);

}  // namespace hookd::http
