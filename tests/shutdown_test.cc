// Work a handler awaits off its loop (an offload job, a database query, a
// cache load another request leads) that is still pending when the shutdown
// deadline ends the server. The server must exit 0 on time; the work that
// finishes later must not touch the destroyed coroutine frames or post to
// the closed loops (ASan + UBSan in CI); a running SQLite query is
// interrupted rather than holding the shutdown for its whole run.

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "fastjson/cache/sharded_cache.h"
#include "fastjson/db/sqlite.h"
#include "fastjson/fastjson.h"
#include "fastjson/mw/response_cache.h"
#include "support/net.h"

using namespace std::chrono_literals;
using test_net::connect_to;
using test_net::send_all;

namespace {

template <class Pred>
bool eventually(Pred p, std::chrono::milliseconds limit = 5s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!p()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

fastjson::config quick_shutdown() {
  fastjson::config cfg;
  cfg.threads = 1;
  cfg.shutdown_timeout_ms = 100;
  return cfg;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("shutdown: offload jobs still queued or running at the deadline", "[server][shutdown]") {
  std::atomic<int> started{0}, finished{0};
  fastjson::app app;
  app.get("/work", [&](fastjson::request&, fastjson::response& res) -> fastjson::task<> {
    std::string local = "frame-owned";
    // The job reads the frame (`local`) while it runs: the frame must stay
    // alive until the job is done with it.
    auto v = co_await fastjson::offload([&] {
      ++started;
      std::this_thread::sleep_for(400ms);
      ++finished;
      return local + std::string(100, 'x');  // written after the server is gone
    });
    res.text(v);
  });
  {
    test_net::running_app srv(app, quick_shutdown());
    // More requests than pool threads (at least two): some jobs run, the
    // rest are still queued at the deadline.
    unsigned n = std::max(2u, std::thread::hardware_concurrency()) + 2;
    std::vector<int> fds;
    for (unsigned i = 0; i < n; ++i) {
      fds.push_back(connect_to(srv.port()));
      REQUIRE(send_all(fds.back(), "GET /work HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    REQUIRE(eventually([&] { return started.load() >= 2; }));
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(srv.stop() == 0);
    // Running jobs are waited for (they read the frames), queued ones are
    // dropped without running.
    CHECK(seconds_since(t0) < 2.0);
    CHECK(started.load() == finished.load());
    for (int fd : fds) ::close(fd);
  }
  int ran = started.load();
  std::this_thread::sleep_for(500ms);
  CHECK(started.load() == ran);  // nothing ran after the server stopped
  // The pool serves the next caller.
  CHECK(fastjson::sync_wait([]() -> fastjson::task<int> {
          co_return co_await fastjson::offload([] { return 42; });
        }()) == 42);
}

TEST_CASE("shutdown: a SQLite query running at the deadline is interrupted", "[server][shutdown][db]") {
  // In-memory: one connection on the writer thread, so the second request's
  // query is queued behind the first.
  auto db = fastjson::db::sqlite::open({.path = ":memory:"});
  fastjson::sync_wait(db->execute("CREATE TABLE t(x INTEGER)"));
  std::atomic<int> entered{0};
  fastjson::app app;
  // A transaction whose first statement is done and whose second would run
  // for minutes when the deadline comes: interrupted, so it rolls back.
  app.post("/tx", [&](fastjson::request&, fastjson::response& res) -> fastjson::task<> {
    ++entered;
    co_await db->transaction([](fastjson::db::sqlite::connection& c) {
      c.execute("INSERT INTO t VALUES (1)");
      (void)c.query_value<std::int64_t>(
          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000000) "
          "SELECT count(*) FROM c");
    });
    res.status(204);
  });
  app.get("/scan", [&](fastjson::request&, fastjson::response& res) -> fastjson::task<> {
    ++entered;
    // Minutes of work for SQLite: only an interrupt ends it early.
    auto n = co_await db->query_value<std::int64_t>(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000000) "
        "SELECT count(*) FROM c");
    res.text(std::to_string(n.value_or(0)));
  });
  {
    test_net::running_app srv(app, quick_shutdown());
    int a = connect_to(srv.port());
    int b = connect_to(srv.port());
    REQUIRE(send_all(a, GENERATE(as<std::string>{}, "POST /tx", "GET /scan") + " HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    std::this_thread::sleep_for(100ms);  // the first job is running
    REQUIRE(send_all(b, "GET /scan HTTP/1.1\r\nHost: t\r\n\r\n"));  // queued behind it
    REQUIRE(eventually([&] { return entered.load() == 2; }));
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(srv.stop() == 0);
    CHECK(seconds_since(t0) < 3.0);
    ::close(a);
    ::close(b);
  }
  // Rolled back: the interrupted transaction left nothing behind.
  CHECK(fastjson::sync_wait(db->query_value<std::int64_t>("SELECT count(*) FROM t")) == 0);
  // The connection is usable again (the interrupt ended with the query).
  auto v = fastjson::sync_wait(db->query_value<std::int64_t>("SELECT 41 + 1"));
  REQUIRE(v);
  CHECK(*v == 42);
  auto st = fastjson::sync_wait(db->query_value<std::int64_t>("SELECT count(*) FROM sqlite_schema"));
  CHECK(st);
}

TEST_CASE("shutdown: a cache load and its waiters still pending at the deadline", "[server][shutdown][cache]") {
  fastjson::cache::sharded_cache cache({.max_bytes = 1 << 20});
  std::atomic<int> loads{0}, handlers{0};
  fastjson::app app;
  app.get("/k/:key", [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    ++handlers;
    std::string key(req.param("key"));
    auto loader = [&loads]() -> fastjson::task<fastjson::cache::loaded_value> {
      ++loads;
      // A slow backend, off the loop: still running at the deadline.
      auto v = co_await fastjson::offload([] {
        std::this_thread::sleep_for(300ms);
        return std::string("late");
      });
      co_return fastjson::cache::loaded_value{.value = v};
    };
    auto e = co_await cache.get_or_load_async(key, loader);
    res.send(e->value(), "text/plain");
  });
  {
    test_net::running_app srv(app, quick_shutdown());
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) {  // one leader, two waiters
      fds.push_back(connect_to(srv.port()));
      REQUIRE(send_all(fds.back(), "GET /k/same HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    REQUIRE(eventually([&] { return handlers.load() == 3; }));
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(srv.stop() == 0);
    CHECK(seconds_since(t0) < 2.0);
    for (int fd : fds) ::close(fd);
  }
  CHECK(loads.load() == 1);
  // The abandoned load left the key free: the next caller loads it.
  auto e = cache.get_or_load("same", [] { return fastjson::cache::loaded_value{.value = "fresh"}; });
  CHECK(e->value() == "fresh");
}

TEST_CASE("shutdown: response_cache waiters pending at the deadline", "[server][shutdown][cache]") {
  std::atomic<int> calls{0};
  fastjson::app app;
  app.use(fastjson::mw::response_cache());
  app.get("/slow", [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    ++calls;
    co_await fastjson::sleep(req.loop(), 5s);  // still asleep at the deadline
    res.text("late");
  });
  {
    test_net::running_app srv(app, quick_shutdown());
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) {  // one leader in its handler, two waiting in the middleware
      fds.push_back(connect_to(srv.port()));
      REQUIRE(send_all(fds.back(), "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    REQUIRE(eventually([&] { return calls.load() == 1; }));
    std::this_thread::sleep_for(50ms);  // the other two reach their wait
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(srv.stop() == 0);
    CHECK(seconds_since(t0) < 2.0);
    for (int fd : fds) ::close(fd);
  }
  CHECK(calls.load() == 1);
}
