// mw::rate_limit: the GCRA budget and Retry-After, eviction at max_clients,
// refused options, one budget per process across worker loops, and
// concurrent charging from several threads.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fastjson/app.h"
#include "fastjson/mw/builtin.h"
#include "fastjson/testing.h"
#include "support/net.h"

using namespace std::chrono_literals;

namespace {

void ok_route(fastjson::app& app, const std::string& path, fastjson::middleware_ptr limit) {
  app.get(path, [](fastjson::request&, fastjson::response& res) { res.text("ok"); }, {std::move(limit)});
}

int get_as(fastjson::testing::client& client, const std::string& addr, const std::string& path = "/x") {
  client.set_peer_address(addr);
  return client.get(path).status;
}

}  // namespace

TEST_CASE("rate_limit: a burst, then 429 with Retry-After, then refill at per_second",
          "[middleware][rate_limit]") {
  // T = 100 ms, burst 3. Sleeps bound elapsed time from below, so only a
  // stall of ~80 ms between two consecutive requests could upset this.
  fastjson::app app;
  ok_route(app, "/x", fastjson::mw::rate_limit({.per_second = 10, .burst = 3}));
  fastjson::testing::client client(app);
  client.set_peer_address("10.1.0.1");
  for (int i = 0; i < 3; ++i) CHECK(client.get("/x").status == 200);
  auto r = client.get("/x");
  CHECK(r.status == 429);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(r.body.find("\"status\":429") != std::string::npos);
  CHECK(r.header("retry-after") == "1");  // 100 ms, rounded up to whole seconds
  CHECK(client.get("/x").status == 429);  // rejected requests are not counted...

  std::this_thread::sleep_for(120ms);     // ...so one interval refills one token
  CHECK(client.get("/x").status == 200);
  CHECK(client.get("/x").status == 429);

  std::this_thread::sleep_for(450ms);     // refilled, but never beyond burst
  for (int i = 0; i < 3; ++i) CHECK(client.get("/x").status == 200);
  CHECK(client.get("/x").status == 429);
}

TEST_CASE("rate_limit: Retry-After is the wait in whole seconds, rounded up", "[middleware][rate_limit]") {
  fastjson::app app;
  ok_route(app, "/quarter", fastjson::mw::rate_limit({.per_second = 0.25, .burst = 1}));
  ok_route(app, "/fractional", fastjson::mw::rate_limit({.per_second = 0.4, .burst = 1.5}));
  fastjson::testing::client client(app);
  CHECK(client.get("/quarter").status == 200);
  auto r = client.get("/quarter");
  REQUIRE(r.status == 429);
  CHECK(r.header("retry-after") == "4");  // the next token in just under 4 s
  // burst 1.5 at 0.4/s: one request, then half a token short: 1.25 s -> 2.
  CHECK(client.get("/fractional").status == 200);
  r = client.get("/fractional");
  REQUIRE(r.status == 429);
  CHECK(r.header("retry-after") == "2");
}

TEST_CASE("rate_limit: instances keep separate budgets; one instance shares its budget between routes",
          "[middleware][rate_limit]") {
  fastjson::app app;
  ok_route(app, "/a", fastjson::mw::rate_limit({.per_second = 0.01, .burst = 2}));
  ok_route(app, "/b", fastjson::mw::rate_limit({.per_second = 0.01, .burst = 2}));
  auto shared = fastjson::mw::rate_limit({.per_second = 0.01, .burst = 2});
  ok_route(app, "/c", shared);
  ok_route(app, "/d", shared);
  fastjson::testing::client client(app);
  client.set_peer_address("10.2.0.1");
  CHECK(client.get("/a").status == 200);
  CHECK(client.get("/a").status == 200);
  CHECK(client.get("/a").status == 429);
  CHECK(client.get("/b").status == 200);
  CHECK(client.get("/b").status == 200);
  CHECK(client.get("/b").status == 429);
  CHECK(client.get("/c").status == 200);
  CHECK(client.get("/d").status == 200);
  CHECK(client.get("/c").status == 429);
  CHECK(client.get("/d").status == 429);
  // Keyed by address: another client starts with its own budget.
  client.set_peer_address("10.2.0.2");
  CHECK(client.get("/a").status == 200);
  client.set_peer_address("::1");
  CHECK(client.get("/a").status == 200);
}

