#pragma once

#include <optional>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/fields.hpp>

#include <hookd/http/answer.hpp>

/// Request framing checks against request smuggling (RFC 9112 section 6.3): a request whose
/// length two parties could read differently is refused with 400 and the connection closed.
namespace hookd::http {

/// Checks what Beast's parser lets through once the header is read: Beast already refuses
/// Transfer-Encoding after Content-Length, Content-Length after chunked, and Content-Length
/// values that differ; it accepts a transfer coding other than a lone `chunked` (e.g. `gzip`,
/// `gzip, chunked`), repeated equal Content-Length fields and lists ("5, 5"), and
/// Transfer-Encoding `gzip` before a Content-Length. All of those get 400 here.
/// Nullopt: the framing is unambiguous.
std::optional<answer> check_framing(const boost::beast::http::fields& header);

/// The answer for an error from Beast's parser: body_limit -> 413, header_limit -> 431, any other
/// parse error -> 400; all close the connection. Nullopt for errors that are not about the
/// request's bytes (timeouts, end of stream, socket errors): the connection is simply closed.
std::optional<answer> answer_for_parse_error(const boost::system::error_code& ec);

}  // namespace hookd::http
