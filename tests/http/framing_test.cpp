#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/fields.hpp>
#include <catch2/catch.hpp>

#include <hookd/http/framing.hpp>

namespace bhttp = boost::beast::http;
using hookd::http::answer_for_parse_error;
using hookd::http::check_framing;

namespace {

bhttp::fields fields(std::initializer_list<std::pair<const char*, const char*>> list) {
  bhttp::fields f;
  for (const auto& [n, v] : list)
    f.insert(n, v);
  return f;
}

}  // namespace

TEST_CASE("unambiguous framing passes", "[http][framing]") {
  CHECK_FALSE(check_framing(fields({})));
  CHECK_FALSE(check_framing(fields({{"Content-Length", "12"}})));
  CHECK_FALSE(check_framing(fields({{"Transfer-Encoding", "chunked"}})));
  CHECK_FALSE(check_framing(fields({{"Transfer-Encoding", " Chunked "}})));
}

TEST_CASE("ambiguous framing is refused with 400 and closes", "[http][framing]") {
  const auto refused = [](const bhttp::fields& f) {
    const auto a = check_framing(f);
    REQUIRE(a);
    CHECK(a->status == 400);
    CHECK(a->close);
    return a->reason;
  };
  SECTION("Content-Length and Transfer-Encoding") {
    CHECK(refused(fields({{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}})) ==
          "ambiguous_length");
    CHECK(refused(fields({{"Transfer-Encoding", "gzip"}, {"Content-Length", "5"}})) ==
          "ambiguous_length");
  }
  SECTION("several Content-Length, even equal") {
    refused(fields({{"Content-Length", "5"}, {"Content-Length", "5"}}));
    refused(fields({{"Content-Length", "5"}, {"Content-Length", "6"}}));
    refused(fields({{"Content-Length", "5, 5"}}));
  }
  SECTION("transfer codings other than a lone chunked") {
    CHECK(refused(fields({{"Transfer-Encoding", "gzip"}})) == "bad_transfer_encoding");
    refused(fields({{"Transfer-Encoding", "gzip, chunked"}}));
    refused(fields({{"Transfer-Encoding", "chunked, gzip"}}));
    refused(fields({{"Transfer-Encoding", "identity"}}));
    refused(fields({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}));
  }
}

TEST_CASE("parser errors map to 413, 431 and 400", "[http][framing]") {
  const auto status = [](bhttp::error e) {
    const auto a = answer_for_parse_error(bhttp::make_error_code(e));
    REQUIRE(a);
    CHECK(a->close);
    return a->status;
  };
  CHECK(status(bhttp::error::body_limit) == 413);
  CHECK(status(bhttp::error::header_limit) == 431);
  CHECK(status(bhttp::error::bad_method) == 400);
  CHECK(status(bhttp::error::bad_version) == 400);
  CHECK(status(bhttp::error::bad_field) == 400);
  CHECK(status(bhttp::error::bad_content_length) == 400);
  CHECK(status(bhttp::error::multiple_content_length) == 400);
  CHECK(status(bhttp::error::bad_transfer_encoding) == 400);
  CHECK(status(bhttp::error::bad_chunk) == 400);
}

TEST_CASE("errors that are not about the request's bytes are not answered", "[http][framing]") {
  CHECK_FALSE(answer_for_parse_error(bhttp::make_error_code(bhttp::error::end_of_stream)));
  CHECK_FALSE(answer_for_parse_error(bhttp::make_error_code(bhttp::error::partial_message)));
  CHECK_FALSE(answer_for_parse_error(boost::beast::error::timeout));
  CHECK_FALSE(answer_for_parse_error(boost::asio::error::connection_reset));
}
