// Middleware tests: chain order, short-circuits, per-request state, afters
// for coroutine and throwing handlers, and every built-in middleware.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fastjson/app.h"
#include "fastjson/http_error.h"
#include "fastjson/loop.h"
#include "fastjson/mw/builtin.h"
#include "fastjson/task.h"
#include "fastjson/testing.h"

using namespace std::chrono_literals;

namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// A middleware that records "name>" before and "<name" after.
fastjson::middleware_ptr tracer(std::vector<std::string>& log, std::string name, bool stop = false) {
  return fastjson::make_middleware(
      [&log, name, stop](fastjson::request&, fastjson::response& res) {
        log.push_back(name + ">");
        if (stop) {
          res.status(403).text("stopped by " + name);
          return false;
        }
        return true;
      },
      [&log, name](fastjson::request&, fastjson::response&) { log.push_back("<" + name); });
}

std::string read_all(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
  return s;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("middleware: app -> group -> route before the handler, reverse after", "[middleware]") {
  std::vector<std::string> log;
  fastjson::app app;
  app.use(tracer(log, "app1"));
  app.use(tracer(log, "app2"));
  auto g = app.group("/g");
  g.use(tracer(log, "group"));
  auto sub = g.subgroup("/s");
  sub.use(tracer(log, "sub"));
  sub.get("/x",
          [&](fastjson::request&, fastjson::response& res) {
            log.push_back("handler");
            res.text("ok");
          },
          {tracer(log, "route")});
  fastjson::testing::client client(app);
  REQUIRE(client.get("/g/s/x").status == 200);
  CHECK(log == std::vector<std::string>{"app1>", "app2>", "group>", "sub>", "route>", "handler", "<route", "<sub",
                                        "<group", "<app2", "<app1"});
}

TEST_CASE("middleware: a before that responds and returns false stops the chain", "[middleware]") {
  std::vector<std::string> log;
  bool handler_ran = false;
  fastjson::app app;
  app.use(tracer(log, "a"));
  app.use(tracer(log, "b", /*stop=*/true));
  app.use(tracer(log, "c"));
  app.get("/x", [&](fastjson::request&, fastjson::response& res) {
    handler_ran = true;
    res.text("handler");
  });
  fastjson::testing::client client(app);
  auto r = client.get("/x");
  CHECK(r.status == 403);
  CHECK(r.body == "stopped by b");
  CHECK_FALSE(handler_ran);
  CHECK(log == std::vector<std::string>{"a>", "b>", "<b", "<a"});
  // The connection is still fine.
  log.clear();
  CHECK(client.get("/x").status == 403);
}

namespace {

struct counted_state {
  static inline int live = 0, constructed = 0;
  std::string path;  // non-trivial: needs a real constructor/destructor
  int tag = 0;
  counted_state() {
    ++live;
    ++constructed;
  }
  ~counted_state() { --live; }
};

struct state_mw : fastjson::middleware_with_state<counted_state> {
  std::vector<std::string>* mismatches;
  explicit state_mw(std::vector<std::string>* m) : mismatches(m) {}
  bool before(fastjson::request& req, fastjson::response&, counted_state& s) override {
    if (!s.path.empty() || s.tag != 0) mismatches->push_back("state not fresh");
    s.path = std::string(req.path());
    s.tag = 1;
    return true;
  }
  void after(fastjson::request& req, fastjson::response& res, counted_state& s) override {
    if (s.path != req.path() || s.tag != 1) mismatches->push_back("state of " + s.path + " seen by " + std::string(req.path()));
    res.header("X-State-Path", s.path);
  }
};

}  // namespace

TEST_CASE("middleware: middleware_with_state gives each request its own constructed state", "[middleware]") {
  counted_state::live = counted_state::constructed = 0;
  std::vector<std::string> mismatches;
  fastjson::app app;
  app.use(std::make_shared<state_mw>(&mismatches));
  app.get("/slow/:ms", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), std::chrono::milliseconds(req.param<int>("ms")));
    res.text(std::string(req.path()));
  });
  app.get("/fast", [](fastjson::request& req, fastjson::response& res) { res.text(std::string(req.path())); });
  fastjson::testing::client client(app);

  // Three pipelined requests in flight at once; the first finishes last.
  auto rs = client.raw(
      "GET /slow/60 HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /slow/10 HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n",
      3);
  REQUIRE(rs.size() == 3);
  CHECK(rs[0].body == "/slow/60");
  CHECK(rs[0].header("x-state-path") == "/slow/60");
  CHECK(rs[1].header("x-state-path") == "/slow/10");
  CHECK(rs[2].header("x-state-path") == "/fast");
  CHECK(mismatches.empty());
  CHECK(counted_state::constructed == 3);
  CHECK(counted_state::live == 0);
  // Slots are reused: the state is fresh again.
  CHECK(client.get("/fast").header("x-state-path") == "/fast");
  CHECK(mismatches.empty());
  CHECK(counted_state::live == 0);
  CHECK(counted_state::constructed == 4);
}

