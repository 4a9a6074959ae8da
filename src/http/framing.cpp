#include <algorithm>
#include <cstddef>

#include <boost/beast/core/string.hpp>

#include <hookd/http/framing.hpp>

namespace hookd::http {

namespace bhttp = boost::beast::http;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<answer> check_framing(const bhttp::fields& header) {
  const auto lengths = header.equal_range(bhttp::field::content_length);
  const auto codings = header.equal_range(bhttp::field::transfer_encoding);
  const auto length_count = static_cast<std::size_t>(std::distance(lengths.first, lengths.second));
  const auto coding_count = static_cast<std::size_t>(std::distance(codings.first, codings.second));

  if (length_count > 0 && coding_count > 0) {
    return bad_request("ambiguous_length", "request has both Content-Length and Transfer-Encoding");
  }
  if (length_count > 1) {
    return bad_request("ambiguous_length", "request has several Content-Length fields");
  }
  if (length_count == 1 && lengths.first->value().find(',') != std::string_view::npos) {
    return bad_request("ambiguous_length", "request has several Content-Length values");
  }
  if (coding_count > 1) {
    return bad_request("bad_transfer_encoding", "request has several Transfer-Encoding fields");
  }
  // Only a lone `chunked` is understood; any other coding would leave the body's end to guesswork
  // (for a request without chunked, RFC 9112 says the length cannot be determined: 400).
  if (coding_count == 1 && !boost::beast::iequals(trim(codings.first->value()), "chunked")) {
    return bad_request("bad_transfer_encoding", "unsupported Transfer-Encoding, only chunked");
  }
  return std::nullopt;
}

std::optional<answer> answer_for_parse_error(const boost::system::error_code& ec) {
  if (ec == bhttp::error::body_limit) return body_too_large();
  if (ec == bhttp::error::header_limit) return headers_too_large();
  // The client went away or was too slow: nobody to answer, or not worth answering.
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
      ec == bhttp::error::need_more || ec == bhttp::error::need_buffer) {
    return std::nullopt;
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
    switch (static_cast<bhttp::error>(ec.value())) {
      case bhttp::error::bad_content_length:
      case bhttp::error::multiple_content_length:
        return bad_request("ambiguous_length", "invalid or conflicting Content-Length");
      case bhttp::error::bad_transfer_encoding:
        return bad_request("bad_transfer_encoding", "invalid or conflicting Transfer-Encoding");
      case bhttp::error::bad_chunk:
      case bhttp::error::bad_chunk_extension:
        return bad_request("bad_chunk", "malformed chunked body");
      default:
        return bad_request("bad_request", "malformed HTTP request");
    }
  }
  return std::nullopt;
}

}  // namespace hookd::http
