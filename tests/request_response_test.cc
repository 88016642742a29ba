// Request and response tests through the in-process client: headers,
// bodies (Content-Length and chunked), header validation, exactly one
// response, Content-Length, JSON in and out, problem documents.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastjson/app.h"
#include "fastjson/http_error.h"
#include "fastjson/task.h"
#include "fastjson/json/reflect.h"
#include "fastjson/testing.h"

namespace rr_test {
struct note {
  std::int64_t id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> tag;
};
FASTJSON_REFLECT(note, id, title, (done, "done", not_required), tag)
}  // namespace rr_test

namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

void check_length(const fastjson::testing::response& r) {
  INFO("status " << r.status << " body " << r.body);
  REQUIRE(r.header_count("content-length") == 1);
  CHECK(*r.header("content-length") == std::to_string(r.body.size()));
}

}  // namespace

TEST_CASE("request: header lookup is case-insensitive; every header is visible", "[http]") {
  fastjson::app app;
  app.get("/h", [](fastjson::request& req, fastjson::response& res) {
    std::string out;
    out += std::string(req.header("x-custom").value_or("none")) + ",";
    out += std::string(req.header("X-CUSTOM").value_or("none")) + ",";
    out += std::string(req.header("X-Custom").value_or("none")) + ",";
    out += std::string(req.header("x-missing").value_or("none")) + ",";
    out += std::to_string(req.headers().size());
    res.text(out);
  });
  fastjson::testing::client client(app);
  auto r = client.get("/h", {{"x-CuStOm", "v1"}, {"Other", "o"}});
  CHECK(r.body == "v1,v1,v1,none,3");  // Host + two
}

TEST_CASE("request: bodies via Content-Length and chunked", "[http]") {
  fastjson::app app;
  app.post("/echo", [](fastjson::request& req, fastjson::response& res) {
    res.text(std::string(req.method_name()) + ":" + std::string(req.body()));
  });
  fastjson::testing::client client(app);
  auto r = client.post("/echo", "hello body", {{"Content-Type", "text/plain"}});
  CHECK(r.body == "POST:hello body");
  auto rs = client.raw(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
      2);
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].body == "POST:hello world");
  CHECK(rs[1].body == "POST:abc");
  // The same bytes fed in small pieces.
  auto pieces = client.raw_chunked(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n",
      7, 1);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].body == "POST:abc");
  auto empty = client.post("/echo", "", {});
  CHECK(empty.body == "POST:");
}

TEST_CASE("response: header values with CR/LF are refused", "[http]") {
  fastjson::app app;
  app.get("/inject", [](fastjson::request&, fastjson::response& res) {
    std::string report;
    try {
      res.header("X-Bad", "a\r\nSet-Cookie: evil=1");
      report += "accepted;";
    } catch (const std::invalid_argument&) {
      report += "value refused;";
    }
    try {
      res.set_header("X-Bad", "a\nb");
      report += "accepted;";
    } catch (const std::invalid_argument&) {
      report += "set refused;";
    }
    try {
      res.header("Bad Name", "x");
      report += "accepted;";
    } catch (const std::invalid_argument&) {
      report += "name refused;";
    }
    try {
      res.header("Content-Length", "5");
      report += "accepted;";
    } catch (const std::invalid_argument&) {
      report += "managed refused;";
    }
    try {
      res.send("x", "text/plain\r\nSet-Cookie: evil=1");
      report += "accepted;";
    } catch (const std::invalid_argument&) {
      report += "type refused;";
    }
    try {
      res.begin(std::string_view("text/plain\0x", 12));
      report += "accepted;";
    } catch (const std::invalid_argument&) {
      report += "begin refused;";
    }
    res.header("X-Tab", "a\tb");
    res.text(report);
  });
  fastjson::testing::client client(app);
  auto r = client.get("/inject");
  CHECK(r.status == 200);
  CHECK(r.body == "value refused;set refused;name refused;managed refused;type refused;begin refused;");
  CHECK_FALSE(r.header("set-cookie"));
  CHECK_FALSE(r.header("x-bad"));
  CHECK(r.header("x-tab") == "a\tb");
  check_length(r);
}