TEST_CASE("middleware: after runs for coroutine handlers and for throwing handlers", "[middleware]") {
  struct seen {
    int status = 0;
    bool error = false;
    std::string body;
    int count = 0;
  } s;
  fastjson::app app;
  app.use(fastjson::make_middleware([](fastjson::request&, fastjson::response&) { return true; },
                                    [&](fastjson::request&, fastjson::response& res) {
                                      s.status = res.status();
                                      s.error = static_cast<bool>(res.error());
                                      s.body = std::string(res.body());
                                      ++s.count;
                                    }));
  app.get("/async", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 20ms);
    res.text("late hello");
  });
  app.get("/throw", [](fastjson::request&, fastjson::response&) { throw std::runtime_error("boom"); });
  app.get("/async-throw", [](fastjson::request& req, fastjson::response&) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 5ms);
    throw std::runtime_error("async boom");
  });
  fastjson::testing::client client(app);

  auto t0 = std::chrono::steady_clock::now();
  auto r = client.get("/async");
  // The loop's clock has millisecond granularity: a 20 ms timer fires after
  // at least 19 ms of wall time.
  CHECK(std::chrono::steady_clock::now() - t0 >= 19ms);
  CHECK(r.status == 200);
  CHECK(r.body == "late hello");
  CHECK(s.count == 1);
  CHECK(s.status == 200);
  CHECK(s.body == "late hello");
  CHECK_FALSE(s.error);

  r = client.get("/throw");
  CHECK(r.status == 500);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK_FALSE(contains(r.body, "boom"));  // no internals leaked
  CHECK(s.count == 2);
  CHECK(s.status == 500);
  CHECK(s.error);

  r = client.get("/async-throw");
  CHECK(r.status == 500);
  CHECK(s.count == 3);
  CHECK(s.status == 500);
  CHECK(s.error);
  CHECK(client.get("/async").status == 200);
}

TEST_CASE("middleware: http_error thrown from handlers and middleware becomes problem+json", "[middleware]") {
  fastjson::app app;
  app.get("/teapot", [](fastjson::request&, fastjson::response&) -> void {
    throw fastjson::http_error(409, "todo 7 already exists", {{"/id", "duplicate"}});
  });
  app.get("/guarded", [](fastjson::request&, fastjson::response& res) { res.text("in"); },
          {fastjson::make_middleware([](fastjson::request&, fastjson::response&) -> bool {
            throw fastjson::http_error(401, "log in first");
          })});
  fastjson::testing::client client(app);
  auto r = client.get("/teapot");
  CHECK(r.status == 409);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(contains(r.body, R"("detail":"todo 7 already exists")"));
  CHECK(contains(r.body, R"("errors":[{"pointer":"/id","message":"duplicate"}])"));
  CHECK(contains(r.body, R"("instance":"/teapot")"));
  r = client.get("/guarded");
  CHECK(r.status == 401);
  CHECK(contains(r.body, "log in first"));
}

TEST_CASE("middleware: recover answers 500 and the process keeps serving", "[middleware]") {
  fastjson::app app;
  app.use(fastjson::mw::request_id());
  app.use(fastjson::mw::recover());
  app.get("/boom", [](fastjson::request&, fastjson::response& res) {
    res.text("partial");  // then fails: the 500 replaces it
    throw std::logic_error("secret internals");
  });
  app.get("/ok", [](fastjson::request&, fastjson::response& res) { res.text("fine"); });
  fastjson::testing::client client(app);
  auto r = client.get("/boom");
  CHECK(r.status == 500);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(contains(r.body, R"("status":500)"));
  CHECK_FALSE(contains(r.body, "secret"));
  CHECK_FALSE(contains(r.body, "partial"));
  CHECK(r.header("content-length") == std::to_string(r.body.size()));
  auto ok = client.get("/ok");
  CHECK(ok.status == 200);
  CHECK(ok.body == "fine");
}

