// fastjson-cache: a standalone HTTP cache server on fastjson::cache.
//
//   PUT    /v1/cache/{key}[?ttl=SECONDS]  body = value  -> 201 new, 204 replaced
//   GET    /v1/cache/{key}   -> 200 value (stored Content-Type, ETag; If-None-Match -> 304), 404
//   HEAD   /v1/cache/{key}   -> same headers, no body
//   DELETE /v1/cache/{key}   -> 204, 404
//   GET    /v1/stats         -> {"items","bytes","max_bytes","hits","misses","evictions","expired","policy"}
//
// Keys: 1-250 bytes of [A-Za-z0-9._~-] (after percent-decoding); anything
// else is 400. A value longer than --max-value-bytes is 413. `ttl=0` or no
// ttl: the entry never expires (it can still be evicted). Errors are
// application/problem+json.
//
// One sharded_cache is shared by every worker thread. Memory is bounded by
// --max-bytes (entry charges include per-entry overhead; see docs/CACHE.md).
// Expired entries are reclaimed lazily (a GET never returns one), before any
// live entry is evicted, by a small sweep after every PUT, by a periodic sweep
// (app::every, 250 ms, up to 2000 entries a tick, on worker 0), and by a full
// sweep on GET /v1/stats (so its numbers are current).
//
// Run: fastjson-cache --port 8080 --max-bytes 268435456 --policy s3fifo
#include <fastjson/cache.h>
#include <fastjson/fastjson.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace fc = fastjson::cache;

namespace {

constexpr std::size_t max_key_bytes = 250;
constexpr std::size_t sweep_per_put = 16;
constexpr std::chrono::milliseconds sweep_period{250};
constexpr std::size_t sweep_per_tick = 2000;  // ~0.2-0.4 ms at most, on one loop
constexpr std::string_view default_content_type = "application/octet-stream";

// Gives the heap's free pages back to the OS after every `every` bytes of
// stored values: evicted entries leave free space scattered through glibc's
// heap, which free() returns only from the top, so without this the RSS of a
// cache that keeps replacing large values drifts several MiB above max-bytes
// (docs/CACHE.md).
class heap_trimmer {
 public:
  explicit heap_trimmer(std::size_t every) : every_(every) {}
  void stored(std::size_t n) {
#if defined(__GLIBC__)
    if (written_.fetch_add(n, std::memory_order_relaxed) + n < every_) return;
    if (written_.exchange(0, std::memory_order_relaxed) < every_) return;  // another thread trims
    malloc_trim(0);
#else
    (void)n;
#endif
  }

 private:
  std::size_t every_;
  std::atomic<std::size_t> written_{0};
};

bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > max_key_bytes) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '-';
  });
}

// The key, or a 400 already sent (nullopt).
std::optional<std::string_view> key_of(fastjson::request& req, fastjson::response& res) {
  std::string_view k = req.param("key");
  if (valid_key(k)) return k;
  res.problem(400, "keys are 1-250 characters of A-Z a-z 0-9 . _ ~ -");
  return std::nullopt;
}

