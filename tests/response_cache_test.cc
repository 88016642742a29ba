// mw::response_cache through the in-process client: hits skip the handler,
// Age/ETag/304, freshness from Cache-Control with a fake clock, what is never
// stored, client directives, Vary, query strings and HEAD.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "fastjson/app.h"
#include "fastjson/cache.h"
#include "fastjson/mw/response_cache.h"
#include "fastjson/testing.h"
#include "support/net.h"

using namespace std::chrono_literals;

namespace {

struct fake_clock {
  std::shared_ptr<fastjson::cache::time_point> t =
      std::make_shared<fastjson::cache::time_point>(std::chrono::hours(1));
  std::function<fastjson::cache::time_point()> fn() const {
    return [t = t] { return *t; };
  }
  void advance(fastjson::cache::duration d) { *t += d; }
};

// An app whose routes count their calls.
struct fixture {
  fastjson::app app;
  fake_clock clock;
  int calls = 0;
  std::shared_ptr<fastjson::cache::sharded_cache> store;

  explicit fixture(fastjson::mw::response_cache_options o = {}) {
    o.clock = clock.fn();
    store = std::make_shared<fastjson::cache::sharded_cache>(
        fastjson::cache::options{.max_bytes = 1 << 20, .clock = clock.fn()});
    o.store = store;
    app.use(fastjson::mw::response_cache(std::move(o)));
    app.get("/n", [this](fastjson::request& req, fastjson::response& res) {
      ++calls;
      res.text("call " + std::to_string(calls) + " q=" + std::string(req.query_string()));
    });
    app.get("/maxage", [this](fastjson::request&, fastjson::response& res) {
      ++calls;
      res.header("Cache-Control", "public, max-age=5");
      res.text("v" + std::to_string(calls));
    });
    app.get("/nostore", [this](fastjson::request&, fastjson::response& res) {
      ++calls;
      res.header("Cache-Control", "no-store");
      res.text("secret");
    });
    app.get("/cookie", [this](fastjson::request&, fastjson::response& res) {
      ++calls;
      res.header("Set-Cookie", "session=abc");
      res.text("hi");
    });
    app.get("/missing", [this](fastjson::request&, fastjson::response& res) {
      ++calls;
      res.problem(404, "nothing here");
    });
    app.get("/vary", [this](fastjson::request& req, fastjson::response& res) {
      ++calls;
      res.header("Vary", "Accept-Encoding");
      res.text("enc=" + std::string(req.header("accept-encoding").value_or("none")) + " #" +
               std::to_string(calls));
    });
    app.get("/etag", [this](fastjson::request&, fastjson::response& res) {
      ++calls;
      res.header("ETag", "\"v1\"");
      res.raw_json(R"({"a":1})");
    });
  }
};

}  // namespace

TEST_CASE("response_cache: a hit skips the handler and carries Age and ETag", "[cache][middleware]") {
  fixture f;
  fastjson::testing::client c(f.app);
  auto r1 = c.get("/n");
  REQUIRE(r1.status == 200);
  REQUIRE(f.calls == 1);
  REQUIRE_FALSE(r1.header("age"));
  REQUIRE(r1.header("etag"));  // computed on the miss
  f.clock.advance(3s);
  auto r2 = c.get("/n");
  REQUIRE(f.calls == 1);
  REQUIRE(r2.status == 200);
  REQUIRE(r2.body == r1.body);
  REQUIRE(r2.header("content-type") == "text/plain; charset=utf-8");
  REQUIRE(r2.header("age") == "3");
  REQUIRE(r2.header("etag") == r1.header("etag"));
  REQUIRE(r2.header_count("etag") == 1);
  REQUIRE(f.store->stats().hits == 1);
}

TEST_CASE("response_cache: If-None-Match gets 304 without a body", "[cache][middleware]") {
  fixture f;
  fastjson::testing::client c(f.app);
  auto r1 = c.get("/etag");
  REQUIRE(r1.header("etag") == "\"v1\"");
  REQUIRE(r1.header_count("etag") == 1);  // the handler's own ETag is kept
  auto r2 = c.get("/etag", {{"If-None-Match", "\"x\", W/\"v1\""}});
  REQUIRE(r2.status == 304);
  REQUIRE(r2.body.empty());
  REQUIRE(r2.header("etag") == "\"v1\"");
  REQUIRE(r2.header("age"));
  REQUIRE(f.calls == 1);
  auto r3 = c.get("/etag", {{"If-None-Match", "\"other\""}});
  REQUIRE(r3.status == 200);
  REQUIRE(r3.body == R"({"a":1})");
  REQUIRE(r3.header("content-type") == "application/json");
  REQUIRE(f.calls == 1);
}

