// A full in-process request: `GET /json` parsed by the real session (llhttp),
// routed, run through three middlewares (request_id, a middleware_with_state
// timer, cors with an allowed origin), answered with res.json and serialized
// into the output buffer. No sockets: a minimal in-memory session subclass
// of fastjson::detail::session (the same half of a connection the network
// path uses), so only the server side is measured; the test client's own
// response parsing is not.
//
// Reported:
//   ns_per_request      time per request (kIsRate|kInvert counter)
//   allocs_per_request  heap allocations per request in steady state
//                       (global operator new is replaced below; target 0)
//
// FASTJSON_BENCH_TRACE=N prints a backtrace (glibc backtrace()) for the
// first N allocations made inside the measured loop, to find where they
// come from.
//
//   ./build-rt/benchmarks/request_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <execinfo.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "app_core.h"
#include "fastjson/app.h"
#include "fastjson/json/reflect.h"
#include "fastjson/mw/builtin.h"
#include "http/session.h"
#include "net/loop_impl.h"

// --- allocation counting (with optional backtraces) -------------------------

namespace {
std::size_t g_allocs = 0;   // the benchmark runs on one thread
bool g_tracing = false;     // inside the measured loop
long g_trace_left = 0;      // backtraces still to print
thread_local bool g_in_trace = false;

void maybe_trace(std::size_t n) {
  if (!g_tracing || g_trace_left <= 0 || g_in_trace) return;
  g_in_trace = true;
  --g_trace_left;
  char head[64];
  int len = std::snprintf(head, sizeof head, "--- allocation of %zu bytes:\n", n);
  ssize_t w = ::write(2, head, static_cast<std::size_t>(len));
  (void)w;
  void* frames[32];
  int k = backtrace(frames, 32);
  backtrace_symbols_fd(frames, k, 2);
  g_in_trace = false;
}
}  // namespace

