// Coroutine handlers: task<T>, sleep, offload, exceptions, and a client
// that goes away while a handler is suspended.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

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
  c.raw("GET /slow/30 HTTP/1.1\r\nHost: t\r\n\r\nGET /slow/10 HTTP/1.1\r\nHost: t\r\n\r\n", 0);
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
  for (int i = 0; i < 20; ++i) batch += i % 2 ? "GET /async HTTP/1.1\r\nHost: t\r\n\r\n" : "GET /sync HTTP/1.1\r\nHost: t\r\n\r\n";
  auto rs = c.raw(batch, 20);
  REQUIRE(rs.size() == 20);
  for (int i = 0; i < 20; ++i) REQUIRE(rs[static_cast<std::size_t>(i)].body == (i % 2 ? "a" : "s"));
}

TEST_CASE("cache: get_or_load_async runs one load for concurrent coroutine misses", "[cache][async]") {
  fastjson::cache::sharded_cache cache({.max_bytes = 1 << 20});
  int loads = 0;
  fastjson::app app;
  app.get("/k/:key", [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    fastjson::loop& l = req.loop();
    std::string key(req.param("key"));
    // The loader is a named local, not a temporary inside the co_await
    // expression: GCC 12 miscompiles a capturing lambda temporary there (its
    // captured std::string is freed twice; see sharded_cache.h).
    auto loader = [&loads, &l, key]() -> fastjson::task<fastjson::cache::loaded_value> {
      ++loads;
      co_await fastjson::sleep(l, 30ms);  // the loop serves the other requests meanwhile
      if (key == "bad") throw std::runtime_error("backend down");
      co_return fastjson::cache::loaded_value{.value = "v:" + key, .cacheable = key != "nocache"};
    };
    auto e = co_await cache.get_or_load_async(key, loader);
    res.send(e->value(), "text/plain");
  });
  fastjson::testing::client c(app);
  auto pipeline = [](std::string_view path, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n\r\n";
    return out;
  };

  // Five pipelined requests: their handlers all run while the first load
  // sleeps; one load answers all five.
  auto rs = c.raw(pipeline("/k/a", 5), 5);
  REQUIRE(rs.size() == 5);
  for (auto& r : rs) {
    CHECK(r.status == 200);
    CHECK(r.body == "v:a");
  }
  CHECK(loads == 1);
  CHECK(c.get("/k/a").body == "v:a");  // stored: a hit, no load
  CHECK(loads == 1);

  // A loader exception reaches every waiter (each handler answers 500) and
  // nothing is stored: the next miss loads again.
  auto bad = c.raw(pipeline("/k/bad", 3), 3);
  REQUIRE(bad.size() == 3);
  for (auto& r : bad) CHECK(r.status == 500);
  CHECK(loads == 2);
  CHECK(c.get("/k/bad").status == 500);
  CHECK(loads == 3);

  // Not cacheable: the waiters share the value, the next miss loads again.
  auto nc = c.raw(pipeline("/k/nocache", 2), 2);
  REQUIRE(nc.size() == 2);
  CHECK(nc[1].body == "v:nocache");
  CHECK(loads == 4);
  CHECK(c.get("/k/nocache").body == "v:nocache");
  CHECK(loads == 5);
}

namespace {
// An awaitable that never resumes its coroutine: a load that never ends.
struct forever {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  fastjson::cache::loaded_value await_resume() const { return {}; }
};
}  // namespace

TEST_CASE("cache: a loading coroutine destroyed mid-load leaves no waiter stuck", "[cache][async]") {
  fastjson::cache::sharded_cache cache({.max_bytes = 1 << 20});
  auto leader = cache.get_or_load_async("k", []() -> fastjson::task<fastjson::cache::loaded_value> {
    co_return co_await forever{};
  });
  leader.start_detached(+[](void*) {}, nullptr);  // now suspended inside the loader
  REQUIRE(!leader.done());
  // A second coroutine (off any loop) joins the same load and suspends.
  int waiter_loads = 0;
  auto waiter = cache.get_or_load_async("k", [&]() -> fastjson::task<fastjson::cache::loaded_value> {
    ++waiter_loads;
    co_return fastjson::cache::loaded_value{.value = "never"};
  });
  waiter.start_detached(+[](void*) {}, nullptr);
  REQUIRE(!waiter.done());

  leader = {};  // the request is dropped: its frame (and the load) is destroyed
  REQUIRE(waiter.done());  // woken (inline: it awaited off any loop) with the error
  CHECK_THROWS_AS(waiter.result(), std::runtime_error);
  CHECK(waiter_loads == 0);

  // The key is free again: the next miss loads (it does not wait forever).
  int calls = 0;
  auto e = cache.get_or_load("k", [&] {
    ++calls;
    return fastjson::cache::loaded_value{.value = "fresh"};
  });
  CHECK(calls == 1);
  CHECK(e->value() == "fresh");
}