TEST_CASE("response: exactly one response per request", "[http]") {
  fastjson::app app;
  app.get("/twice", [](fastjson::request&, fastjson::response& res) {
    res.text("first");
    res.text("second, much longer than the first");
    res.json(std::vector<int>{1, 2, 3});
    res.problem(400, "nope");
    res.no_content();
    res.redirect("/elsewhere");
  });
  app.get("/next", [](fastjson::request&, fastjson::response& res) { res.text("next"); });
  app.get("/silent", [](fastjson::request&, fastjson::response&) {});
  app.get("/silent-async", [](fastjson::request&, fastjson::response&) -> fastjson::task<> { co_return; });
  fastjson::testing::client client(app);
  auto rs = client.raw("GET /twice HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n", 2);
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].body == "first");
  CHECK(rs[0].header("content-type") == "text/plain; charset=utf-8");
  CHECK(rs[0].header_count("content-type") == 1);
  CHECK_FALSE(rs[0].header("location"));
  check_length(rs[0]);
  CHECK(rs[1].body == "next");

  auto s = client.get("/silent");
  CHECK(s.status == 500);
  CHECK(s.header("content-type") == "application/problem+json");
  check_length(s);
  s = client.get("/silent-async");
  CHECK(s.status == 500);
  CHECK(client.get("/next").body == "next");
}

TEST_CASE("response: json of a reflected struct, problem with field errors, header edits", "[http]") {
  fastjson::app app;
  app.get("/note", [](fastjson::request&, fastjson::response& res) {
    res.header("X-A", "1");
    res.header("x-a", "2");
    res.header("X-B", "keep");
    res.set_header("X-A", "3");
    res.header("X-Gone", "1");
    res.remove_header("x-gone");
    res.json(rr_test::note{7, "write \"tests\"", true, std::nullopt});
  });
  app.get("/problem", [](fastjson::request&, fastjson::response& res) {
    res.problem(422, "bad input", {{"/title", "is required"}, {"/id", "must be positive"}});
  });
  app.get("/empty", [](fastjson::request&, fastjson::response& res) { res.no_content(); });
  app.get("/notmod", [](fastjson::request&, fastjson::response& res) { res.no_content(304); });
  fastjson::testing::client client(app);

  auto r = client.get("/note");
  CHECK(r.status == 200);
  CHECK(r.header("content-type") == "application/json");
  CHECK(r.body == R"({"id":7,"title":"write \"tests\"","done":true})");
  CHECK(r.header_count("x-a") == 1);
  CHECK(r.header("x-a") == "3");
  CHECK(r.header("x-b") == "keep");
  CHECK_FALSE(r.header("x-gone"));
  check_length(r);

  r = client.get("/problem");
  CHECK(r.status == 422);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(contains(r.body, R"("title":"Unprocessable Content")"));
  CHECK(contains(r.body, R"("status":422)"));
  CHECK(contains(r.body, R"("detail":"bad input")"));
  CHECK(contains(r.body, R"("instance":"/problem")"));
  CHECK(contains(r.body,
                 R"("errors":[{"pointer":"/title","message":"is required"},{"pointer":"/id","message":"must be positive"}])"));
  check_length(r);

  // 204/304: no Content-Length, no body; the next response still parses.
  auto rs = client.raw("GET /empty HTTP/1.1\r\nHost: t\r\n\r\nGET /notmod HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /note HTTP/1.1\r\nHost: t\r\n\r\n",
                       3);
  REQUIRE(rs.size() == 3);
  CHECK(rs[0].status == 204);
  CHECK_FALSE(rs[0].header("content-length"));
  CHECK(rs[1].status == 304);
  CHECK_FALSE(rs[1].header("content-length"));
  CHECK(rs[2].status == 200);
  check_length(rs[2]);
}

TEST_CASE("response: problem documents written after a handler suspends name the right instance", "[http]") {
  fastjson::app app;
  app.get("/later/:id", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), std::chrono::milliseconds(10));
    res.problem(404, "todo " + std::string(req.param("id")) + " does not exist");
  });
  app.get("/later-throw", [](fastjson::request& req, fastjson::response&) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), std::chrono::milliseconds(10));
    throw fastjson::http_error(409, "conflict");
  });
  fastjson::testing::client client(app);
  // Pipelined with filler so the read buffer is reused while they sleep.
  auto rs = client.raw("GET /later/42 HTTP/1.1\r\nHost: t\r\n\r\nGET /later-throw HTTP/1.1\r\nHost: t\r\n\r\n", 2);
  client.get("/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status == 404);
  CHECK(contains(rs[0].body, R"("detail":"todo 42 does not exist")"));
  CHECK(contains(rs[0].body, R"("instance":"/later/42")"));
  CHECK(rs[1].status == 409);
  CHECK(contains(rs[1].body, R"("instance":"/later-throw")"));
  for (int i = 0; i < 3; ++i) {
    auto r = client.get("/later/" + std::to_string(i));
    CHECK(contains(r.body, "\"instance\":\"/later/" + std::to_string(i) + "\""));
  }
}

