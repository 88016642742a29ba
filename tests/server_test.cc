// The real server over loopback sockets: keep-alive, pipelining, timeouts,
// graceful shutdown, lingering close, resets and the connection limit.

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "fastjson/fastjson.h"
#include "support/net.h"

using namespace std::chrono_literals;
using test_net::connect_to;
using test_net::read_until;
using test_net::read_until_close;
using test_net::send_all;

namespace {

void routes(fastjson::app& app) {
  app.get("/plaintext",
          [](fastjson::request&, fastjson::response& res) { res.text("Hello, World!"); });
  app.get("/slow", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 300ms);
    res.text("done");
  });
  app.post("/echo", [](fastjson::request& req, fastjson::response& res) {
    res.send(req.body(), "text/plain");
  });
  app.get("/tick", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 1ms);
    res.text("tock");
  });
}

std::size_t count_fds() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

std::size_t count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string_view::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("server answers keep-alive and pipelined requests over TCP", "[server]") {
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 2;
  test_net::running_app srv(app, cfg);
  int fd = connect_to(srv.port());
  REQUIRE(fd >= 0);
  std::string req = "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += req;
  REQUIRE(send_all(fd, batch));
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (count(got, "Hello, World!") < 16 && std::chrono::steady_clock::now() < deadline)
    got += read_until(fd, "Hello, World!", 1000ms);
  REQUIRE(count(got, "HTTP/1.1 200 OK") == 16);
  // Same connection still usable.
  REQUIRE(send_all(fd, req));
  REQUIRE(read_until(fd, "Hello, World!", 2000ms).find("200 OK") != std::string::npos);
  ::close(fd);
  REQUIRE(srv.stop() == 0);
}

