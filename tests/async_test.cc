// Coroutine handlers: task<T>, sleep, offload, exceptions, and a client
// that goes away while a handler is suspended.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "fastjson/fastjson.h"
#include "fastjson/testing.h"

using namespace std::chrono_literals;

namespace {
fastjson::task<int> add_later(fastjson::loop& l, int a, int b) {
  co_await fastjson::sleep(l, 5ms);
  co_return a + b;
}
}  // namespace

TEST_CASE("task<T> composes and resumes on the loop thread", "[async]") {
  fastjson::app app;
  app.get("/sum", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    auto home = std::this_thread::get_id();
    int v = co_await add_later(req.loop(), 2, 3);
    auto pool_thread = co_await fastjson::offload([] { return std::this_thread::get_id(); });
    bool same = std::this_thread::get_id() == home;
    bool offloaded = pool_thread != home;
    res.text(std::to_string(v) + (same ? " same" : " other") + (offloaded ? " offloaded" : " inline"));
  });
  fastjson::testing::client c(app);
  auto r = c.get("/sum");
  REQUIRE(r.status == 200);
  REQUIRE(r.body == "5 same offloaded");
}

TEST_CASE("exceptions from offloaded work reach the handler and become 500", "[async]") {
  fastjson::app app;
  app.get("/boom", [](fastjson::request&, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::offload([]() -> int { throw std::runtime_error("disk on fire"); });
    res.text("unreachable");
  });
  app.get("/caught", [](fastjson::request&, fastjson::response& res) -> fastjson::task<> {
    try {
      co_await fastjson::offload([]() -> int { throw std::runtime_error("x"); });
    } catch (const std::runtime_error& e) {
      res.text(std::string("caught ") + e.what());
    }
  });
  fastjson::testing::client c(app);
  auto r = c.get("/boom");
  REQUIRE(r.status == 500);
  REQUIRE(r.header("content-type") == "application/problem+json");
  REQUIRE(c.get("/caught").body == "caught x");
}

TEST_CASE("a client that disconnects while its handler is suspended is safe", "[async]") {
  std::atomic<int> finished{0};
  fastjson::app app;
  app.get("/slow/:ms", [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), std::chrono::milliseconds(req.param<int>("ms")));
    // req and res are still valid here even though the client is gone.
    res.text(std::string(req.path()));
    ++finished;
  });
  fastjson::testing::client c(app);
  c.raw("GET /slow/30 HTTP/1.1\r\n\r\nGET /slow/10 HTTP/1.1\r\n\r\n", 0);
  c.reconnect();  // the connection goes away with two handlers suspended
  auto r = c.get("/slow/120");  // runs the loop long enough for both to finish
  REQUIRE(r.status == 200);
  REQUIRE(r.body == "/slow/120");
  REQUIRE(finished == 3);
}

TEST_CASE("sync handlers and coroutine handlers interleave on one connection", "[async]") {
  fastjson::app app;
  app.get("/sync", [](fastjson::request&, fastjson::response& res) { res.text("s"); });
  app.get("/async", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 1ms);
    res.text("a");
  });
  fastjson::testing::client c(app);
  std::string batch;
  for (int i = 0; i < 20; ++i) batch += i % 2 ? "GET /async HTTP/1.1\r\n\r\n" : "GET /sync HTTP/1.1\r\n\r\n";
  auto rs = c.raw(batch, 20);
  REQUIRE(rs.size() == 20);
  for (int i = 0; i < 20; ++i) REQUIRE(rs[static_cast<std::size_t>(i)].body == (i % 2 ? "a" : "s"));
}