TEST_CASE("rate_limit: at max_clients the least recently charged client is evicted, not every client",
          "[middleware][rate_limit]") {
  // max_clients 2: one fully associative set of two words. T = 100 s, so
  // nothing refills during the test.
  fastjson::app app;
  ok_route(app, "/x", fastjson::mw::rate_limit({.per_second = 0.01, .burst = 2, .max_clients = 2}));
  fastjson::testing::client client(app);
  CHECK(get_as(client, "A") == 200);
  CHECK(get_as(client, "B") == 200);
  CHECK(get_as(client, "A") == 200);  // A has spent its burst
  CHECK(get_as(client, "C") == 200);  // the table is full: B, charged least recently, goes
  CHECK(get_as(client, "A") == 429);  // A keeps its state
  // B was forgotten: its full burst again (it had one request left).
  CHECK(get_as(client, "B") == 200);  // evicts C now
  CHECK(get_as(client, "B") == 200);
  CHECK(get_as(client, "B") == 429);
  CHECK(get_as(client, "A") == 429);
}

TEST_CASE("rate_limit: a flood of new addresses does not reset a limited client", "[middleware][rate_limit]") {
  fastjson::app app;
  ok_route(app, "/x", fastjson::mw::rate_limit({.per_second = 0.01, .burst = 3, .max_clients = 64}));
  fastjson::testing::client client(app);
  const std::string x = "192.168.7.7";
  for (int i = 0; i < 3; ++i) CHECK(get_as(client, x) == 200);
  CHECK(get_as(client, x) == 429);
  // 63 others fill the table to max_clients (sets of 8 overflow here and
  // there: the newcomers evict each other).
  for (int i = 0; i < 63; ++i) CHECK(get_as(client, "10.3.0." + std::to_string(i)) == 200);
  CHECK(get_as(client, x) == 429);
  // One more than max_clients, then many more: x is still limited.
  CHECK(get_as(client, "10.3.1.0") == 200);
  CHECK(get_as(client, x) == 429);
  int others_ok = 0;
  for (int i = 0; i < 2000; ++i) {
    others_ok += get_as(client, "10.4." + std::to_string(i / 256) + "." + std::to_string(i % 256)) == 200;
    if (i % 100 == 99) CHECK(get_as(client, x) == 429);
  }
  CHECK(others_ok == 2000);  // each newcomer had its own full bucket
  CHECK(get_as(client, x) == 429);
}

TEST_CASE("rate_limit: bad options are refused at construction, naming the option",
          "[middleware][rate_limit]") {
  using fastjson::mw::rate_limit;
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  for (double ps : {0.0, -0.0, -1.0, nan, inf, -inf}) {
    INFO("per_second " << ps);
    CHECK_THROWS_AS(rate_limit({.per_second = ps}), std::invalid_argument);
    CHECK_THROWS_WITH(rate_limit({.per_second = ps}), Catch::Contains("per_second"));
  }
  for (double b : {0.0, 0.5, 0.999, -1.0, nan, inf}) {
    INFO("burst " << b);
    CHECK_THROWS_AS(rate_limit({.burst = b}), std::invalid_argument);
    CHECK_THROWS_WITH(rate_limit({.burst = b}), Catch::Contains("burst"));
  }
  CHECK_THROWS_AS(rate_limit({.max_clients = 0}), std::invalid_argument);
  CHECK_THROWS_WITH(rate_limit({.max_clients = 0}), Catch::Contains("max_clients"));
  // The edges that are fine.
  CHECK_NOTHROW(rate_limit({.per_second = 1e-9, .burst = 1, .max_clients = 1}));
  CHECK_NOTHROW(rate_limit({.per_second = 1e9, .burst = 1 << 20, .max_clients = 9}));
  CHECK_NOTHROW(rate_limit({}));
}