TEST_CASE("middleware: access_log writes one line per request", "[middleware]") {
  std::FILE* first = std::tmpfile();
  std::FILE* f = std::tmpfile();
  REQUIRE(first);
  REQUIRE(f);
  {
    // An app whose client goes away before the log's batch timer fires:
    // its line must not be lost, and must not block later logs.
    fastjson::app app;
    app.use(fastjson::mw::access_log(first));
    app.get("/gone", [](fastjson::request&, fastjson::response& res) { res.text("x"); });
    fastjson::testing::client client(app);
    CHECK(client.get("/gone").status == 200);
  }
  fastjson::app app;
  app.use(fastjson::mw::request_id());
  app.use(fastjson::mw::access_log(f));
  app.get("/hello", [](fastjson::request&, fastjson::response& res) { res.text("hello"); });
  app.get("/wait", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 150ms);
    res.text("waited");
  });
  fastjson::testing::client client(app);
  CHECK(client.get("/hello").status == 200);
  CHECK(client.get("/missing").status == 404);
  CHECK(client.post("/hello", "{}").status == 405);
  CHECK(client.get("/wait").status == 200);  // runs the loop past the batch timer
  auto lines = lines_of(read_all(f));
  REQUIRE(lines.size() >= 3);
  CHECK(lines.size() <= 4);
  CHECK(lines[0].rfind("GET /hello 200 5 ", 0) == 0);
  CHECK(contains(lines[0], "us "));
  CHECK(lines[1].rfind("GET /missing 404 ", 0) == 0);
  CHECK(lines[2].rfind("POST /hello 405 ", 0) == 0);
  for (std::size_t i = 0; i < 3; ++i) {
    // METHOD PATH STATUS BYTES DURATIONus REQUEST-ID
    std::vector<std::string> parts;
    std::string cur;
    for (char c : lines[i] + " ") {
      if (c == ' ') {
        parts.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    REQUIRE(parts.size() == 6);
    CHECK(std::stoul(parts[3]) > 0);
    CHECK(parts[4].size() > 2);
    CHECK(parts[4].substr(parts[4].size() - 2) == "us");
    CHECK(parts[5].size() >= 8);  // the request id
  }
  // The first app's line went to its own file, not elsewhere.
  auto first_lines = lines_of(read_all(first));
  REQUIRE(first_lines.size() == 1);
  CHECK(first_lines[0].rfind("GET /gone 200 1 ", 0) == 0);
}

TEST_CASE("middleware: request_id echoes valid ids, replaces invalid ones, generates distinct ids", "[middleware]") {
  fastjson::app app;
  app.use(fastjson::mw::request_id());
  app.get("/id", [](fastjson::request& req, fastjson::response& res) { res.text(std::string(req.id())); });
  fastjson::testing::client client(app);
  auto r = client.get("/id", {{"X-Request-Id", "abc-123_X.y"}});
  CHECK(r.header("x-request-id") == "abc-123_X.y");
  CHECK(r.body == "abc-123_X.y");
  r = client.get("/id", {{"X-Request-Id", "bad id with spaces"}});
  CHECK(r.header("x-request-id") != "bad id with spaces");
  REQUIRE(r.header("x-request-id"));
  CHECK_FALSE(r.header("x-request-id")->empty());
  CHECK(r.body == *r.header("x-request-id"));
  r = client.get("/id", {{"X-Request-Id", std::string(65, 'a')}});
  CHECK(r.header("x-request-id")->size() < 65);
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    auto g = client.get("/id");
    REQUIRE(g.header("x-request-id"));
    CHECK(g.header_count("x-request-id") == 1);
    ids.insert(*g.header("x-request-id"));
  }
  CHECK(ids.size() == 50);
}