TEST_CASE("request: json<T>() errors are 415, 400 and 422 problems", "[http]") {
  fastjson::app app;
  app.post("/notes", [](fastjson::request& req, fastjson::response& res) {
    auto n = req.json<rr_test::note>();
    res.status(201).json(n);
  });
  fastjson::testing::client client(app);

  auto r = client.post("/notes", R"({"id":1,"title":"t"})");
  CHECK(r.status == 201);
  CHECK(r.body == R"({"id":1,"title":"t","done":false})");
  r = client.post("/notes", R"({"id":1,"title":"t"})", {{"Content-Type", "application/merge-patch+json"}});
  CHECK(r.status == 201);
  r = client.post("/notes", R"({"id":1,"title":"t"})", {{"Content-Type", "application/json; charset=utf-8"}});
  CHECK(r.status == 201);

  r = client.post("/notes", R"({"id":1,"title":"t"})", {{"Content-Type", "text/plain"}});
  CHECK(r.status == 415);
  CHECK(r.header("content-type") == "application/problem+json");
  r = client.post("/notes", R"({"id":1,"title":"t"})", {});
  CHECK(r.status == 415);

  r = client.post("/notes", R"({"id":1,"title":)");
  CHECK(r.status == 400);
  CHECK(r.header("content-type") == "application/problem+json");
  check_length(r);

  r = client.post("/notes", R"({"id":1})");
  CHECK(r.status == 422);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(contains(r.body, R"("pointer":"/title")"));
  r = client.post("/notes", R"({"id":"x","title":"t"})");
  CHECK(r.status == 422);
  CHECK(contains(r.body, R"("pointer":"/id")"));
  check_length(r);
}

TEST_CASE("request: target, path, query string and method accessors", "[http]") {
  fastjson::app app;
  app.route(fastjson::method::patch, "/a/:x", [](fastjson::request& req, fastjson::response& res) {
    res.text(std::string(req.method_name()) + " " + std::string(req.target()) + " " + std::string(req.path()) + " " +
             std::string(req.query_string()) + " " + std::to_string(req.http_minor()));
  });
  fastjson::testing::client client(app);
  auto r = client.patch("/a/b%20c?x=1&y", "{}");
  CHECK(r.body == "PATCH /a/b%20c?x=1&y /a/b c x=1&y 1");
}

TEST_CASE("decode_path decodes like the router: %2F and %25 kept, bad escapes and NUL refused", "[http]") {
  auto dec = [](std::string_view raw) -> std::optional<std::string> {
    std::string out(raw.size(), '\0');
    long n = fastjson::decode_path(raw, out.data());
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n));
    return out;
  };
  CHECK(dec("/todos/7") == "/todos/7");
  CHECK(dec("/caf%C3%A9/%7e") == "/caf\xC3\xA9/~");
  CHECK(dec("/a%2Fb/%2fc") == "/a%2Fb/%2fc");  // an encoded '/' stays encoded: segments keep their bounds
  CHECK(dec("/100%25") == "/100%25");          // and '%' too, so params are not decoded twice
  CHECK(dec("/a+b") == "/a+b");                // '+' is a plus in a path
  CHECK(!dec("/a%2"));
  CHECK(!dec("/a%zz"));
  CHECK(!dec("/a%00b"));
  // The router sees the same thing: an encoded slash does not split a segment.
  fastjson::app app;
  app.get("/files/:name", [](fastjson::request& req, fastjson::response& res) { res.text(std::string(req.param("name"))); });
  fastjson::testing::client c(app);
  CHECK(c.get("/files/a%2Fb").body == "a/b");
  CHECK(c.get("/files/%7e").body == "~");
  CHECK(c.get("/files/a%00").status == 400);
}

TEST_CASE("a status outside 100..999 goes out as a delimited 500", "[http][response]") {
  fastjson::app app;
  app.get("/s/:code", [](fastjson::request& req, fastjson::response& res) {
    res.status(static_cast<int>(req.param<std::int64_t>("code"))).text("body");
  });
  fastjson::testing::client c(app);
  for (int code : {0, 42, 99, 1000, -5}) {
    INFO("status " << code);
    auto rs = c.raw("GET /s/" + std::to_string(code) + " HTTP/1.1\r\nHost: t\r\n\r\nGET /s/200 HTTP/1.1\r\nHost: t\r\n\r\n", 2);
    REQUIRE(rs.size() == 2);  // the first answer is delimited: the second one parses after it
    CHECK(rs[0].status == 500);
    CHECK(rs[0].body == "body");
    CHECK(rs[1].status == 200);
  }
  CHECK(c.get("/s/299").status == 299);  // unknown but in range: sent as is
}