TEST_CASE("cache: a coroutine waits for a blocking get_or_load on another thread", "[cache][async]") {
  fastjson::cache::sharded_cache cache({.max_bytes = 1 << 20});
  std::atomic<bool> loading{false}, release{false};
  std::thread loader_thread([&] {
    cache.get_or_load("k", [&] {
      loading = true;
      while (!release) std::this_thread::sleep_for(1ms);
      return fastjson::cache::loaded_value{.value = "from thread"};
    });
  });
  while (!loading) std::this_thread::sleep_for(1ms);
  int own_loads = 0;
  auto t = cache.get_or_load_async("k", [&]() -> fastjson::task<fastjson::cache::loaded_value> {
    ++own_loads;
    co_return fastjson::cache::loaded_value{.value = "own"};
  });
  t.start_detached(+[](void*) {}, nullptr);
  CHECK(!t.done());  // suspended on the thread's load, not blocked
  release = true;
  loader_thread.join();  // the thread's landing resumed the coroutine inline
  REQUIRE(t.done());
  CHECK(t.result()->value() == "from thread");
  CHECK(own_loads == 0);
}

namespace {
// An awaitable that parks its coroutine in `*slot`, for the test to resume.
struct gate {
  std::coroutine_handle<>* slot;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const noexcept { *slot = h; }
  void await_resume() const noexcept {}
};
}  // namespace

TEST_CASE("cache: a waiting coroutine destroyed before the load lands is never resumed", "[cache][async]") {
  fastjson::cache::sharded_cache cache({.max_bytes = 1 << 20});
  std::coroutine_handle<> parked;
  auto load = [&]() -> fastjson::task<fastjson::cache::loaded_value> {
    co_await gate{&parked};
    co_return fastjson::cache::loaded_value{.value = "v"};
  };
  auto leader = cache.get_or_load_async("k", load);
  leader.start_detached(+[](void*) {}, nullptr);
  REQUIRE(parked);
  {
    auto never = [&]() -> fastjson::task<fastjson::cache::loaded_value> { co_return fastjson::cache::loaded_value{}; };
    auto waiter = cache.get_or_load_async("k", never);
    waiter.start_detached(+[](void*) {}, nullptr);
    REQUIRE(!waiter.done());
  }  // dropped while waiting: it withdraws from the flight
  parked.resume();  // the load lands; resuming the dead waiter would be a use-after-free (ASan)
  REQUIRE(leader.done());
  CHECK(leader.result()->value() == "v");
  CHECK(cache.get("k")->value() == "v");
}

namespace {
// A step that suspends on the loop for `ms`, counting how many steps have
// started and not finished (to see that when_all runs them at once).
struct step_counter {
  int running = 0;
  int most = 0;
  int finished = 0;
};
fastjson::task<int> step(fastjson::loop& l, step_counter& c, int value, int ms) {
  ++c.running;
  c.most = std::max(c.most, c.running);
  co_await fastjson::sleep(l, std::chrono::milliseconds(ms));
  --c.running;
  ++c.finished;
  if (value < 0) throw std::runtime_error("step " + std::to_string(value) + " failed");
  co_return value;
}
fastjson::task<std::string> word(fastjson::loop& l, std::string w) {
  co_await fastjson::sleep(l, 2ms);
  co_return w;
}
fastjson::task<> nothing(step_counter& c) {
  ++c.finished;  // never suspends
  co_return;
}
}  // namespace

TEST_CASE("when_all runs tasks concurrently and returns results in order", "[async][when_all]") {
  step_counter c;
  fastjson::app app;
  app.get("/all", [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    std::vector<fastjson::task<int>> ts;
    // Later tasks finish first: the results still come back in task order.
    for (int i = 0; i < 5; ++i) ts.push_back(step(req.loop(), c, i * 10, 25 - 5 * i));
    std::vector<int> v = co_await fastjson::when_all(std::move(ts));
    std::string out;
    for (int x : v) out += std::to_string(x) + ",";
    auto [n, s] = co_await fastjson::when_all(step(req.loop(), c, 7, 1), word(req.loop(), "seven"));
    res.text(out + std::to_string(n) + s);
  });
  app.get("/fail", [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    std::vector<fastjson::task<int>> ts;
    ts.push_back(step(req.loop(), c, 1, 1));
    ts.push_back(step(req.loop(), c, -2, 1));
    ts.push_back(step(req.loop(), c, 3, 10));  // still finishes before the rethrow
    try {
      (void)co_await fastjson::when_all(std::move(ts));
      res.text("no error");
    } catch (const std::runtime_error& e) {
      res.text(e.what());
    }
  });
  app.get("/sync", [&](fastjson::request&, fastjson::response& res) -> fastjson::task<> {
    std::vector<fastjson::task<>> ts;
    for (int i = 0; i < 3; ++i) ts.push_back(nothing(c));
    std::size_t n = co_await fastjson::when_all(std::move(ts));
    std::size_t none = co_await fastjson::when_all(std::vector<fastjson::task<>>{});
    res.text(std::to_string(n) + "/" + std::to_string(none));
  });
  fastjson::testing::client cl(app);
  CHECK(cl.get("/all").body == "0,10,20,30,40,7seven");
  CHECK(c.most == 5);  // all five were suspended at once
  CHECK(c.finished == 6);
  c = {};
  CHECK(cl.get("/fail").body == "step -2 failed");
  CHECK(c.finished == 3);
  c = {};
  CHECK(cl.get("/sync").body == "3/0");
  CHECK(c.finished == 3);
}