TEST_CASE("middleware: cors", "[middleware]") {
  fastjson::app app;
  app.use(fastjson::mw::cors({.origins = {"https://good.example"}, .headers = {"Content-Type", "X-Token"}}));
  bool handler_ran = false;
  app.get("/data", [&](fastjson::request&, fastjson::response& res) {
    handler_ran = true;
    res.text("data");
  });
  app.options("/data", [&](fastjson::request&, fastjson::response& res) {
    handler_ran = true;
    res.no_content();
  });
  fastjson::testing::client client(app);

  auto r = client.get("/data", {{"Origin", "https://good.example"}});
  CHECK(r.status == 200);
  CHECK(r.header("access-control-allow-origin") == "https://good.example");
  CHECK(r.header("vary") == "Origin");
  CHECK_FALSE(r.header("access-control-allow-credentials"));

  r = client.get("/data", {{"Origin", "https://evil.example"}});
  CHECK(r.status == 200);
  CHECK_FALSE(r.header("access-control-allow-origin"));

  handler_ran = false;
  r = client.options("/data", {{"Origin", "https://good.example"}, {"Access-Control-Request-Method", "PUT"}});
  CHECK(r.status == 204);
  CHECK_FALSE(handler_ran);  // short-circuit
  CHECK(r.header("access-control-allow-origin") == "https://good.example");
  REQUIRE(r.header("access-control-allow-methods"));
  CHECK(contains(*r.header("access-control-allow-methods"), "PUT"));
  CHECK(r.header("access-control-allow-headers") == "Content-Type, X-Token");
  CHECK(r.header("access-control-max-age") == "600");
  CHECK(r.header_count("access-control-allow-origin") == 1);

  // A preflight for a method the policy does not allow: no allow headers.
  r = client.options("/data", {{"Origin", "https://good.example"}, {"Access-Control-Request-Method", "TRACE"}});
  CHECK_FALSE(r.header("access-control-allow-origin"));
  CHECK_FALSE(r.header("access-control-allow-methods"));

  // A preflight from a disallowed origin gets no CORS headers.
  r = client.options("/data", {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}});
  CHECK_FALSE(r.header("access-control-allow-origin"));
  CHECK_FALSE(r.header("access-control-allow-methods"));

  // CORS headers on error responses too (404 problem).
  r = client.get("/nope", {{"Origin", "https://good.example"}});
  CHECK(r.status == 404);
  CHECK(r.header("access-control-allow-origin") == "https://good.example");
}

TEST_CASE("middleware: cors with credentials echoes the origin", "[middleware]") {
  fastjson::app app;
  app.use(fastjson::mw::cors({.origins = {"*"}, .credentials = true}));
  app.get("/data", [](fastjson::request&, fastjson::response& res) { res.text("data"); });
  fastjson::testing::client client(app);
  auto r = client.get("/data", {{"Origin", "https://any.example"}});
  CHECK(r.header("access-control-allow-origin") == "https://any.example");
  CHECK(r.header("access-control-allow-credentials") == "true");
  r = client.options("/data", {{"Origin", "https://any.example"},
                               {"Access-Control-Request-Method", "POST"},
                               {"Access-Control-Request-Headers", "X-Foo"}});
  CHECK(r.status == 204);
  CHECK(r.header("access-control-allow-origin") == "https://any.example");
  CHECK(r.header("access-control-allow-credentials") == "true");
  CHECK(r.header("access-control-allow-headers") == "X-Foo");

  fastjson::app open;
  open.use(fastjson::mw::cors({.origins = {"*"}}));
  open.get("/data", [](fastjson::request&, fastjson::response& res) { res.text("data"); });
  fastjson::testing::client c2(open);
  CHECK(c2.get("/data", {{"Origin", "https://any.example"}}).header("access-control-allow-origin") == "*");
}

TEST_CASE("middleware: body_limit", "[middleware]") {
  fastjson::app app;
  app.post("/small", [](fastjson::request& req, fastjson::response& res) { res.text(std::string(req.body())); },
           {fastjson::mw::body_limit(16)});
  fastjson::testing::client client(app);
  auto r = client.post("/small", "0123456789abcdef");
  CHECK(r.status == 200);
  CHECK(r.body == "0123456789abcdef");
  r = client.post("/small", "0123456789abcdefX");
  CHECK(r.status == 413);
  CHECK(r.header("content-type") == "application/problem+json");
  client.reconnect();
  CHECK(client.post("/small", "{}").status == 200);
}