TEST_CASE("rate_limit: one budget per process across worker loops", "[middleware][rate_limit]") {
  // Every connection comes from 127.0.0.1; SO_REUSEPORT spreads the 48
  // connections over both loops. Per-loop buckets would admit 2 x burst.
  constexpr int burst = 5, threads = 4, per_thread = 12;
  fastjson::app app;
  std::mutex mu;
  std::set<std::thread::id> loops_seen;
  app.use([&](fastjson::request&, fastjson::response&) {
    std::lock_guard lock(mu);
    loops_seen.insert(std::this_thread::get_id());
    return true;
  });
  ok_route(app, "/limited", fastjson::mw::rate_limit({.per_second = 0.001, .burst = burst}));
  fastjson::config cfg;
  cfg.threads = 2;
  test_net::running_app srv(app, cfg);
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        int fd = test_net::connect_to(srv.port());
        if (fd < 0) {
          ++other;
          continue;
        }
        std::string got;
        if (test_net::send_all(fd, "GET /limited HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
          got = test_net::read_until_close(fd, 5000ms);
        ::close(fd);
        if (got.rfind("HTTP/1.1 200", 0) == 0)
          ++ok;
        else if (got.rfind("HTTP/1.1 429", 0) == 0 && got.find("Retry-After: ") != std::string::npos)
          ++limited;
        else
          ++other;
      }
    });
  for (auto& c : clients) c.join();
  REQUIRE(srv.stop() == 0);
  CHECK(other == 0);
  CHECK(ok == burst);
  CHECK(limited == threads * per_thread - burst);
  std::lock_guard lock(mu);
  CHECK(loops_seen.size() == 2);
}

TEST_CASE("rate_limit: concurrent requests on several threads never exceed burst + elapsed * rate",
          "[middleware][rate_limit]") {
  // In-process clients on their own threads, each driving its own loop
  // through the same app: the same middleware instance charged from four
  // threads at once, for a shared address and for a few of each thread's.
  constexpr double rate = 200, burst = 8;
  constexpr int nthreads = 4, shared_addrs = 4;
  fastjson::app app;
  ok_route(app, "/x", fastjson::mw::rate_limit({.per_second = rate, .burst = burst, .max_clients = 4096}));
  // max_clients 8 for 64 addresses: words are stolen from under each other.
  ok_route(app, "/churn", fastjson::mw::rate_limit({.per_second = 5, .burst = 2, .max_clients = 8}));
  std::vector<std::unique_ptr<fastjson::testing::client>> clients;
  for (int t = 0; t < nthreads; ++t) clients.push_back(std::make_unique<fastjson::testing::client>(app));

  std::atomic<int> allowed[shared_addrs] = {};
  std::atomic<int> answered{0}, sent{0};
  std::atomic<bool> go{false};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < nthreads; ++t)
    ts.emplace_back([&, t] {
      auto& c = *clients[static_cast<std::size_t>(t)];
      while (!go.load()) std::this_thread::yield();
      auto until = std::chrono::steady_clock::now() + 300ms;
      for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
        int a = i % shared_addrs;
        c.set_peer_address("10.5.0." + std::to_string(a));
        int s = c.get("/x").status;
        if (s == 200) ++allowed[a];
        c.set_peer_address("10.6." + std::to_string(t) + "." + std::to_string(i % 16));
        int s2 = c.get("/churn").status;
        sent += 2;
        answered += (s == 200 || s == 429) + (s2 == 200 || s2 == 429);
      }
    });
  t0 = std::chrono::steady_clock::now();
  go = true;
  for (auto& th : ts) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(answered == sent);
  double bound = burst + elapsed * rate + 1;  // +1: time is kept in 1/256ths of an interval
  for (int a = 0; a < shared_addrs; ++a) {
    INFO("address 10.5.0." << a << ", " << elapsed << " s");
    CHECK(allowed[a] >= burst);
    CHECK(allowed[a] <= bound);
  }
}
