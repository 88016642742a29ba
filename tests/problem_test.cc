// Error answers (problem+json): which headers survive them, and the shape
// of `errors` (a JSON Pointer into the body, or a named parameter).

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "fastjson/fastjson.h"
#include "fastjson/testing.h"

using namespace std::chrono_literals;
using fastjson::testing::client;

namespace {

struct item {
  std::string title;
  int qty = 0;
};
FASTJSON_REFLECT(item, title, qty)
FASTJSON_CONSTRAINTS(item, (title, fastjson::reflect::constraints::min_length(1)))

struct word {
  std::string text;
};
FASTJSON_REFLECT(word, text)
FASTJSON_CONSTRAINTS(word, (text, fastjson::reflect::constraints::min_length(2),
                            fastjson::reflect::constraints::max_length(3)))

struct field_error_doc {
  std::optional<std::string> pointer, parameter, in;
  std::string message;
};
FASTJSON_REFLECT(field_error_doc, (pointer, "pointer", not_required), (parameter, "parameter", not_required),
                 (in, "in", not_required), message)
struct problem_doc {
  int status = 0;
  std::vector<field_error_doc> errors;
};
FASTJSON_REFLECT(problem_doc, status, (errors, "errors", not_required))

problem_doc problem_of(const fastjson::testing::response& r) {
  INFO(r.body);
  REQUIRE(r.header("content-type") == "application/problem+json");
  auto doc = fastjson::json::read<problem_doc>(r.body);
  REQUIRE(doc.ok());
  return doc.value();
}

// An app whose every error path runs behind request_id + CORS.
void error_app(fastjson::app& app) {
  app.use(fastjson::mw::request_id());
  app.use(fastjson::mw::cors({.origins = {"https://ui.example"}}));
  app.get("/throws-http", [](fastjson::request&, fastjson::response&) {
    throw fastjson::http_error(409, "conflict");
  });
  app.get("/throws-other", [](fastjson::request&, fastjson::response& res) {
    res.header("ETag", "\"v1\"");
    res.begin("application/json").append("{\"half\":");
    throw std::runtime_error("boom");
  });
  app.get("/auth", [](fastjson::request&, fastjson::response& res) {
    res.header("WWW-Authenticate", "Bearer realm=\"api\"");
    res.problem(401, "a token is required");
  });
  app.get("/auth-throw", [](fastjson::request&, fastjson::response& res) {
    res.header("WWW-Authenticate", "Bearer");
    throw fastjson::http_error(401, "a token is required");
  });
  app.post("/items", [](fastjson::request& req, fastjson::response& res) { res.json(req.json<item>()); });
  app.get("/items/:id", [](fastjson::request& req, fastjson::response& res) {
    res.json(item{"x", static_cast<int>(req.param<std::int64_t>("id"))});
  });
  app.get("/search", [](fastjson::request& req, fastjson::response& res) {
    res.text(std::to_string(req.query<std::int64_t>("limit", 10)));
  });
  app.get("/slow", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    res.header("X-Handler", "partial");
    co_await fastjson::sleep(req.loop(), 300ms);
    res.text("late");
  }, {fastjson::mw::timeout(30ms)});
  app.get("/limited", [](fastjson::request&, fastjson::response& res) { res.text("ok"); },
          {fastjson::mw::rate_limit({.per_second = 0.001, .burst = 1})});
}

const fastjson::testing::header_list from_ui = {{"Origin", "https://ui.example"}, {"X-Request-Id", "req-42"}};

void check_kept(const fastjson::testing::response& r, int status) {
  INFO(status << " " << r.body);
  CHECK(r.status == status);
  CHECK(r.header("x-request-id") == "req-42");
  CHECK(r.header("access-control-allow-origin") == "https://ui.example");
  CHECK(r.header_count("content-type") == 1);
  CHECK(r.header("content-type") == "application/problem+json");
}

}  // namespace

TEST_CASE("problem: every error answer keeps the headers middleware set before it", "[http][problem]") {
  fastjson::app app;
  error_app(app);
  client c(app);
  check_kept(c.get("/missing", from_ui), 404);
  check_kept(c.post("/throws-http", "", from_ui), 405);
  check_kept(c.get("/throws-http", from_ui), 409);
  check_kept(c.post("/items", "{", {{"Origin", "https://ui.example"}, {"X-Request-Id", "req-42"},
                                     {"Content-Type", "application/json"}}),
             400);
  check_kept(c.post("/items", "{}", {{"Origin", "https://ui.example"}, {"X-Request-Id", "req-42"},
                                      {"Content-Type", "text/plain"}}),
             415);
  check_kept(c.post("/items", R"({"title":"","qty":1})", {{"Origin", "https://ui.example"}, {"X-Request-Id", "req-42"},
                                                          {"Content-Type", "application/json"}}),
             422);
  check_kept(c.get("/items/abc", from_ui), 400);
  check_kept(c.get("/slow", from_ui), 504);
  CHECK_FALSE(c.get("/slow", from_ui).header("x-handler"));  // what the running handler set does not go out
  CHECK(c.get("/limited", from_ui).status == 200);
  auto limited = c.get("/limited", from_ui);
  check_kept(limited, 429);
  CHECK(limited.header("retry-after"));
}

