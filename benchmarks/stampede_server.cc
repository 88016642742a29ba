// A cache stampede on mw::response_cache: routes whose entries expire every
// `--ttl-s` seconds, behind a handler that takes `--handler-ms` (a stand-in
// for a database query). `GET /item/{id}` is cached; `GET /calls` (never
// cached) says how many times the handler ran. `--no-coalesce` turns
// request coalescing off, to compare. Driven by benchmarks/stampede.sh.
#include <fastjson/fastjson.h>
#include <fastjson/mw/response_cache.h>

#include <atomic>
#include <chrono>
#include <string>

int main(int argc, char** argv) {
  bool no_coalesce = false;
  std::int64_t handler_ms = 5, ttl_s = 1;
  fastjson::flags flags("fastjson-stampede", "mw::response_cache under a stampede of misses");
  flags.add("no-coalesce", no_coalesce, "run every concurrent miss's handler");
  flags.add("handler-ms", handler_ms, "how long the handler takes");
  flags.add("ttl-s", ttl_s, "seconds a response stays fresh");
  fastjson::config cfg = flags.parse(argc, argv);

  static std::atomic<long> calls{0};
  fastjson::app app;
  app.use(fastjson::mw::response_cache({.default_ttl = std::chrono::seconds(ttl_s), .coalesce = !no_coalesce}));
  const auto delay = std::chrono::milliseconds(handler_ms);
  app.get("/item/:id", [delay](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    long n = ++calls;
    co_await fastjson::sleep(req.loop(), delay);
    res.text("item " + std::string(req.param("id")) + ", computed by call " + std::to_string(n));
  });
  app.get("/calls", [](fastjson::request&, fastjson::response& res) {
    res.header("Cache-Control", "no-store");
    res.text(std::to_string(calls.load()));
  });
  return app.run(cfg);
}