// If-None-Match (weak comparison), as in mw::response_cache.
bool etag_matches(std::string_view list, std::string_view etag) {
  auto opaque = [](std::string_view t) { return t.substr(0, 2) == "W/" ? t.substr(2) : t; };
  while (!list.empty()) {
    std::size_t c = list.find(',');
    std::string_view t = list.substr(0, c);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (t == "*" || (!t.empty() && opaque(t) == opaque(etag))) return true;
    if (c == std::string_view::npos) break;
    list.remove_prefix(c + 1);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // One malloc arena for the whole process. With glibc's default of one arena
  // per thread, entries put by one worker and evicted by the next leave each
  // arena's heap holding free space up to the whole cache's size: a 64 MiB
  // cache filled with random 1-20000-byte values from two threads grew the RSS
  // by ~105 MiB, against ~67 MiB with one arena (docs/CACHE.md, "Memory
  // and the allocator"). The request
  // path allocates nothing in steady state, so the shared arena's lock is
  // taken only by PUTs (the entry and the body buffer).
  mallopt(M_ARENA_MAX, 1);
#endif
  std::int64_t max_bytes = std::int64_t{64} << 20;
  std::int64_t max_value_bytes = std::int64_t{1} << 20;
  std::string policy_name = "s3fifo";
  fastjson::flags flags("fastjson-cache", "An HTTP key-value cache server (byte-bounded, TTLs, LRU or S3-FIFO).");
  flags.add("max-bytes", max_bytes, "bound on cached bytes, per-entry overhead included");
  flags.add("max-value-bytes", max_value_bytes, "largest value accepted (larger PUTs get 413)");
  flags.add("policy", policy_name, "eviction policy: lru or s3fifo");
  fastjson::config cfg = flags.parse(argc, argv);

  fc::eviction_policy policy;
  if (policy_name == "lru") {
    policy = fc::eviction_policy::lru;
  } else if (policy_name == "s3fifo") {
    policy = fc::eviction_policy::s3fifo;
  } else {
    std::fprintf(stderr, "fastjson-cache: --policy must be lru or s3fifo, not '%s'\n", policy_name.c_str());
    return 2;
  }
  if (max_bytes <= 0 || max_value_bytes <= 0) {
    std::fprintf(stderr, "fastjson-cache: --max-bytes and --max-value-bytes must be positive\n");
    return 2;
  }
  // Bodies up to max-value-bytes + 1 reach the PUT route, so an oversized
  // value gets this program's 413 (larger ones get the server's own 413).
  cfg.max_body_bytes = std::max<std::size_t>(cfg.max_body_bytes, static_cast<std::size_t>(max_value_bytes) + 1);

  // Each shard holds max_bytes / shards, and an entry must fit one shard:
  // use fewer shards when the largest value is big relative to the bound.
  const auto total = static_cast<std::size_t>(max_bytes);
  const auto largest = fc::estimate_charge(max_key_bytes, static_cast<std::size_t>(max_value_bytes), 128, 18, true);
  const std::size_t shards = std::clamp<std::size_t>(total / largest, 1, 16);
  fc::sharded_cache cache({.max_bytes = total,
                           .max_value_bytes = static_cast<std::size_t>(max_value_bytes),
                           .policy = policy,
                           .shards = shards});

  // Trim after every max-bytes of stored values (at least 4 MiB): ~1 ms of
  // malloc_trim per max-bytes written, nothing for GETs.
  heap_trimmer trimmer(std::max<std::size_t>(total, std::size_t{4} << 20));

  fastjson::app app;
  if (cfg.access_log) app.use(fastjson::mw::access_log());
  // Expired entries give their memory back even when no PUT comes.
  app.every(sweep_period, [&cache] { cache.sweep(sweep_per_tick); });

  app.put("/v1/cache/*key", [&](fastjson::request& req, fastjson::response& res) {
    auto key = key_of(req, res);
    if (!key) return;
    std::optional<fc::duration> ttl = fc::duration::zero();
    if (auto t = req.query("ttl")) {
      std::uint64_t secs = 0;
      auto [p, ec] = std::from_chars(t->data(), t->data() + t->size(), secs);
      if (t->empty() || ec != std::errc() || p != t->data() + t->size() || secs > (std::uint64_t{1} << 40))
        return res.problem(400, "ttl must be a non-negative integer (seconds)");
      ttl = std::chrono::seconds(secs);
    }
    if (req.body().size() > static_cast<std::size_t>(max_value_bytes))
      return res.problem(413, fmt::format("values are at most {} bytes", max_value_bytes));
    std::string_view ct = req.header("content-type").value_or(default_content_type);
    if (ct.size() > 1024) return res.problem(400, "the Content-Type is too long");
    const fc::time_point now = cache.now();
    fc::put_result r = cache.put(*key, req.body(), {.content_type = ct, .ttl = ttl}, now);
    cache.sweep(now, sweep_per_put);
    if (r != fc::put_result::too_large) trimmer.stored(req.body().size() + key->size());
    switch (r) {
      case fc::put_result::inserted:
        res.header("Location", req.path());
        return res.no_content(201);
      case fc::put_result::replaced:
        return res.no_content(204);
      case fc::put_result::too_large:
        return res.problem(413, "the value does not fit in the cache");
    }
  });

  // Also answers HEAD (the router maps HEAD to GET; the body is not sent).
  app.get("/v1/cache/*key", [&](fastjson::request& req, fastjson::response& res) {
    auto key = key_of(req, res);
    if (!key) return;
    // The shard lock is held only inside get(); the bytes are copied into the
    // response after it is released, and stay alive while `e` does.
    fc::entry_ptr e = cache.get(*key);
    if (!e) return res.problem(404, "no such key");
    res.header("ETag", e->etag());
    if (auto inm = req.header("if-none-match"); inm && etag_matches(*inm, e->etag())) return res.no_content(304);
    res.send(e->value(), e->content_type().empty() ? default_content_type : e->content_type());
  });

  app.del("/v1/cache/*key", [&](fastjson::request& req, fastjson::response& res) {
    auto key = key_of(req, res);
    if (!key) return;
    if (!cache.erase(*key)) return res.problem(404, "no such key");
    res.no_content(204);
  });

  app.get("/v1/stats", [&](fastjson::request&, fastjson::response& res) {
    cache.sweep(SIZE_MAX);
    fc::cache_stats s = cache.stats();
    res.raw_json(fmt::format(
        R"({{"items":{},"bytes":{},"max_bytes":{},"hits":{},"misses":{},"evictions":{},"expired":{},"policy":"{}"}})",
        s.items, s.bytes, cache.max_bytes(), s.hits, s.misses, s.evictions, s.expirations, cache.policy()));
  });

  return app.run(cfg);
}
