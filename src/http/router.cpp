#include <hookd/http/router.hpp>

namespace hookd::http {

namespace {

constexpr std::string_view hooks_prefix = "/hooks";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

decision answer_only(answer a, std::string_view route, std::string endpoint = {}) {
  decision d{std::move(a), std::move(endpoint)};
  d.route = route;
  return d;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

decision decide(const inbound_request& request, const providers::endpoint_table* endpoints) {
  std::string_view path = request.target;
  std::string_view query;
  if (const auto q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  // A fragment is never sent by a conforming client; drop it rather than route on it.
  if (const auto f = query.find('#'); f != std::string_view::npos) query = query.substr(0, f);

  if (path == "/healthz") {
    // HEAD is GET without the body (RFC 9110 9.3.2): load balancers probe with it.
    if (request.method != "GET" && request.method != "HEAD") {
      return answer_only(method_not_allowed("GET, HEAD"), "healthz");
    }
    return answer_only(healthy(), "healthz");
  }

  const bool under_hooks =
      path == hooks_prefix || (path.size() > hooks_prefix.size() &&
                               path.starts_with(hooks_prefix) && path[hooks_prefix.size()] == '/');
  if (!under_hooks) return answer_only(not_found(), "other");
  if (request.method != "POST") return answer_only(method_not_allowed("POST"), "hooks");

  // /hooks/<endpoint>[/<rest>]
  std::string_view after = path.substr(hooks_prefix.size());
  if (!after.empty()) after.remove_prefix(1);  // the '/'
  std::string_view raw_name = after;
  std::string_view raw_rest;
  if (const auto slash = after.find('/'); slash != std::string_view::npos) {
    raw_name = after.substr(0, slash);
    raw_rest = after.substr(slash + 1);
  }
  if (raw_name.empty()) return answer_only(unknown_endpoint(), "hooks");

  const auto name = percent_decode(raw_name);
  const auto rest = percent_decode(raw_rest);
  if (!name || !rest) {
    return answer_only(error_answer(400, "bad_path", "malformed percent-encoding in the path"),
                       "hooks");
  }
  const providers::endpoint* ep = endpoints != nullptr ? endpoints->find(*name) : nullptr;
  if (ep == nullptr) return answer_only(unknown_endpoint(), "hooks");

  const providers::request_view view{*rest, query, request.headers, request.body, request.received};
  auto result = ep->ingest(view);
  if (auto* rejected = std::get_if<providers::rejection>(&result)) {
    return answer_only(from_rejection(*rejected), "hooks", ep->name());
  }
  decision d{std::move(std::get<event>(result)), ep->name()};
  d.route = "hooks";
  return d;
}

}  // namespace hookd::http