TEST_CASE("response_cache: max-age and default_ttl bound freshness", "[cache][middleware]") {
  fixture f({.default_ttl = 30s});
  fastjson::testing::client c(f.app);
  REQUIRE(c.get("/maxage").body == "v1");
  f.clock.advance(4s);
  auto hit = c.get("/maxage");
  REQUIRE(hit.body == "v1");
  REQUIRE(hit.header("cache-control") == "public, max-age=5");  // replayed
  REQUIRE(hit.header_count("cache-control") == 1);
  f.clock.advance(1s);  // 5 s old: expired
  REQUIRE(c.get("/maxage").body == "v2");
  REQUIRE(f.calls == 2);

  // No max-age: default_ttl (30 s).
  c.get("/n");
  f.clock.advance(29s);
  c.get("/n");
  REQUIRE(f.calls == 3);
  f.clock.advance(1s);
  c.get("/n");
  REQUIRE(f.calls == 4);
}

TEST_CASE("response_cache: what is never stored", "[cache][middleware]") {
  fixture f;
  fastjson::testing::client c(f.app);
  // A response that forbids sharing leaves only a pass marker (an empty
  // entry that turns coalescing off for the key for pass_ttl), never itself.
  auto only_pass_marker = [&](std::string_view key) {
    REQUIRE(f.store->stats().items == 1);
    auto e = f.store->peek(key);
    REQUIRE(e);
    CHECK(e->value().empty());
    CHECK(e->content_type() == "\x02");
  };
  SECTION("no-store from the handler") {
    c.get("/nostore");
    c.get("/nostore");
    REQUIRE(f.calls == 2);
    only_pass_marker("/nostore");
  }
  SECTION("Set-Cookie") {
    c.get("/cookie");
    c.get("/cookie");
    REQUIRE(f.calls == 2);
    only_pass_marker("/cookie");
  }
  SECTION("404") {
    REQUIRE(c.get("/missing").status == 404);
    REQUIRE(c.get("/missing").status == 404);
    REQUIRE(f.calls == 2);
    REQUIRE(f.store->stats().items == 0);
  }
  SECTION("requests with Authorization") {
    c.get("/n", {{"Authorization", "Bearer x"}});
    c.get("/n", {{"Authorization", "Bearer x"}});
    REQUIRE(f.calls == 2);
    REQUIRE(f.store->stats().items == 0);
  }
}

TEST_CASE("response_cache: options store cookies and 404s", "[cache][middleware]") {
  fixture f({.statuses = {200, 404}, .cache_set_cookie = true});
  fastjson::testing::client c(f.app);
  c.get("/cookie");
  auto r = c.get("/cookie");
  REQUIRE(f.calls == 1);
  REQUIRE(r.header("set-cookie") == "session=abc");
  c.get("/missing");
  auto m = c.get("/missing");
  REQUIRE(f.calls == 2);
  REQUIRE(m.status == 404);
  REQUIRE(m.header("content-type") == "application/problem+json");
  REQUIRE(m.body.find("nothing here") != std::string::npos);
}

TEST_CASE("response_cache: client Cache-Control", "[cache][middleware]") {
  fixture f;
  fastjson::testing::client c(f.app);
  REQUIRE(c.get("/n").body == "call 1 q=");
  SECTION("no-cache revalidates: handler runs, fresh answer replaces the entry") {
    REQUIRE(c.get("/n", {{"Cache-Control", "no-cache"}}).body == "call 2 q=");
    REQUIRE(c.get("/n").body == "call 2 q=");
    REQUIRE(f.calls == 2);
  }
  SECTION("Pragma: no-cache too") {
    REQUIRE(c.get("/n", {{"Pragma", "no-cache"}}).body == "call 2 q=");
  }
  SECTION("no-store bypasses: handler runs, nothing stored") {
    REQUIRE(c.get("/n", {{"Cache-Control", "no-store"}}).body == "call 2 q=");
    REQUIRE(c.get("/n").body == "call 1 q=");
    REQUIRE(f.calls == 2);
  }
  SECTION("max-age=N accepts only entries at most N seconds old") {
    f.clock.advance(10s);
    REQUIRE(c.get("/n", {{"Cache-Control", "max-age=20"}}).body == "call 1 q=");
    REQUIRE(c.get("/n", {{"Cache-Control", "max-age=5"}}).body == "call 2 q=");
  }
}