TEST_CASE("middleware: timeout answers slow async handlers and discards their late result", "[middleware]") {
  bool late_finished = false;
  fastjson::app app;
  app.get("/slow",
          [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
            co_await fastjson::sleep(req.loop(), 1000ms);
            res.text("too late");  // ignored: the 504 went out
            late_finished = true;
          },
          {fastjson::mw::timeout(200ms)});
  app.get("/busy",
          [](fastjson::request&, fastjson::response& res) {
            std::this_thread::sleep_for(250ms);  // blocks the loop: the timeout cannot fire
            res.text("done");
          },
          {fastjson::mw::timeout(100ms)});
  app.get("/wait", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 1100ms);
    res.text("waited");
  });
  app.get("/ok", [](fastjson::request&, fastjson::response& res) { res.text("ok"); });
  fastjson::testing::client client(app);

  auto t0 = std::chrono::steady_clock::now();
  auto r = client.get("/slow");
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.status == 504);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(contains(r.body, R"("status":504)"));
  CHECK(took >= 180ms);
  CHECK(took < 900ms);
  CHECK_FALSE(late_finished);

  auto ok = client.get("/ok");
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok");

  // Let the slow handler finish while another request keeps the loop busy.
  auto w = client.get("/wait");
  CHECK(w.status == 200);
  CHECK(w.body == "waited");
  CHECK(late_finished);
  auto after = client.raw("GET /ok HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n", 2);
  REQUIRE(after.size() == 2);
  CHECK(after[0].body == "ok");
  CHECK(after[1].body == "ok");
  CHECK(client.take_output().empty());  // nothing stray was written

  auto b = client.get("/busy");
  CHECK(b.status == 200);
  CHECK(b.body == "done");
  CHECK(client.get("/ok").status == 200);
}

TEST_CASE("middleware: rate_limit per client address", "[middleware]") {
  fastjson::app app;
  app.use(fastjson::mw::rate_limit({.per_second = 0.01, .burst = 3}));
  app.get("/x", [](fastjson::request&, fastjson::response& res) { res.text("x"); });
  fastjson::testing::client client(app);
  client.set_peer_address("10.0.0.1");
  for (int i = 0; i < 3; ++i) CHECK(client.get("/x").status == 200);
  auto r = client.get("/x");
  CHECK(r.status == 429);
  CHECK(r.header("content-type") == "application/problem+json");
  REQUIRE(r.header("retry-after"));
  CHECK(std::stol(*r.header("retry-after")) >= 1);
  client.set_peer_address("10.0.0.2");
  CHECK(client.get("/x").status == 200);
  client.set_peer_address("10.0.0.1");
  CHECK(client.get("/x").status == 429);
}

namespace {
struct out_of_stock : std::runtime_error {
  explicit out_of_stock(int n) : std::runtime_error("out of stock"), left(n) {}
  int left;
};
struct backorder : out_of_stock {
  backorder() : out_of_stock(0) {}
};
}  // namespace

TEST_CASE("app: on_exception maps escaped exceptions to responses", "[middleware][errors]") {
  int tried = 0;
  bool after_saw_error = true;
  fastjson::app app;
  app.use(fastjson::make_middleware([](fastjson::request&, fastjson::response&) { return true; },
                                    [&](fastjson::request&, fastjson::response& res) {
                                      after_saw_error = static_cast<bool>(res.error());
                                    }));
  // Tried first for everything: passes everything on.
  app.on_exception([&](std::exception_ptr, fastjson::request&, fastjson::response& res) {
    ++tried;
    res.text("half written, then declined");
    return false;
  });
  app.on_exception<out_of_stock>([](const out_of_stock& e, fastjson::request& req, fastjson::response& res) {
    if (req.path() == "/declined") return false;
    res.problem(409, "only " + std::to_string(e.left) + " left");
    return true;
  });
  app.on_exception<std::logic_error>([](const std::logic_error&, fastjson::request&, fastjson::response&) -> bool {
    throw std::runtime_error("the mapper itself fails");
  });
  app.get("/sync", [](fastjson::request&, fastjson::response& res) {
    res.text("partial");
    throw out_of_stock(3);
  });
  app.get("/derived", [](fastjson::request&, fastjson::response&) { throw backorder(); });
  app.get("/async", [](fastjson::request& req, fastjson::response&) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 1ms);
    throw out_of_stock(1);
  });
  app.get("/declined", [](fastjson::request&, fastjson::response&) { throw out_of_stock(5); });
  app.get("/other", [](fastjson::request&, fastjson::response&) { throw std::runtime_error("nope"); });
  app.get("/mapper-throws", [](fastjson::request&, fastjson::response&) { throw std::logic_error("x"); });
  app.get("/http", [](fastjson::request&, fastjson::response&) { throw fastjson::http_error(418, "teapot"); });
  app.get("/before", [](fastjson::request&, fastjson::response& res) { res.text("unreached"); },
          {fastjson::make_middleware([](fastjson::request&, fastjson::response&) -> bool { throw out_of_stock(7); })});
  fastjson::testing::client client(app);

  auto r = client.get("/sync");
  CHECK(r.status == 409);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(r.body.find("only 3 left") != std::string::npos);
  CHECK(r.body.find("partial") == std::string::npos);  // the handler's partial response is gone
  CHECK(r.body.find("declined") == std::string::npos);  // and so is the declining mapper's
  CHECK_FALSE(after_saw_error);                          // mapped = handled
  CHECK(tried == 1);

  CHECK(client.get("/derived").status == 409);  // a derived type matches
  CHECK(client.get("/async").status == 409);    // thrown after a suspension
  CHECK(client.get("/before").status == 409);   // thrown by a middleware `before`

  // Declined by every mapper, not of a mapped type, or a mapper that throws:
  // the default 500, with the exception visible to `after`s.
  for (const char* path : {"/declined", "/other", "/mapper-throws"}) {
    INFO(path);
    after_saw_error = false;
    auto d = client.get(path);
    CHECK(d.status == 500);
    CHECK(d.body.find("the server failed to handle this request") != std::string::npos);
    CHECK(after_saw_error);
  }

  // http_error never reaches the mappers.
  int before = tried;
  CHECK(client.get("/http").status == 418);
  CHECK(tried == before);
}