TEST_CASE("problem: an error replacing a begun response drops the handler's headers, not the middleware's",
          "[http][problem]") {
  fastjson::app app;
  error_app(app);
  client c(app);
  auto r = c.get("/throws-other", from_ui);
  check_kept(r, 500);
  CHECK_FALSE(r.header("etag"));
  CHECK(r.body.find("half") == std::string::npos);
}

TEST_CASE("problem: headers a handler sets before res.problem or a thrown http_error stay", "[http][problem]") {
  fastjson::app app;
  error_app(app);
  client c(app);
  for (const char* path : {"/auth", "/auth-throw"}) {
    INFO(path);
    auto r = c.get(path, from_ui);
    check_kept(r, 401);
    CHECK(r.header("www-authenticate"));
  }
}

TEST_CASE("problem: a custom 405 handler's problem keeps Allow; exception mappers keep middleware headers",
          "[http][problem]") {
  fastjson::app app;
  app.use(fastjson::mw::request_id());
  app.get("/only-get", [](fastjson::request&, fastjson::response& res) { res.text("x"); });
  app.get("/mapped", [](fastjson::request&, fastjson::response& res) -> void {
    res.header("X-Handler", "1");
    throw std::out_of_range("nope");
  });
  app.method_not_allowed([](fastjson::request&, fastjson::response& res) { res.problem(405, "read-only"); });
  app.on_exception([](std::exception_ptr e, fastjson::request&, fastjson::response& res) {
    try {
      std::rethrow_exception(e);
    } catch (const std::out_of_range&) {
      res.problem(404, "mapped");
      return true;
    } catch (...) {
      return false;
    }
  });
  client c(app);
  auto r = c.post("/only-get", "{}", {{"X-Request-Id", "abc"}});
  CHECK(r.status == 405);
  CHECK(r.header("allow") == "GET, HEAD, OPTIONS");
  CHECK(r.header("x-request-id") == "abc");
  auto m = c.get("/mapped", {{"X-Request-Id", "abc"}});
  CHECK(m.status == 404);
  CHECK(m.header("x-request-id") == "abc");
  CHECK_FALSE(m.header("x-handler"));
}

TEST_CASE("problem: errors[].pointer is an RFC 6901 pointer into the body; parameters are named with 'in'",
          "[http][problem]") {
  fastjson::app app;
  error_app(app);
  client c(app);
  auto body = problem_of(c.post("/items", R"({"title":"","qty":"x"})"));
  REQUIRE(body.errors.size() == 2);
  for (auto& e : body.errors) {
    REQUIRE(e.pointer);
    CHECK((e.pointer->empty() || e.pointer->front() == '/'));
    CHECK_FALSE(e.parameter);
    CHECK_FALSE(e.in);
  }
  auto path = problem_of(c.get("/items/abc"));
  REQUIRE(path.errors.size() == 1);
  CHECK_FALSE(path.errors[0].pointer);
  CHECK(path.errors[0].parameter == "id");
  CHECK(path.errors[0].in == "path");
  CHECK(path.errors[0].message == "must be an integer");
  auto query = problem_of(c.get("/search?limit=ten"));
  REQUIRE(query.errors.size() == 1);
  CHECK_FALSE(query.errors[0].pointer);
  CHECK(query.errors[0].parameter == "limit");
  CHECK(query.errors[0].in == "query");
  // Built by hand.
  fastjson::app custom;
  custom.get("/x", [](fastjson::request&, fastjson::response& res) {
    res.problem(422, "bad", {fastjson::problem_field_error::body("/a~1b", "slash in a key"),
                             fastjson::problem_field_error::param("X-Token", "header", "missing")});
  });
  client cc(custom);
  auto r = cc.get("/x");
  CHECK(r.body.find(R"("errors":[{"pointer":"/a~1b","message":"slash in a key"},)"
                    R"({"parameter":"X-Token","in":"header","message":"missing"}])") != std::string::npos);
}

TEST_CASE("constraints: min_length and max_length count Unicode code points, not UTF-8 bytes", "[json][problem]") {
  fastjson::app app;
  app.post("/w", [](fastjson::request& req, fastjson::response& res) { res.json(req.json<word>()); });
  client c(app);
  // "é" is 2 bytes and 1 code point, "😀" 4 bytes and 1: lengths 2..3.
  CHECK(c.post("/w", "{\"text\":\"\xC3\xA9\"}").status == 422);                           // 1 < 2
  CHECK(c.post("/w", "{\"text\":\"\xC3\xA9\xC3\xA9\xC3\xA9\"}").status == 200);               // 3 (6 bytes)
  CHECK(c.post("/w", "{\"text\":\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\"}").status == 200);     // 2 (8 bytes)
  CHECK(c.post("/w", "{\"text\":\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"}").status == 422);     // 4 > 3
  CHECK(c.post("/w", R"({"text":"abc"})").status == 200);
}
