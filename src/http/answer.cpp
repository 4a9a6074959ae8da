#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include <hookd/core/http_token.hpp>
#include <hookd/core/json.hpp>
#include <hookd/http/answer.hpp>

namespace hookd::http {

namespace {

answer make(unsigned status, std::string_view reason, const json& body) {
  answer a;
  a.status = status;
  a.reason = std::string(reason);
  // Replace invalid UTF-8 rather than throw: messages may quote bytes a client sent.
  a.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return a;
}

/// `{"status": status, "id": id}`, written as text: the answer to every stored event, where an
/// initializer-list object (two arrays and an object, then a dump) cost as much as the rest of
/// the answer.
answer stored(std::string_view status, std::string_view id) {
  answer a;
  a.reason = std::string(status);
  a.body.reserve(32 + id.size());
  a.body = R"({"status":")";
  a.body += status;
  a.body += R"(","id":)";
  a.body += json(id).dump(-1, ' ', false, json::error_handler_t::replace);
  a.body += '}';
  return a;
}

/// Whether serialize() writes an extra header of this name: not one of the fields it writes
/// itself (two Content-Length fields would make a strict client refuse the answer), and a
/// valid field name (RFC 9110 token).
bool writable_field(std::string_view name) {
  for (const std::string_view own : {"Server", "Content-Type", "Content-Length", "Connection"})
    if (boost::beast::iequals(name, own)) return false;
  return is_http_token(name);
}

/// `name: value` and CRLF, with CR, LF and NUL in the value written as spaces (the names are
/// checked by writable_field() or are this file's own).
void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  for (const char c : value)
    out += c == '\r' || c == '\n' || c == '\0' ? ' ' : c;
  out += "\r\n";
}

}  // namespace

// Written by hand rather than by Beast's serializer, which cost 16 000 instructions for an
// answer of 150 bytes (generic buffer sequences over a field list built with one allocation per
// field): a fifth of an io thread's work per request.
void serialize(const answer& a, const wire& w, std::string& out) {
  const bool interim = a.status < 200;
  const bool no_content = interim || a.status == 204 || a.status == 304;
  const std::string_view reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(a.status));
  out.clear();
  out.reserve(128 + a.body.size());
  out += w.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(a.status);
  out += ' ';
  out += reason;
  out += "\r\n";
  append_field(out, "Server", "hookd");
  if (!no_content) {
    append_field(out, "Content-Type",
                 a.content_type.empty() ? std::string_view("application/json") : a.content_type);
  }
  for (const auto& [name, value] : a.headers)
    if (writable_field(name)) append_field(out, name, value);
  if (!no_content) append_field(out, "Content-Length", std::to_string(a.body.size()));
  // HTTP/1.1 keeps a connection open unless told; HTTP/1.0 closes it unless told.
  if (w.version == 10 && w.keep_alive && !interim) append_field(out, "Connection", "keep-alive");
  if (w.version != 10 && !w.keep_alive && !interim) append_field(out, "Connection", "close");
  out += "\r\n";
  if (!no_content && !w.head) out += a.body;
}

answer error_answer(unsigned status, std::string_view reason, std::string_view message) {
  return make(status, reason, json{{"error", message}});
}

answer healthy() {
  return make(200, "ok", json{{"status", "ok"}});
}

answer not_found() {
  return error_answer(404, "not_found", "not found");
}

answer unknown_endpoint() {
  return error_answer(404, "unknown_endpoint", "unknown endpoint");
}

answer method_not_allowed(std::string_view allow) {
  answer a =
      error_answer(405, "method_not_allowed", "method not allowed, use " + std::string(allow));
  a.headers.emplace_back("Allow", std::string(allow));
  return a;
}

answer internal_error() {
  return error_answer(500, "internal_error", "internal error");
}

answer from_rejection(const providers::rejection& r) {
  return error_answer(r.status, r.reason, r.message);
}

answer from_submit(dispatch::submit_status status, std::string_view id) {
  switch (status) {
    case dispatch::submit_status::accepted:
      return stored("accepted", id);
    case dispatch::submit_status::duplicate:
      return stored("duplicate", id);
    case dispatch::submit_status::unavailable:
      break;
  }
  // The provider retries on 503: nothing is lost, nothing was stored.
  answer a = error_answer(503, "unavailable", "spool unavailable, retry later");
  a.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  return a;
}

answer body_too_large() {
  answer a = error_answer(413, "body_too_large", "request body too large");
  a.close = true;
  return a;
}

answer headers_too_large() {
  answer a = error_answer(431, "headers_too_large", "request header fields too large");
  a.close = true;
  return a;
}

answer bad_request(std::string_view reason, std::string_view message) {
  answer a = error_answer(400, reason, message);
  a.close = true;
  return a;
}

}  // namespace hookd::http
