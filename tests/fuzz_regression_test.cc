// Inputs the fuzzers (tests/fuzz) found, replayed through the in-process
// client so the ASan + UBSan CI build checks them on every run.

#include <catch2/catch.hpp>

#include "fastjson/fastjson.h"
#include "fastjson/testing.h"

TEST_CASE("fuzz regression: a POST without a body echoed back (memcpy from a null pointer)", "[fuzz]") {
  // fuzz_http, tests/fuzz/corpus/fuzz_http/regress_post_without_body: an
  // empty request body is a string_view with a null pointer, and
  // buffer::append passed it to memcpy (undefined even for 0 bytes; UBSan
  // "null pointer passed as argument 1"). Fixed in buffer::append.
  fastjson::app app;
  app.post("/echo", [](fastjson::request& req, fastjson::response& res) { res.send(req.body(), "text/plain"); });
  fastjson::testing::client client(app);
  auto rs = client.raw_chunked(
      "POST /echo HTTP/1.1\r\nHost: t\r\nHgth: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: t\r\n\r\n",
      16);
  REQUIRE(rs.size() == 3);
  for (auto& r : rs) {
    REQUIRE(r.status == 200);
    REQUIRE(r.body.empty());
  }
}

namespace fuzz_regress {
struct doc {
  std::string name;
  std::vector<std::vector<double>> matrix;
  std::optional<std::int32_t> count;
};
FASTJSON_REFLECT(doc, name, matrix, count)
}  // namespace fuzz_regress

TEST_CASE("fuzz regression: a 56-digit integer in a double field is valid JSON for read and validate alike", "[fuzz]") {
  // fuzz_json, tests/fuzz/corpus/fuzz_json/regress_bigint_in_double: the
  // earlier On-Demand reader reported a shape error for the integer while
  // validate() called the same document a syntax error (the fuzzer's
  // invariant: read and validate agree on syntax). Both now run the same DOM
  // parse, and integers beyond 64 bits are read as doubles.
  namespace json = fastjson::json;
  const std::string in =
      R"({"name":"n","count":7,"matrix":[[1,20000000000000000000000000000000000000000000000000000000],[3]]})";
  CHECK(json::validate(std::string_view(in)) == json::error_kind::none);
  auto r = json::read<fuzz_regress::doc>(std::string_view(in));
  INFO((r.errors.empty() ? std::string() : r.errors[0].pointer + ": " + r.errors[0].message));
  REQUIRE(r.ok());
  REQUIRE(r.value().matrix.size() == 2);
  CHECK(r.value().matrix[0][1] == 2e55);
  // The same digits in a 32-bit integer field: valid JSON, wrong shape.
  auto bad = json::read<fuzz_regress::doc>(
      std::string_view(R"({"name":"n","matrix":[],"count":20000000000000000000000000000000000000000000000000000000})"));
  CHECK(bad.kind() == json::error_kind::shape);
  // Round trip of what was read.
  auto back = json::read<fuzz_regress::doc>(std::string_view(json::to_string(r.value())));
  REQUIRE(back.ok());
  CHECK(back.value().matrix == r.value().matrix);
}