TEST_CASE("response_cache: Vary keys by the named request headers", "[cache][middleware]") {
  fixture f;
  fastjson::testing::client c(f.app);
  auto gz = c.get("/vary", {{"Accept-Encoding", "gzip"}});
  auto br = c.get("/vary", {{"Accept-Encoding", "br"}});
  auto none = c.get("/vary");
  REQUIRE(f.calls == 3);
  REQUIRE(c.get("/vary", {{"Accept-Encoding", "gzip"}}).body == gz.body);
  REQUIRE(c.get("/vary", {{"Accept-Encoding", "br"}}).body == br.body);
  auto none2 = c.get("/vary");
  REQUIRE(none2.body == none.body);
  REQUIRE(none2.header("vary") == "Accept-Encoding");
  REQUIRE(f.calls == 3);
  REQUIRE(gz.body != br.body);
}

TEST_CASE("response_cache: the query string is part of the key", "[cache][middleware]") {
  fixture f;
  fastjson::testing::client c(f.app);
  REQUIRE(c.get("/n?a=1").body == "call 1 q=a=1");
  REQUIRE(c.get("/n?a=2").body == "call 2 q=a=2");
  REQUIRE(c.get("/n").body == "call 3 q=");
  REQUIRE(c.get("/n?a=1").body == "call 1 q=a=1");
  REQUIRE(f.calls == 3);
}

TEST_CASE("response_cache: HEAD is served from the GET entry without a body", "[cache][middleware]") {
  fixture f;
  fastjson::testing::client c(f.app);
  auto g = c.get("/n");
  auto h = c.raw("HEAD /n HTTP/1.1\r\nHost: t\r\n\r\n", 1, {true});
  REQUIRE(h.size() == 1);
  REQUIRE(h[0].status == 200);
  REQUIRE(h[0].body.empty());
  REQUIRE(h[0].header("content-length") == std::to_string(g.body.size()));
  REQUIRE(h[0].header("etag") == g.header("etag"));
  REQUIRE(h[0].header("age"));
  REQUIRE(f.calls == 1);

  // A HEAD miss runs the handler but stores nothing.
  auto h2 = c.raw("HEAD /n?x HTTP/1.1\r\nHost: t\r\n\r\n", 1, {true});
  REQUIRE(f.calls == 2);
  REQUIRE(c.get("/n?x").body == "call 3 q=x");
}

TEST_CASE("response_cache: non-GET methods pass through", "[cache][middleware]") {
  fastjson::app app;
  int calls = 0;
  app.use(fastjson::mw::response_cache());
  app.post("/p", [&](fastjson::request&, fastjson::response& res) { res.text(std::to_string(++calls)); });
  fastjson::testing::client c(app);
  REQUIRE(c.post("/p", "{}").body == "1");
  REQUIRE(c.post("/p", "{}").body == "2");
}

