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

}  // namespace

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