TEST_CASE("a pipeline deeper than max_pipeline is answered in full, sync and async",
          "[server][pipeline]") {
  // The session stops parsing at cfg.max_pipeline requests in flight and must
  // pick the unparsed rest up again once answers go out, whether the
  // handlers finished inside the read (sync) or later (coroutines).
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 1;
  cfg.max_pipeline = 8;
  test_net::running_app srv(app, cfg);
  auto run = [&](std::string_view path, std::string_view marker, int n) {
    int fd = connect_to(srv.port());
    REQUIRE(fd >= 0);
    std::string batch;
    for (int i = 0; i < n; ++i)
      batch += "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(send_all(fd, batch));
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (count(got, marker) < static_cast<std::size_t>(n) &&
           std::chrono::steady_clock::now() < deadline)
      got += read_until(fd, std::string(marker), 200ms);
    CHECK(count(got, "HTTP/1.1 200 OK") == static_cast<std::size_t>(n));
    // The connection is still in sync afterwards.
    REQUIRE(send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(read_until(fd, "Hello, World!", 2000ms).find("200 OK") != std::string::npos);
    ::close(fd);
  };
  SECTION("sync handlers, 1,000 requests in one write") {
    run("/plaintext", "Hello, World!", 1000);
  }
  SECTION("coroutine handlers, 100 requests in one write") {
    run("/tick", "tock", 100);
  }
  REQUIRE(srv.stop() == 0);
}

TEST_CASE("app::on_loop_start runs once per worker on its thread; app::every repeats on worker 0",
          "[server]") {
  fastjson::app app;
  std::mutex mu;
  std::vector<unsigned> started;
  std::vector<std::thread::id> start_threads;
  bool current_ok = true;
  app.on_loop_start([&](fastjson::loop& l, unsigned index) {
    std::lock_guard lock(mu);
    started.push_back(index);
    start_threads.push_back(std::this_thread::get_id());
    if (fastjson::loop::current() != &l) current_ok = false;
  });
  // A hook that throws is reported and does not stop the worker.
  app.on_loop_start([](fastjson::loop&, unsigned) { throw std::runtime_error("hook failure"); });
  std::atomic<int> ticks{0}, throws{0};
  std::atomic<bool> ran_on_worker0{true};
  app.every(std::chrono::milliseconds(20), [&] {
    {
      std::lock_guard lock(mu);
      for (std::size_t i = 0; i < started.size(); ++i)
        if (started[i] == 0 && start_threads[i] != std::this_thread::get_id()) ran_on_worker0 = false;
    }
    if (++ticks % 3 == 0) {
      ++throws;
      throw std::runtime_error("a failing tick");  // the next tick still comes
    }
  });
  app.get("/", [](fastjson::request&, fastjson::response& res) { res.text("ok"); });
  REQUIRE_THROWS_AS(app.every(std::chrono::milliseconds(0), [] {}), std::invalid_argument);
  fastjson::config cfg;
  cfg.threads = 3;
  int after_stop = 0;
  {
    test_net::running_app run(app, cfg);
    int fd = test_net::connect_to(run.port());
    REQUIRE(fd >= 0);
    REQUIRE(test_net::send_all(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    REQUIRE(test_net::read_until(fd, "ok", 5s).find("200 OK") != std::string::npos);
    ::close(fd);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (ticks < 7 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    REQUIRE(run.stop() == 0);
    after_stop = ticks.load();
  }
  std::this_thread::sleep_for(100ms);
  REQUIRE(ticks == after_stop);  // no tick once run() has returned
  REQUIRE(ticks >= 7);
  REQUIRE(throws >= 2);
  REQUIRE(ran_on_worker0);
  std::lock_guard lock(mu);
  std::sort(started.begin(), started.end());
  REQUIRE(started == std::vector<unsigned>{0, 1, 2});
  std::sort(start_threads.begin(), start_threads.end());
  REQUIRE(std::adjacent_find(start_threads.begin(), start_threads.end()) == start_threads.end());
  REQUIRE(current_ok);
  // Hooks are for run() only, and must come before it.
  REQUIRE_THROWS_AS(app.on_loop_start([](fastjson::loop&, unsigned) {}), std::logic_error);
}

TEST_CASE("header timeout cuts off a slowloris client", "[server][timeout]") {
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 1;
  cfg.header_timeout_ms = 300;
  test_net::running_app srv(app, cfg);
  int fd = connect_to(srv.port());
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Slow: "));
  bool closed = false;
  // Keep trickling bytes: the deadline counts from the first byte, so
  // trickling does not extend it.
  for (int i = 0; i < 10 && !closed; ++i) {
    send_all(fd, "a");
    read_until_close(fd, 100ms, &closed);
  }
  if (!closed) read_until_close(fd, 2000ms, &closed);
  REQUIRE(closed);
  REQUIRE(std::chrono::steady_clock::now() - t0 < 3s);
  ::close(fd);
}

TEST_CASE("idle keep-alive connections are closed after the idle timeout", "[server][timeout]") {
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 1;
  cfg.idle_timeout_ms = 300;
  test_net::running_app srv(app, cfg);
  int fd = connect_to(srv.port());
  REQUIRE(send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"));
  REQUIRE(read_until(fd, "Hello", 2000ms).find("200") != std::string::npos);
  bool closed = false;
  read_until_close(fd, 3000ms, &closed);
  REQUIRE(closed);
  ::close(fd);
}

TEST_CASE("graceful shutdown finishes in-flight requests and closes idle ones",
          "[server][shutdown]") {
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 1;
  test_net::running_app srv(app, cfg);
  int busy = connect_to(srv.port());
  int idle = connect_to(srv.port());
  REQUIRE(send_all(idle, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"));
  REQUIRE(read_until(idle, "Hello", 2000ms).find("200") != std::string::npos);
  REQUIRE(send_all(busy, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(50ms);
  std::atomic<int> code{-1};
  std::thread stopper([&] { code = srv.stop(); });
  bool idle_closed = false;
  read_until_close(idle, 2000ms, &idle_closed);
  REQUIRE(idle_closed);
  bool busy_closed = false;
  std::string got = read_until_close(busy, 3000ms, &busy_closed);
  REQUIRE(got.find("200 OK") != std::string::npos);
  REQUIRE(got.find("Connection: close") != std::string::npos);
  REQUIRE(got.find("done") != std::string::npos);
  REQUIRE(busy_closed);
  stopper.join();
  REQUIRE(code == 0);
  // No longer accepting.
  int late = connect_to(srv.port());
  if (late >= 0) {
    bool closed = false;
    send_all(late, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r = read_until_close(late, 500ms, &closed);
    REQUIRE(r.find("200") == std::string::npos);
    ::close(late);
  }
  ::close(idle);
  ::close(busy);
}

namespace {
std::atomic<int> live_states{0};
struct counted_state {
  std::string held = std::string(64, 'x');  // heap memory LSan would report if leaked
  counted_state() { ++live_states; }
  ~counted_state() { --live_states; }
};
struct counting_mw : fastjson::middleware_with_state<counted_state> {
  bool before(fastjson::request&, fastjson::response&, counted_state&) override { return true; }
};
}  // namespace

TEST_CASE("shutdown deadline ends handlers that never finish", "[server][shutdown]") {
  fastjson::app app;
  live_states = 0;
  app.use(std::make_shared<counting_mw>());
  app.get("/forever", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 60s);
    res.text("late");
  });
  fastjson::config cfg;
  cfg.threads = 1;
  cfg.shutdown_timeout_ms = 300;
  test_net::running_app srv(app, cfg);
  int fd = connect_to(srv.port());
  REQUIRE(send_all(fd, "GET /forever HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(srv.stop() == 0);
  REQUIRE(std::chrono::steady_clock::now() - t0 < 3s);
  // The abandoned request's middleware state was destroyed, not leaked.
  CHECK(live_states == 0);
  ::close(fd);
}

TEST_CASE("an error response is delivered before the close (lingering close)", "[server][limits]") {
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 1;
  cfg.max_body_bytes = 1024;
  test_net::running_app srv(app, cfg);
  int fd = connect_to(srv.port());
  // The client keeps sending a body the server refuses; it must still see
  // the 413 rather than a connection reset.
  std::string head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4000000\r\n\r\n";
  send_all(fd, head);
  std::string chunk(256 * 1024, 'x');
  for (int i = 0; i < 4; ++i) send_all(fd, chunk);
  bool closed = false;
  std::string got = read_until_close(fd, 5000ms, &closed);
  REQUIRE(got.find("413") != std::string::npos);
  REQUIRE(got.find("application/problem+json") != std::string::npos);
  ::close(fd);
}

TEST_CASE("resets, half-closes and mid-pipeline disconnects leak nothing", "[server][churn]") {
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 1;
  test_net::running_app srv(app, cfg);
  std::size_t before = count_fds();
  for (int i = 0; i < 300; ++i) {
    int fd = connect_to(srv.port());
    REQUIRE(fd >= 0);
    switch (i % 3) {
      case 0: {  // reset mid-pipeline, with a slow request in flight
        send_all(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /plai");
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(fd);
        break;
      }
      case 1: {  // half-close after a full request: the answer still comes
        send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
        ::shutdown(fd, SHUT_WR);
        bool closed = false;
        auto got = read_until_close(fd, 2000ms, &closed);
        REQUIRE(got.find("Hello, World!") != std::string::npos);
        ::close(fd);
        break;
      }
      default:  // connect and vanish
        ::close(fd);
    }
  }
  // The server still serves, and released every connection.
  std::this_thread::sleep_for(600ms);
  int fd = connect_to(srv.port());
  send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(read_until(fd, "Hello", 2000ms).find("200") != std::string::npos);
  ::close(fd);
  std::this_thread::sleep_for(100ms);
  REQUIRE(count_fds() <= before + 1);
}

TEST_CASE("beyond --max-connections new connections get 503 and are closed", "[server][limits]") {
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 1;
  cfg.max_connections = 4;
  test_net::running_app srv(app, cfg);
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) {
    int fd = connect_to(srv.port());
    send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(read_until(fd, "Hello", 2000ms).find("200") != std::string::npos);
    held.push_back(fd);
  }
  int extra = connect_to(srv.port());
  bool closed = false;
  std::string got = read_until_close(extra, 2000ms, &closed);
  REQUIRE(got.find("503") != std::string::npos);
  REQUIRE(closed);
  ::close(extra);
  for (int fd : held) ::close(fd);
  std::this_thread::sleep_for(200ms);
  int again = connect_to(srv.port());
  send_all(again, "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(read_until(again, "Hello", 2000ms).find("200") != std::string::npos);
  ::close(again);
}

TEST_CASE("the hello example prints its URL, serves, and exits 0 on SIGTERM", "[server][example]") {
  std::string bin = std::string(FASTJSON_BINARY_DIR) + "/examples/hello/fastjson-hello";
  if (::access(bin.c_str(), X_OK) != 0) {
    WARN("examples not built; skipping");
    return;
  }
  int out[2];
  REQUIRE(::pipe(out) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  const char* argv[] = {bin.c_str(), "--port", "0", "--threads", "1", nullptr};
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, bin.c_str(), &fa, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(spawned == 0);
  ::close(out[1]);
  struct reaper {  // never leave the child behind, even when a REQUIRE fails
    pid_t pid;
    ~reaper() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } guard{pid};
  std::string line = read_until(out[0], "\n", 5000ms);
  auto at = line.find("http://127.0.0.1:");
  REQUIRE(at != std::string::npos);
  auto port = static_cast<std::uint16_t>(std::stoi(line.substr(at + 17)));
  int fd = connect_to(port);
  send_all(fd, "GET /json HTTP/1.1\r\nHost: t\r\n\r\n");
  auto got = read_until(fd, "}", 2000ms);
  REQUIRE(got.find(R"({"message":"Hello, World!"})") != std::string::npos);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  guard.pid = 0;
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  ::close(fd);
  ::close(out[0]);
}

TEST_CASE("a half-closed client still gets every pipelined response", "[server][churn]") {
  fastjson::app app;
  routes(app);
  fastjson::config cfg;
  cfg.threads = 1;
  test_net::running_app srv(app, cfg);
  int fd = connect_to(srv.port());
  REQUIRE(send_all(
      fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ::shutdown(fd, SHUT_WR);
  bool closed = false;
  std::string got = read_until_close(fd, 5000ms, &closed);
  REQUIRE(count(got, "HTTP/1.1 200 OK") == 3);
  REQUIRE(count(got, "done") == 2);
  REQUIRE(closed);
  ::close(fd);
}

TEST_CASE("a problem from a suspended handler names its own path after the read buffer was reused", "[server]") {
  // The loop-wide read buffer serves every connection; a coroutine handler
  // outlives it, so the request's views (and the problem's `instance`) must
  // have moved to the request's own copy.
  fastjson::app app;
  app.get("/slow/:name", [](fastjson::request& req, fastjson::response&) -> fastjson::task<> {
    co_await fastjson::sleep(req.loop(), 100ms);
    throw fastjson::http_error(409, "conflict");
  });
  app.get("/fast/:name", [](fastjson::request&, fastjson::response& res) { res.text("ok"); });
  fastjson::config cfg;
  cfg.threads = 1;
  test_net::running_app srv(app, cfg);
  int slow = connect_to(srv.port());
  REQUIRE(send_all(slow, "GET /slow/first-request-path HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(20ms);
  // Other requests overwrite the shared read buffer meanwhile.
  for (int i = 0; i < 5; ++i) {
    int fast = connect_to(srv.port());
    REQUIRE(send_all(fast, "GET /fast/XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    REQUIRE(read_until_close(fast, 2000ms).find("200 OK") != std::string::npos);
    ::close(fast);
  }
  std::string got = read_until(slow, "}", 3000ms);
  INFO(got);
  CHECK(got.find("409") != std::string::npos);
  CHECK(got.find(R"("instance":"/slow/first-request-path")") != std::string::npos);
  ::close(slow);
}