TEST_CASE("response_cache: a successful unsafe method invalidates its target", "[cache][middleware]") {
  fixture f;
  f.app.put("/n", [&](fastjson::request& req, fastjson::response& res) {
    if (req.header("x-fail")) res.problem(409, "conflict");
    else res.no_content();
  });
  f.app.del("/n", [&](fastjson::request&, fastjson::response& res) { res.no_content(); });
  f.app.options("/n", [&](fastjson::request&, fastjson::response& res) { res.no_content(); });
  f.app.post("/other", [&](fastjson::request& req, fastjson::response& res) {
    res.header("Location", std::string(req.query("loc").value_or("")));
    res.status(201);
    res.text("created");
  });
  fastjson::testing::client c(f.app);

  REQUIRE(c.get("/n").body == "call 1 q=");
  REQUIRE(c.get("/n?a=1").body == "call 2 q=a=1");
  REQUIRE(c.get("/n").body == "call 1 q=");  // a hit

  SECTION("PUT (2xx) drops the stored GET; the next GET runs the handler") {
    REQUIRE(c.put("/n", "{}").status == 204);
    REQUIRE(c.get("/n").body == "call 3 q=");
    REQUIRE(c.get("/n").body == "call 3 q=");
    // Only the target: another query string is another URI.
    REQUIRE(c.get("/n?a=1").body == "call 2 q=a=1");
  }
  SECTION("DELETE with a query string drops exactly that URI") {
    REQUIRE(c.del("/n?a=1").status == 204);
    REQUIRE(c.get("/n?a=1").body == "call 3 q=a=1");
    REQUIRE(c.get("/n").body == "call 1 q=");
  }
  SECTION("an error answer invalidates nothing") {
    REQUIRE(c.put("/n", "{}", {{"Content-Type", "application/json"}, {"X-Fail", "1"}}).status == 409);
    REQUIRE(c.get("/n").body == "call 1 q=");
    REQUIRE(c.get("/n?a=1").body == "call 2 q=a=1");
  }
  SECTION("a safe method (OPTIONS) invalidates nothing") {
    REQUIRE(c.options("/n").status == 204);
    REQUIRE(c.get("/n").body == "call 1 q=");
  }
  SECTION("Location naming this origin is invalidated too") {
    std::string loc;
    SECTION("absolute path") { loc = "/n"; }
    SECTION("percent-encoded absolute path") { loc = "/%256e"; }  // "/%6e" once the query is decoded
    SECTION("http URI with the request's Host") { loc = "http://test/n"; }
    SECTION("relative path") { loc = "n"; }
    REQUIRE(c.post("/other?loc=" + loc, "{}", {{"Content-Type", "application/json"}}).status == 201);
    REQUIRE(c.get("/n").body == "call 3 q=");
  }
  SECTION("Location naming another origin, or with dot segments, is left alone") {
    std::string loc;
    SECTION("another host") { loc = "http://elsewhere/n"; }
    SECTION("network-path reference") { loc = "//elsewhere/n"; }
    SECTION("dot segments") { loc = "/x/../n"; }
    SECTION("another scheme") { loc = "mailto:n"; }
    REQUIRE(c.post("/other?loc=" + loc, "{}", {{"Content-Type", "application/json"}}).status == 201);
    REQUIRE(c.get("/n").body == "call 1 q=");
  }
}

TEST_CASE("response_cache: invalidation drops every Vary variant", "[cache][middleware]") {
  fixture f;
  f.app.put("/vary", [&](fastjson::request&, fastjson::response& res) { res.no_content(); });
  fastjson::testing::client c(f.app);
  auto gz = c.get("/vary", {{"Accept-Encoding", "gzip"}});
  auto br = c.get("/vary", {{"Accept-Encoding", "br"}});
  REQUIRE(f.calls == 2);
  REQUIRE(c.get("/vary", {{"Accept-Encoding", "br"}}).body == br.body);
  REQUIRE(f.calls == 2);

  REQUIRE(c.put("/vary", "{}").status == 204);
  // The first GET after the PUT stores a new marker; the other variant,
  // stored before the PUT, must not come back with it.
  REQUIRE(c.get("/vary", {{"Accept-Encoding", "gzip"}}).body == "enc=gzip #3");
  REQUIRE(c.get("/vary", {{"Accept-Encoding", "br"}}).body == "enc=br #4");
  REQUIRE(c.get("/vary", {{"Accept-Encoding", "br"}}).body == "enc=br #4");
  REQUIRE(c.get("/vary", {{"Accept-Encoding", "gzip"}}).body == "enc=gzip #3");
  REQUIRE(f.calls == 4);
}

// --- coalescing ------------------------------------------------------------------

namespace {

std::string pipeline(std::string_view request_line, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += std::string(request_line) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  return out;
}

// A coroutine route that sleeps `delay` on its loop, counting its calls and
// the most of them running at once.
struct slow_fixture {
  fastjson::app app;
  int calls = 0;
  int running = 0;
  int max_running = 0;
  std::chrono::milliseconds delay;
  std::string cache_control;