// --- before_async: a `before` that returns false without answering -------------

namespace {

// Waits `delay` in before_async, then continues (or answers 403, or throws).
// Records "w>" when its wait ends and "<w" in after; its state counts lives.
struct waiting_mw : fastjson::middleware_with_state<std::shared_ptr<int>> {
  enum class then { proceed, forbid, fail };
  waiting_mw(std::vector<std::string>& log, std::shared_ptr<int> live, std::chrono::milliseconds delay, then t)
      : log_(log), live_(std::move(live)), delay_(delay), then_(t) {}
  bool before(fastjson::request&, fastjson::response&, std::shared_ptr<int>& st) override {
    st = live_;  // use_count: how many requests hold state
    return false;  // no answer: continue in before_async
  }
  fastjson::task<bool> before_async(fastjson::request& req, fastjson::response& res,
                                    std::shared_ptr<int>&) override {
    co_await fastjson::sleep(req.loop(), delay_);
    log_.push_back("w>");
    if (then_ == then::fail) throw std::runtime_error("lookup failed");
    if (then_ == then::forbid) {
      res.problem(403, "not allowed");
      co_return false;
    }
    co_return true;
  }
  void after(fastjson::request&, fastjson::response&, std::shared_ptr<int>&) override { log_.push_back("<w"); }

  std::vector<std::string>& log_;
  std::shared_ptr<int> live_;
  std::chrono::milliseconds delay_;
  then then_;
};

}  // namespace

TEST_CASE("before_async: a middleware can wait before the chain goes on", "[middleware][async]") {
  std::vector<std::string> log;
  auto live = std::make_shared<int>(0);
  fastjson::app app;
  app.use(tracer(log, "outer"));
  app.get("/go", [&](fastjson::request&, fastjson::response& res) {
        log.push_back("handler");
        res.text("ok");
      },
      {std::make_shared<waiting_mw>(log, live, 10ms, waiting_mw::then::proceed), tracer(log, "inner")});
  app.get("/no", [&](fastjson::request&, fastjson::response& res) {
        log.push_back("handler");
        res.text("ok");
      },
      {std::make_shared<waiting_mw>(log, live, 1ms, waiting_mw::then::forbid), tracer(log, "inner")});
  app.get("/boom", [&](fastjson::request&, fastjson::response& res) { res.text("ok"); },
          {std::make_shared<waiting_mw>(log, live, 1ms, waiting_mw::then::fail)});
  fastjson::testing::client c(app);

  auto r = c.get("/go");
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  CHECK(log == std::vector<std::string>{"outer>", "w>", "inner>", "handler", "<inner", "<w", "<outer"});
  CHECK(live.use_count() == 4);  // `live` and the three waiting_mw: the request's state was destroyed

  log.clear();
  auto no = c.get("/no");
  CHECK(no.status == 403);
  CHECK(log == std::vector<std::string>{"outer>", "w>", "<w", "<outer"});  // handler and inner skipped

  log.clear();
  auto boom = c.get("/boom");
  CHECK(boom.status == 500);
  CHECK(log == std::vector<std::string>{"outer>", "w>", "<w", "<outer"});
  CHECK(live.use_count() == 4);  // no request state left

  // Pipelined behind a waiting request, a quick one is answered after it.
  log.clear();
  auto rs = c.raw("GET /go HTTP/1.1\r\nHost: t\r\n\r\nGET /boom HTTP/1.1\r\nHost: t\r\n\r\nGET /no HTTP/1.1\r\nHost: t\r\n\r\n", 3);
  REQUIRE(rs.size() == 3);
  CHECK(rs[0].status == 200);
  CHECK(rs[1].status == 500);
  CHECK(rs[2].status == 403);
}