void* operator new(std::size_t n) {
  ++g_allocs;
  maybe_trace(n);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocs;
  maybe_trace(n);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

// --- the app -------------------------------------------------------------------

namespace bench {
struct message {
  std::string message;
};
FASTJSON_REFLECT(message, message)
}  // namespace bench

namespace {

// Server-Timing from a per-request start time, without allocating.
struct timing_mw : fastjson::middleware_with_state<std::chrono::steady_clock::time_point> {
  bool before(fastjson::request&, fastjson::response&, std::chrono::steady_clock::time_point& t0) override {
    t0 = std::chrono::steady_clock::now();
    return true;
  }
  void after(fastjson::request&, fastjson::response& res, std::chrono::steady_clock::time_point& t0) override {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "app;dur=%lld", static_cast<long long>(us));
    res.header("Server-Timing", std::string_view(buf, static_cast<std::size_t>(n)));
  }
};

// The transport half: output into a buffer that the benchmark clears.
class memory_session final : public fastjson::detail::session {
 public:
  explicit memory_session(fastjson::detail::loop_impl& l) : session(l.app, l.handle, l.pool), loop_(l) {}
  fastjson::buffer& output() override { return out; }
  void flush() override {}
  void close_after_flush(bool) override { closed = true; }
  void set_wait_state(fastjson::detail::wait_state) override {}
  void pause_reading() override {}
  void resume_reading() override {}
  std::string_view date_line() override {
    loop_.update_date();
    return {loop_.date, loop_.date_len};
  }
  std::string_view peer_address() override { return "127.0.0.1"; }

  fastjson::buffer out;
  bool closed = false;

 private:
  fastjson::detail::loop_impl& loop_;
};

// A frozen app's loop on this thread and one in-memory connection to it.
struct bench_server {
  explicit bench_server(fastjson::app& app) : loop((app.core().freeze(), app.core())), scope(loop), session(loop) {
    session.out.reserve(64 * 1024);
  }
  fastjson::detail::loop_impl loop;
  fastjson::detail::current_scope scope;
  memory_session session;
};

// An API client's request (four short headers).
constexpr std::string_view api_request =
    "GET /json HTTP/1.1\r\n"
    "Host: bench.local\r\n"
    "User-Agent: request_bench\r\n"
    "Accept: application/json\r\n"
    "Origin: https://good.example\r\n"
    "\r\n";

// A browser's request: a dozen headers, ~700 bytes, most of them in long
// values (what llhttp's header-value scanning spends its time on).
constexpr std::string_view browser_request =
    "GET /json HTTP/1.1\r\n"
    "Host: bench.local\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7\r\n"
    "Cache-Control: max-age=0\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=3f9a1c2b7d4e5f60718293a4b5c6d7e8; theme=dark; _ga=GA1.1.1234567890.1700000000\r\n"
    "Origin: https://good.example\r\n"
    "Referer: https://good.example/dashboard/overview?tab=activity\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: cors\r\n"
    "Sec-Fetch-Site: same-site\r\n"
    "\r\n";

// A coroutine handler: the same answer from a `task<>` (its frame is
// allocated and freed per request; the runtime recycles frames per thread).
fastjson::task<> json_coroutine(fastjson::request&, fastjson::response& res) {
  res.json(bench::message{"Hello, World!"});
  co_return;
}

void bm_inprocess_json(benchmark::State& state, std::string_view request_bytes, bool coroutine = false) {
  fastjson::app app;
  app.use(fastjson::mw::request_id());
  app.use(std::make_shared<timing_mw>());
  app.use(fastjson::mw::cors({.origins = {"https://good.example"}}));
  if (coroutine)
    app.get("/json", json_coroutine);
  else
    app.get("/json", [](fastjson::request&, fastjson::response& res) { res.json(bench::message{"Hello, World!"}); });
  bench_server srv(app);
  auto& loop = srv.loop;
  auto& session = srv.session;

  // The read buffer, with the padding the parser relies on.
  std::string in(request_bytes);
  in.append(fastjson::request::body_padding, '\0');

  auto one = [&] {
    session.on_read(in.data(), request_bytes.size());
    loop.run_deferred();  // a coroutine handler finishes on the loop's next turn
    session.out.clear();
  };
  // Warm up: pools, arenas, buffers reach their steady size; check the answer.
  std::size_t first_allocs = g_allocs;
  session.on_read(in.data(), request_bytes.size());
  loop.run_deferred();
  first_allocs = g_allocs - first_allocs;  // a cold slot, arena, buffers: shows the counter works
  std::string first = session.out.str();
  session.out.clear();
  if (first.find("HTTP/1.1 200 OK") != 0 || first.find("Access-Control-Allow-Origin: https://good.example") ==
                                                std::string::npos ||
      first.find("Server-Timing: app;dur=") == std::string::npos ||
      first.find("{\"message\":\"Hello, World!\"}") == std::string::npos) {
    state.SkipWithError(("unexpected response: " + first).c_str());
    return;
  }
  for (int i = 0; i < 100; ++i) one();

  const char* trace = std::getenv("FASTJSON_BENCH_TRACE");
  g_trace_left = trace ? std::atol(trace) : 0;
  std::size_t allocs_before = g_allocs;
  g_tracing = true;
  for (auto _ : state) one();
  g_tracing = false;
  std::size_t allocs = g_allocs - allocs_before;

  state.SetItemsProcessed(state.iterations());
  state.counters["ns_per_request"] =
      benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_request"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(state.iterations()));
  state.counters["first_request_allocs"] = benchmark::Counter(static_cast<double>(first_allocs));
  if (session.closed) state.SkipWithError("the session closed the connection");
}

// TechEmpower's pipelined plaintext as wrk sends it: 16 copies of a
// two-line request in one read, answered by a bare app (no middleware, the
// examples/hello route). Counters are per request, not per read.
void bm_inprocess_plaintext_pipelined(benchmark::State& state) {
  constexpr int depth = 16;
  fastjson::app app;
  app.get("/plaintext", [](fastjson::request&, fastjson::response& res) { res.text("Hello, World!"); });
  bench_server srv(app);
  auto& session = srv.session;

  std::string in;
  for (int i = 0; i < depth; ++i) in += "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
  const std::size_t len = in.size();
  in.append(fastjson::request::body_padding, '\0');

  auto one = [&] {
    session.on_read(in.data(), len);
    session.out.clear();
  };
  session.on_read(in.data(), len);
  std::string first = session.out.str();
  session.out.clear();
  std::size_t answers = 0;
  for (std::size_t at = first.find("HTTP/1.1 200 OK\r\n"); at != std::string::npos;
       at = first.find("HTTP/1.1 200 OK\r\n", at + 1))
    ++answers;
  if (answers != depth || first.find("\r\n\r\nHello, World!") == std::string::npos) {
    state.SkipWithError(("unexpected response: " + first).c_str());
    return;
  }
  for (int i = 0; i < 100; ++i) one();

  std::size_t allocs_before = g_allocs;
  for (auto _ : state) one();
  std::size_t allocs = g_allocs - allocs_before;

  state.SetItemsProcessed(state.iterations() * depth);
  state.counters["ns_per_request"] = benchmark::Counter(
      depth, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_request"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(state.iterations() * depth));
  if (session.closed) state.SkipWithError("the session closed the connection");
}

}  // namespace

BENCHMARK(bm_inprocess_plaintext_pipelined)->Name("BM_inprocess_plaintext/pipelined16");
BENCHMARK_CAPTURE(bm_inprocess_json, api, api_request)->Name("BM_inprocess_json");
BENCHMARK_CAPTURE(bm_inprocess_json, browser, browser_request)->Name("BM_inprocess_json/browser");
BENCHMARK_CAPTURE(bm_inprocess_json, coroutine, api_request, true)->Name("BM_inprocess_json/coroutine");

BENCHMARK_MAIN();