  slow_fixture(fastjson::mw::response_cache_options o, std::chrono::milliseconds d, std::string cc = {})
      : delay(d), cache_control(std::move(cc)) {
    app.use(fastjson::mw::response_cache(std::move(o)));
    app.get("/slow", [this](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
      int n = ++calls;
      max_running = std::max(max_running, ++running);
      co_await fastjson::sleep(req.loop(), delay);
      --running;
      if (!cache_control.empty()) res.header("Cache-Control", cache_control);
      res.text("computed " + std::to_string(n));
    });
  }
};

}  // namespace

TEST_CASE("response_cache: concurrent misses of one key run the handler once", "[cache][middleware][coalesce]") {
  slow_fixture f({}, 30ms);
  fastjson::testing::client c(f.app);
  auto rs = c.raw(pipeline("GET /slow", 4), 4);
  REQUIRE(rs.size() == 4);
  for (auto& r : rs) {
    CHECK(r.status == 200);
    CHECK(r.body == "computed 1");
  }
  CHECK(f.calls == 1);
  CHECK(!rs[0].header("age"));  // the leader's own answer
  for (int i = 1; i < 4; ++i) CHECK(rs[static_cast<std::size_t>(i)].header("age") == "0");  // served from the store
  CHECK(rs[1].header("etag") == rs[0].header("etag"));
  CHECK(c.get("/slow").body == "computed 1");
  CHECK(f.calls == 1);
}

TEST_CASE("response_cache: a waiter stops waiting after coalesce_timeout", "[cache][middleware][coalesce]") {
  slow_fixture f({.coalesce_timeout = 20ms}, 200ms);
  fastjson::testing::client c(f.app);
  auto rs = c.raw(pipeline("GET /slow", 2), 2);
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status == 200);
  CHECK(rs[1].status == 200);
  CHECK(f.calls == 2);
  CHECK(f.max_running == 2);  // the waiter ran its own handler while the leader's still slept
}

TEST_CASE("response_cache: an uncacheable answer releases the waiters, then marks the key", "[cache][middleware][coalesce]") {
  slow_fixture f({}, 30ms, "no-store");
  fastjson::testing::client c(f.app);
  // The first wave coalesces (nobody knows yet), but the leader's answer
  // can't be shared: the waiter runs the handler itself, after it.
  auto first = c.raw(pipeline("GET /slow", 2), 2);
  REQUIRE(first.size() == 2);
  CHECK(first[0].body == "computed 1");
  CHECK(first[1].body == "computed 2");
  CHECK(f.max_running == 1);
  // Now the key is marked (pass_ttl): misses run at once, side by side.
  auto second = c.raw(pipeline("GET /slow", 2), 2);
  REQUIRE(second.size() == 2);
  CHECK(second[0].body == "computed 3");
  CHECK(second[1].body == "computed 4");
  CHECK(f.max_running == 2);
  CHECK(!second[1].header("age"));
}

TEST_CASE("response_cache: HEAD and coalesce = false never wait", "[cache][middleware][coalesce]") {
  SECTION("coalesce = false") {
    slow_fixture f({.coalesce = false}, 30ms);
    fastjson::testing::client c(f.app);
    auto rs = c.raw(pipeline("GET /slow", 2), 2);
    REQUIRE(rs.size() == 2);
    CHECK(f.calls == 2);
    CHECK(f.max_running == 2);
  }
  SECTION("HEAD behind a GET leader") {
    slow_fixture f({}, 30ms);
    fastjson::testing::client c(f.app);
    auto rs = c.raw(pipeline("GET /slow", 1) + pipeline("HEAD /slow", 1), 2, {false, true});
    REQUIRE(rs.size() == 2);
    CHECK(rs[1].status == 200);
    CHECK(rs[1].body.empty());
    CHECK(f.calls == 2);
    CHECK(f.max_running == 2);
  }
}