TEST_CASE("before_async: a before that answers nothing and has no before_async is a 500", "[middleware][async]") {
  fastjson::app app;
  app.get("/x", [](fastjson::request&, fastjson::response& res) { res.text("never"); },
          {fastjson::make_middleware([](fastjson::request&, fastjson::response&) { return false; })});
  fastjson::testing::client c(app);
  auto r = c.get("/x");
  CHECK(r.status == 500);
  CHECK(r.body.find("never") == std::string::npos);
}

TEST_CASE("before_async: mw::timeout answers a request still waiting; the waiter gets abandon", "[middleware][async]") {
  std::vector<std::string> log;
  auto live = std::make_shared<int>(0);
  int handled = 0;
  fastjson::app app;
  app.get("/slow", [&](fastjson::request&, fastjson::response& res) {
        ++handled;
        res.text("late");
      },
      {fastjson::mw::timeout(20ms), std::make_shared<waiting_mw>(log, live, 150ms, waiting_mw::then::proceed)});
  app.get("/pause", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 300ms);  // runs the client's loop past the wait's end
    res.text("done");
  });
  fastjson::testing::client c(app);
  auto r = c.get("/slow");
  CHECK(r.status == 504);
  CHECK(live.use_count() == 3);  // the waiting request still holds its state
  // The wait ends later; then the chain does not go on, and the state is
  // released through abandon (no `after`: its `before` never completed).
  CHECK(c.get("/pause").status == 200);
  CHECK(live.use_count() == 2);
  CHECK(handled == 0);
  CHECK(log == std::vector<std::string>{"w>"});
}

TEST_CASE("middleware: access_log escapes every byte outside printable ASCII: one request, one line",
          "[middleware]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  fastjson::app app;
  app.use(fastjson::mw::access_log(f));
  app.use([](fastjson::request& req, fastjson::response&) {
    // An id from user code (request_id() only takes [A-Za-z0-9._-]) is escaped too.
    if (req.path() == "/id") req.set_id("a b\"\\\n\xff");
    return true;
  });
  app.get("/json", [](fastjson::request&, fastjson::response& res) { res.text("j"); });
  app.get("/id", [](fastjson::request&, fastjson::response& res) { res.text("i"); });
  app.get("/wait", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 150ms);
    res.text("waited");
  });
  fastjson::testing::client client(app);
  // A decoded newline would forge a second line; ESC would reach a terminal.
  CHECK(client.get("/json%0AGET%20/admin%20200%200%201us").status == 404);
  CHECK(client.get("/x%1b[31mred%1b[0m%7f%c3%a9").status == 404);
  CHECK(client.get("/id").status == 200);
  CHECK(client.get("/wait").status == 200);  // runs the loop past the batch timer
  std::string all = read_all(f);
  auto lines = lines_of(all);
  REQUIRE(lines.size() >= 3);  // /wait's own line may still be in the batch
  CHECK(lines.size() <= 4);
  CHECK(lines[0].rfind("GET /json\\x0AGET\\x20/admin\\x20200\\x200\\x201us 404 ", 0) == 0);
  CHECK(lines[1].rfind("GET /x\\x1B[31mred\\x1B[0m\\x7F\\xC3\\xA9 404 ", 0) == 0);
  CHECK(lines[2].find(" a\\x20b\\x22\\x5C\\x0A\\xFF") != std::string::npos);
  for (unsigned char ch : all) CHECK(((ch >= 0x20 && ch < 0x7f) || ch == '\n'));
  // f stays open: the worker's batch may still hold /wait's line (the log's
  // FILE* must outlive the batch, see mw::access_log).
}
