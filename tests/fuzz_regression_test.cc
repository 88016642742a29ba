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
      "POST /echo HTTP/1.1\r\nHgth: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
      "POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
      "POST /echo HTTP/1.1\r\n\r\n",
      16);
  REQUIRE(rs.size() == 3);
  for (auto& r : rs) {
    REQUIRE(r.status == 200);
    REQUIRE(r.body.empty());
  }
}