TEST_CASE("response_cache: coalescing across worker threads", "[cache][middleware][coalesce][server]") {
  std::atomic<int> calls{0};
  fastjson::app app;
  app.use(fastjson::mw::response_cache());
  app.get("/slow", [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    int n = ++calls;
    co_await fastjson::sleep(req.loop(), 100ms);
    res.text("computed " + std::to_string(n));
  });
  fastjson::config cfg;
  cfg.threads = 2;
  test_net::running_app srv(app, cfg);
  std::vector<int> fds;
  for (int i = 0; i < 6; ++i) {  // SO_REUSEPORT spreads them over both loops
    fds.push_back(test_net::connect_to(srv.port()));
    REQUIRE(test_net::send_all(fds.back(), "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  for (int fd : fds) {
    std::string r = test_net::read_until(fd, "computed 1", 5s);
    CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(r.find("computed 1") != std::string::npos);
    ::close(fd);
  }
  CHECK(calls.load() == 1);
}

TEST_CASE("response_cache: stale-while-revalidate serves the stale copy while one request refreshes",
          "[cache][middleware][coalesce]") {
  fake_clock clock;
  int calls = 0;
  auto make_app = [&](fastjson::app& app, fastjson::mw::response_cache_options o, std::string cc) {
    o.clock = clock.fn();
    app.use(fastjson::mw::response_cache(std::move(o)));
    app.get("/swr", [&calls, cc](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
      int n = ++calls;
      co_await fastjson::sleep(req.loop(), 30ms);
      res.header("Cache-Control", cc);
      res.text("v" + std::to_string(n));
    });
  };
  SECTION("from the handler's Cache-Control, or from the option") {
    fastjson::app app;
    bool from_option = GENERATE(false, true);
    if (from_option)
      make_app(app, {.stale_while_revalidate = 30s}, "max-age=5");
    else
      make_app(app, {}, "max-age=5, stale-while-revalidate=30");
    fastjson::testing::client c(app);
    CHECK(c.get("/swr").body == "v1");
    clock.advance(10s);  // stale, inside the window
    auto rs = c.raw(pipeline("GET /swr", 3), 3);
    REQUIRE(rs.size() == 3);
    CHECK(rs[0].body == "v2");  // the refresh
    CHECK(!rs[0].header("age"));
    CHECK(rs[1].body == "v1");  // the others did not wait for it
    CHECK(rs[1].header("age") == "10");
    CHECK(rs[2].body == "v1");
    CHECK(calls == 2);
    CHECK(c.get("/swr").body == "v2");  // fresh again
    CHECK(calls == 2);
    clock.advance(10s);  // stale again: HEAD gets the stale copy and refreshes nothing
    auto h = c.raw("HEAD /swr HTTP/1.1\r\nHost: t\r\n\r\n", 1, {true});
    REQUIRE(h.size() == 1);
    CHECK(h[0].status == 200);
    CHECK(h[0].header("age") == "10");
    CHECK(calls == 2);
    clock.advance(40s);  // past freshness and window: a plain miss
    CHECK(c.get("/swr").body == "v3");
  }
  SECTION("without coalescing, or without a window, a stale entry is a miss") {
    fastjson::app app;
    bool no_coalesce = GENERATE(false, true);
    if (no_coalesce)
      make_app(app, {.coalesce = false}, "max-age=5, stale-while-revalidate=30");
    else
      make_app(app, {}, "max-age=5");
    fastjson::testing::client c(app);
    CHECK(c.get("/swr").body == "v1");
    clock.advance(10s);
    auto rs = c.raw(pipeline("GET /swr", 2), 2);
    REQUIRE(rs.size() == 2);
    CHECK(rs[0].body == "v2");
    CHECK(rs[1].body == (no_coalesce ? "v3" : "v2"));  // coalesced behind the miss's leader otherwise
    CHECK(calls == (no_coalesce ? 3 : 2));
  }
}

TEST_CASE("response_cache: entries someone else put in a shared store are misses", "[cache][middleware]") {
  fixture f;
  fastjson::testing::client c(f.app);
  // Written by other code sharing `store`: no status/freshness metadata.
  for (std::string_view ct : {"", "text/plain", "200", "2001234567890text/plain", "\x01", "0000000000005x\n"}) {
    INFO("content type '" << ct << "'");
    f.store->put("/n", "foreign", {.content_type = ct});
    auto r = c.get("/n");
    CHECK(r.status == 200);
    CHECK(r.body.rfind("call ", 0) == 0);  // the handler ran
    f.store->erase("/n");
  }
}
