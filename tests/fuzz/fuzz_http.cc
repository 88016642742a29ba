// Fuzzes the HTTP/1.1 connection state machine (llhttp glue, our strictness
// checks, limits, pipelining, in-order output, async completion) through the
// in-process testing client: the real session code, no sockets.
//
// Input: byte 0 is the read size the bytes are split into (0: all at once);
// the rest is what the client sends. A fresh connection per input, so every
// crash reproduces from its file alone. A hang (no response within the
// client's timeout) throws, which libFuzzer reports as a crash.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fastjson/fastjson.h"
#include "fastjson/mw/response_cache.h"
#include "fastjson/testing.h"

namespace {

struct todo {
  std::int64_t id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> due;
};
FASTJSON_REFLECT(todo, id, title, done, due)

fastjson::app& the_app() {
  static fastjson::app* a = [] {
    using namespace std::chrono_literals;
    auto* app = new fastjson::app;
    auto& cfg = app->config();
    // Small limits so the fuzzer reaches 413/414/431 with short inputs.
    cfg.max_body_bytes = 512;
    cfg.max_url_bytes = 256;
    cfg.max_header_bytes = 512;
    cfg.max_headers = 8;
    cfg.max_pipeline = 4;
    app->use(fastjson::mw::request_id());
    app->get("/", [](fastjson::request&, fastjson::response& res) { res.text("root"); });
    app->get("/plaintext", [](fastjson::request&, fastjson::response& res) { res.text("Hello, World!"); });
    app->get("/users/:id", [](fastjson::request& req, fastjson::response& res) {
      auto id = req.param<std::int64_t>("id");
      res.text(std::to_string(id) + std::string(req.query("q").value_or("")));
    });
    app->get("/files/*path", [](fastjson::request& req, fastjson::response& res) { res.text(req.param("path")); });
    app->post("/echo", [](fastjson::request& req, fastjson::response& res) { res.send(req.body(), "text/plain"); });
    app->post("/todos", [](fastjson::request& req, fastjson::response& res) {
      auto r = fastjson::json::read<todo>(req.body());
      if (!r.ok()) return res.problem(fastjson::json::http_status(r.kind()), "bad todo");
      res.status(201).json(r.value());
    });
    app->get("/async", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
      co_await fastjson::sleep(req.loop(), 0ms);
      res.text("later");
    });
    app->post("/async-echo", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
      co_await fastjson::sleep(req.loop(), 1ms);
      res.send(req.body(), "application/octet-stream");
    });
    app->get("/throw", [](fastjson::request&, fastjson::response&) { throw std::runtime_error("boom"); });
    // The response cache: pipelined GETs of one key coalesce behind an
    // async handler (before_async), stale copies are served while one
    // refreshes, unsafe methods invalidate; the query picks the handler's
    // Cache-Control and Vary.
    auto cached = app->group("/cached");
    cached.use(fastjson::mw::response_cache({.max_bytes = 1 << 16, .default_ttl = 1s, .coalesce_timeout = 5ms,
                                             .stale_while_revalidate = 1s}));
    cached.get("/:k", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
      co_await fastjson::sleep(req.loop(), 1ms);
      if (auto cc = req.query("cc")) res.header("Cache-Control", *cc);
      if (auto v = req.query("vary")) res.header("Vary", *v);
      res.text(req.param("k"));
    });
    cached.put("/:k", [](fastjson::request&, fastjson::response& res) { res.no_content(204); });
    auto g = app->group("/api");
    g.use(fastjson::mw::body_limit(64));
    g.put("/items/:a/:b", [](fastjson::request& req, fastjson::response& res) {
      res.header("X-A", req.param("a"));
      res.text(req.body());
    });
    return app;
  }();
  return *a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 8192) return 0;
  std::size_t chunk = data[0] ? data[0] : size;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  fastjson::testing::client client(the_app());
  client.timeout = std::chrono::milliseconds(2000);
  auto rs = client.raw_chunked(bytes, chunk);
  for (auto& r : rs)
    if (r.status < 100 || r.status > 599) std::abort();
  // The connection must still be usable unless the server closed it.
  if (!client.closed()) {
    auto more = client.raw("", 0);
    (void)more;
  }
  return 0;
}