TEST_CASE("coroutine frames are recycled per thread, in 64-byte classes, up to 4 KiB", "[async]") {
  using fastjson::detail::frame_alloc;
  using fastjson::detail::frame_free;
  if (!fastjson::detail::frame_pool_enabled()) {
    SUCCEED("frame pool off (sanitizer build or FASTJSON_NO_FRAME_POOL): frames are plain allocations");
    return;
  }
  void* a = frame_alloc(200);
  frame_free(a, 200);
  void* b = frame_alloc(250);  // same class (193..256 bytes): the same block back
  CHECK(b == a);
  void* c = frame_alloc(300);  // another class: another block
  CHECK(c != a);
  frame_free(b, 250);
  frame_free(c, 300);
  void* big = frame_alloc(5000);  // beyond the pool: plain allocation
  frame_free(big, 5000);
  // A frame freed on another thread goes to that thread's lists (emptied
  // when it exits), or back to the allocator if that thread keeps none.
  void* d = frame_alloc(100);
  std::thread([d] {
    fastjson::detail::frame_free(fastjson::detail::frame_alloc(100), 100);  // this thread keeps lists
    fastjson::detail::frame_free(d, 100);
  }).join();
  // Many frames: the lists keep a bounded number (128 per class, 1 MiB in all).
  std::vector<void*> many;
  for (int i = 0; i < 1000; ++i) many.push_back(frame_alloc(64));
  for (int i = 0; i < 1000; ++i) many.push_back(frame_alloc(4000));
  for (std::size_t i = 0; i < many.size(); ++i) frame_free(many[i], i < 1000 ? 64 : 4000);
  SUCCEED();
}

TEST_CASE("awaiting an empty task throws std::logic_error, also inside when_all", "[async][when_all]") {
  auto direct = []() -> fastjson::task<int> { co_return co_await fastjson::task<int>{}; };
  CHECK_THROWS_AS(fastjson::sync_wait(direct()), std::logic_error);
  auto all = []() -> fastjson::task<std::size_t> {
    std::vector<fastjson::task<int>> ts;
    ts.push_back([]() -> fastjson::task<int> { co_return 1; }());
    ts.emplace_back();  // default-constructed: no coroutine behind it
    auto v = co_await fastjson::when_all(std::move(ts));
    co_return v.size();
  };
  CHECK_THROWS_AS(fastjson::sync_wait(all()), std::logic_error);
}

TEST_CASE("when_all off any loop, with offloaded work", "[async][when_all]") {
  std::atomic<int> at_once{0}, most{0};
  auto job = [&](int v) -> fastjson::task<int> {
    auto work = [&at_once, &most, v] {  // named: see the GCC 12 note in sharded_cache.h
      int now = ++at_once;
      for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
      }
      std::this_thread::sleep_for(200ms);  // long enough for the other job to start meanwhile
      --at_once;
      return v * v;
    };
    co_return co_await fastjson::offload(work);
  };
  std::vector<fastjson::task<int>> ts;
  for (int i = 1; i <= 2; ++i) ts.push_back(job(i));
  auto v = fastjson::sync_wait(fastjson::when_all(std::move(ts)));
  CHECK(v == std::vector<int>{1, 4});
  CHECK(most.load() == 2);  // the pool has at least two threads
}

namespace {
struct never {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  int await_resume() const noexcept { return 0; }
};
struct alive_guard {
  int& n;
  explicit alive_guard(int& c) : n(c) { ++n; }
  ~alive_guard() { --n; }
};
fastjson::task<int> stuck(int& alive) {
  alive_guard g(alive);
  co_return co_await never{};
}
}  // namespace

TEST_CASE("destroying a coroutine awaiting when_all destroys its unfinished tasks", "[async][when_all]") {
  int alive = 0;
  std::vector<fastjson::task<int>> ts;
  for (int i = 0; i < 3; ++i) ts.push_back(stuck(alive));
  auto all = fastjson::when_all(std::move(ts));
  all.start_detached(+[](void*) {}, nullptr);
  REQUIRE(!all.done());
  CHECK(alive == 3);  // each is suspended inside its task
  all = {};
  CHECK(alive == 0);
}
