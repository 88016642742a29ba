#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <deque>

#include "cache/ghost.h"
#include "fastjson/cache.h"

using namespace std::chrono_literals;
namespace fc = fastjson::cache;

namespace {

// A fake clock the caches read through options::clock.
struct fake_clock {
  fc::time_point t = fc::time_point{} + 1000h;
  std::function<fc::time_point()> fn() {
    return [this] { return t; };
  }
};

std::string key_of(int i) { return "key:" + std::to_string(i); }

// The charge of an entry as put() would build it (computed ETag, no type).
std::size_t charge_of(std::string_view key, std::size_t value_size, bool ttl = false) {
  return fc::estimate_charge(key.size(), value_size, 0, 18, ttl);
}

template <class Cache>
void randomized_against_model(Cache& c, fake_clock& clk, std::uint32_t seed,
                              std::size_t too_large) {
  struct model_entry {
    std::string value;
    fc::time_point expires;
  };
  std::map<std::string, model_entry> model;  // the last value put per key
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return int(rng() % std::uint32_t(n)); };
  for (int op = 0; op < 20000; ++op) {
    std::string key = key_of(pick(300));
    int what = pick(100);
    if (what < 40) {
      std::size_t size = pick(50) == 0 ? too_large : std::size_t(pick(700));
      std::string value(size, char('a' + pick(26)));
      std::optional<fc::duration> ttl;
      if (pick(3) == 0) ttl = std::chrono::seconds(1 + pick(50));
      bool was_live = c.peek(key) != nullptr;
      auto r = c.put(key, value, {.content_type = "text/plain", .ttl = ttl});
      if (size == too_large) {
        REQUIRE(r == fc::put_result::too_large);
        REQUIRE_FALSE(c.contains(key));
        model.erase(key);
      } else {
        REQUIRE(r == (was_live ? fc::put_result::replaced : fc::put_result::inserted));
        auto e = c.peek(key);  // just stored: never the victim of its own put
        REQUIRE(e);
        REQUIRE(e->value() == value);
        model[key] = {value, ttl ? clk.t + *ttl : fc::time_point::max()};
      }
    } else if (what < 80) {
      auto e = c.get(key);
      if (e) {
        REQUIRE_FALSE(e->expired(clk.t));
        auto it = model.find(key);
        REQUIRE(it != model.end());
        REQUIRE(it->second.expires > clk.t);
        REQUIRE(e->value() == it->second.value);
        REQUIRE(e->key() == key);
        REQUIRE(e->etag() == fc::make_etag(e->value()));
      }
    } else if (what < 88) {
      bool live = c.peek(key) != nullptr;
      REQUIRE(c.erase(key) == live);
      REQUIRE_FALSE(c.contains(key));
      model.erase(key);
    } else if (what < 96) {
      clk.t += std::chrono::seconds(pick(5));
    } else {
      c.sweep(clk.t, std::size_t(pick(20)));
    }
    auto s = c.stats();
    REQUIRE(s.bytes <= c.max_bytes());
    auto err = c.check_invariants();
    INFO("op " << op << ": " << err);
    REQUIRE(err.empty());
  }
  // Everything the cache still serves is the model's latest, unexpired value.
  std::size_t live = 0;
  for (auto& [k, m] : model) {
    if (auto e = c.peek(k)) {
      ++live;
      REQUIRE(e->value() == m.value);
      REQUIRE(m.expires > clk.t);
    }
  }
  REQUIRE(live <= c.stats().items);
}

}  // namespace

TEST_CASE("cache: randomized ops keep the byte bound and match a model", "[cache]") {
  for (auto policy : {fc::eviction_policy::lru, fc::eviction_policy::s3fifo}) {
    DYNAMIC_SECTION("local " << fc::to_string(policy)) {
      fake_clock clk;
      fc::local_cache c({.max_bytes = 20000, .policy = policy, .clock = clk.fn()});
      randomized_against_model(c, clk, 1, c.max_bytes() + 1);
    }
    DYNAMIC_SECTION("local with count bound " << fc::to_string(policy)) {
      fake_clock clk;
      fc::local_cache c({.max_bytes = 50000, .max_items = 25, .policy = policy,
                         .clock = clk.fn()});
      randomized_against_model(c, clk, 2, c.max_bytes() + 1);
      REQUIRE(c.stats().items <= 25);
    }
    DYNAMIC_SECTION("sharded " << fc::to_string(policy)) {
      fake_clock clk;
      fc::sharded_cache c({.max_bytes = 40000, .policy = policy, .clock = clk.fn(), .shards = 4});
      // A value must fit one shard: "too large" means larger than a shard.
      struct per_shard_view {
        fc::sharded_cache& c;
        std::size_t max_bytes() const { return c.max_bytes(); }
        auto peek(std::string_view k) { return c.peek(k); }
        auto get(std::string_view k) { return c.get(k); }
        bool contains(std::string_view k) { return c.contains(k); }
        auto put(std::string_view k, std::string_view v, const fc::put_options& o) {
          return c.put(k, v, o);
        }
        bool erase(std::string_view k) { return c.erase(k); }
        auto sweep(fc::time_point t, std::size_t b) { return c.sweep(t, b); }
        auto stats() { return c.stats(); }
        auto check_invariants() { return c.check_invariants(); }
      } view{c};
      randomized_against_model(view, clk, 3, c.max_bytes() / c.shards() + 1);
      REQUIRE(c.stats().bytes <= c.max_bytes());
    }
  }
}

TEST_CASE("cache: LRU evicts the least recently used", "[cache]") {
  fc::local_cache c({.max_items = 3, .policy = fc::eviction_policy::lru});
  REQUIRE(c.policy() == "lru");
  c.put("a", "1");
  c.put("b", "2");
  c.put("c", "3");
  REQUIRE(c.get("a"));  // a is now the most recent; b the least
  c.put("d", "4");
  REQUIRE_FALSE(c.contains("b"));
  REQUIRE(c.contains("a"));
  REQUIRE(c.contains("c"));
  REQUIRE(c.contains("d"));
  c.put("e", "5");  // c is the least recent now
  REQUIRE_FALSE(c.contains("c"));
  REQUIRE(c.stats().evictions == 2);
}

TEST_CASE("cache: S3-FIFO keeps a hot set through a scan, LRU does not", "[cache]") {
  auto run = [](fc::eviction_policy p) {
    std::size_t per = charge_of(key_of(0), 100);
    fc::local_cache c({.max_bytes = per * 100, .policy = p});
    std::string v(100, 'x');
    for (int round = 0; round < 3; ++round)
      for (int i = 0; i < 20; ++i)
        if (!c.get(key_of(i))) c.put(key_of(i), v);
    for (int i = 1000; i < 2000; ++i) c.put(key_of(i), v);  // one-time keys
    int survivors = 0;
    for (int i = 0; i < 20; ++i) survivors += c.contains(key_of(i));
    REQUIRE(c.check_invariants().empty());
    return survivors;
  };
  REQUIRE(run(fc::eviction_policy::s3fifo) == 20);
  REQUIRE(run(fc::eviction_policy::lru) == 0);
}

TEST_CASE("cache: S3-FIFO admits a key evicted recently straight to main (ghost)", "[cache]") {
  std::size_t per = charge_of(key_of(0), 100);
  fc::local_cache c({.max_bytes = per * 20});
  REQUIRE(c.policy() == "s3fifo");
  std::string v(100, 'x');
  for (int i = 0; i < 40; ++i) c.put(key_of(i), v);
  REQUIRE_FALSE(c.contains(key_of(0)));
  c.put(key_of(0), v);  // a ghost hit: goes to the main FIFO
  for (int i = 100; i < 200; ++i) c.put(key_of(i), v);  // a scan through the small FIFO
  REQUIRE(c.contains(key_of(0)));
}

TEST_CASE("cache: the S3-FIFO ghost remembers exactly the last window pushes", "[cache]") {
  fc::detail::ghost_table g;
  REQUIRE(g.bytes() == 0);  // nothing allocated before the first push
  REQUIRE_FALSE(g.take(42, 100));
  for (std::uint64_t h = 1; h <= 200; ++h) g.push(h * 7919, 100);
  REQUIRE(g.capacity() == 128);  // a power of two >= the window
  REQUIRE(g.bytes() == 128 * 12);
  REQUIRE_FALSE(g.take(100 * 7919, 100));  // pushed 101st from the end: too old
  REQUIRE(g.take(101 * 7919, 100));        // exactly the window's oldest
  REQUIRE_FALSE(g.take(101 * 7919, 100));  // a hit is consumed
  REQUIRE(g.take(200 * 7919, 100));
  REQUIRE_FALSE(g.take(5 * 7919, 100));    // overwritten in the ring long ago
  // A hash pushed again moves to the newest position.
  g.push(150 * 7919, 100);
  for (std::uint64_t h = 1000; h < 1099; ++h) g.push(h, 100);
  REQUIRE(g.take(150 * 7919, 100));
  // Hash 0 is a valid key hash (its fingerprint is 1, like 1's).
  g.push(0, 100);
  REQUIRE(g.take(0, 100));
  // The window follows the cache's item count; the arrays grow and shrink.
  for (std::uint64_t h = 5000; h < 6000; ++h) g.push(h, 1000);
  REQUIRE(g.capacity() == 1024);
  REQUIRE(g.take(5001, 1000));
  REQUIRE_FALSE(g.take(5002, 10));  // with 10 items, only the last 64 (the minimum window) count
  REQUIRE(g.take(5990, 10));
  g.push(1, 10);  // a window (64 at least) below a quarter of the capacity halves it, twice
  REQUIRE(g.capacity() == 256);
  REQUIRE(g.size() <= 256);
  REQUIRE(g.take(5999, 10));        // the newest survive the rebuild, in order
  g.release();
  REQUIRE(g.bytes() == 0);
  REQUIRE_FALSE(g.take(1, 10));
}

TEST_CASE("cache: the ghost matches an exact FIFO model under random pushes and takes", "[cache]") {
  // The model: every push in order, newest at the back, with the slots of
  // hashes since taken or pushed again marked dead. Age counts pushes, dead
  // or not; a resize keeps the newest live hashes (at most the new capacity)
  // and forgets the dead slots; the ring forgets its oldest slot when full.
  std::mt19937_64 rng(7);
  fc::detail::ghost_table g;
  struct slot {
    std::uint64_t h;
    bool live;
  };
  std::deque<slot> model;
  auto live_at = [&](std::uint64_t h) {
    return std::find_if(model.begin(), model.end(), [&](const slot& s) { return s.live && s.h == h; });
  };
  int hits = 0, resizes = 0;
  for (int op = 0; op < 100000; ++op) {
    // The window wanders like a cache's item count, across several resizes.
    std::size_t window = 40 + static_cast<std::size_t>((op / 5000) % 7) * 150;
    std::uint64_t h = 1 + rng() % 2000;  // a small key space: repeats, hits and misses (0 is 1)
    auto it = live_at(h);
    if (rng() % 3 == 0) {
      bool expect = false;
      if (it != model.end()) {
        std::size_t age = static_cast<std::size_t>(model.end() - it) - 1;
        expect = age < std::max(window, fc::detail::ghost_table::min_window);
        it->live = false;
      }
      REQUIRE(g.take(h, window) == expect);
      hits += expect;
    } else {
      std::size_t cap = g.capacity();
      g.push(h, window);
      if (g.capacity() != cap) {  // rebuilt before the push
        ++resizes;
        std::deque<slot> kept;
        for (const slot& s : model)
          if (s.live) kept.push_back(s);
        while (kept.size() > g.capacity()) kept.pop_front();
        model.swap(kept);
        it = live_at(h);
      }
      if (it != model.end()) it->live = false;
      model.push_back({h, true});
      while (model.size() > g.capacity()) model.pop_front();
    }
    REQUIRE(g.size() <= g.capacity());
  }
  REQUIRE(hits > 1000);
  REQUIRE(resizes >= 6);
}

TEST_CASE("cache: S3-FIFO counts its ghost in the byte bound", "[cache]") {
  // Small values: the ghost remembers about as many keys as the cache holds,
  // 12 bytes a slot, inside max_bytes.
  fc::local_cache c({.max_bytes = 1 << 20});
  std::string v(20, 'v');
  for (int i = 0; i < 100000; ++i) c.put(key_of(i), v);
  auto s = c.stats();
  REQUIRE(s.evictions > 90000);
  REQUIRE(s.bytes <= c.max_bytes());
  REQUIRE(s.bytes > s.items * charge_of(key_of(99999), 20));  // the ghost is in there
  REQUIRE(c.check_invariants().empty());
  // An entry as large as the whole bound still fits: the ghost is given back.
  std::size_t big = c.max_bytes() - charge_of("big", 0) - 64;
  while (charge_of("big", big) > c.max_bytes()) --big;
  REQUIRE(c.put("big", std::string(big, 'b')) == fc::put_result::inserted);
  REQUIRE(c.stats().items == 1);
  REQUIRE(c.stats().bytes == charge_of("big", big));
  REQUIRE(c.check_invariants().empty());
  c.clear();
  REQUIRE(c.stats().bytes == 0);
}

TEST_CASE("cache: the hash table and expiry heap shrink after most entries leave", "[cache]") {
  fake_clock clk;
  fc::local_cache c({.max_bytes = 64 << 20, .clock = clk.fn()});
  for (int i = 0; i < 20000; ++i) c.put(key_of(i), "v", {.ttl = i < 19990 ? 1s : 3600s});
  REQUIRE(c.table_size() >= 20000);
  clk.t += 2s;
  REQUIRE(c.sweep(clk.t, SIZE_MAX) == 19990);  // a sweep that empties most of the cache
  REQUIRE(c.stats().items == 10);
  REQUIRE(c.table_size() <= 64);
  for (int i = 19990; i < 20000; ++i) REQUIRE(c.contains(key_of(i)));
  REQUIRE(c.check_invariants().empty());
  // Erasing does the same; clear() too.
  for (int i = 0; i < 5000; ++i) c.put("e" + std::to_string(i), "v");
  REQUIRE(c.table_size() >= 5000);
  for (int i = 0; i < 5000; ++i) REQUIRE(c.erase("e" + std::to_string(i)));
  REQUIRE(c.table_size() <= 64);
  REQUIRE(c.check_invariants().empty());
  for (int i = 0; i < 5000; ++i) c.put("f" + std::to_string(i), "v");
  c.clear();
  REQUIRE(c.table_size() == 16);
  REQUIRE(c.check_invariants().empty());
  // Evictions that make room for one large entry shrink it as well.
  fc::local_cache small({.max_bytes = 1 << 20});
  for (int i = 0; i < 5000; ++i) small.put(key_of(i), "v");
  REQUIRE(small.table_size() >= 5000);
  REQUIRE(small.put("big", std::string(900 << 10, 'b')) == fc::put_result::inserted);
  REQUIRE(small.stats().items < 1000);
  REQUIRE(small.table_size() < 5000);
  REQUIRE(small.check_invariants().empty());
}

TEST_CASE("cache: TTL expiry with an injected clock", "[cache]") {
  fake_clock clk;
  fc::local_cache c({.default_ttl = 60s, .clock = clk.fn()});
  c.put("short", "v", {.ttl = 10s});
  c.put("default", "v");
  c.put("forever", "v", {.ttl = fc::duration::zero()});
  auto e = c.get("short");
  REQUIRE(e);
  REQUIRE(e->has_ttl());
  REQUIRE(e->expires() == clk.t + 10s);
  REQUIRE(c.get("default")->expires() == clk.t + 60s);
  REQUIRE_FALSE(c.get("forever")->has_ttl());

  clk.t += 9s;
  REQUIRE(c.get("short"));
  REQUIRE(e->age(clk.t) == 9s);
  clk.t += 1s;  // expired at exactly created + ttl
  auto before = c.stats();
  REQUIRE_FALSE(c.get("short"));
  REQUIRE_FALSE(c.contains("short"));
  auto after = c.stats();
  REQUIRE(after.misses == before.misses + 1);
  REQUIRE(after.expirations == before.expirations + 1);
  REQUIRE(after.items == before.items - 1);
  REQUIRE(e->value() == "v");  // the handle taken earlier is still valid

  clk.t += 50s;
  REQUIRE_FALSE(c.contains("default"));
  REQUIRE_FALSE(c.erase("default"));  // expired counts as absent
  REQUIRE(c.put("default", "w") == fc::put_result::inserted);
  clk.t += 1000h;
  REQUIRE(c.get("forever"));
}

TEST_CASE("cache: sweep reclaims expired entries within a budget", "[cache]") {
  fake_clock clk;
  fc::sharded_cache c({.clock = clk.fn(), .shards = 4});
  for (int i = 0; i < 100; ++i) c.put(key_of(i), "v", {.ttl = std::chrono::seconds(1 + i % 5)});
  for (int i = 100; i < 200; ++i) c.put(key_of(i), "v");
  REQUIRE(c.sweep(clk.t, 1000) == 0);
  clk.t += 6s;
  REQUIRE(c.stats().items == 200);  // nothing touched them yet
  REQUIRE(c.sweep(clk.t, 30) == 30);
  REQUIRE(c.stats().items == 170);
  REQUIRE(c.sweep(clk.t, 1000) == 70);
  auto s = c.stats();
  REQUIRE(s.items == 100);
  REQUIRE(s.expirations == 100);
  REQUIRE(s.evictions == 0);
  REQUIRE(s.bytes == 100 * charge_of(key_of(100), 1));
  REQUIRE(c.check_invariants().empty());
}

TEST_CASE("cache: sweep reclaims earliest expiry first", "[cache]") {
  fake_clock clk;
  fc::local_cache c({.clock = clk.fn()});
  c.put("late", "v", {.ttl = 20s});
  c.put("early", "v", {.ttl = 5s});
  c.put("mid", "v", {.ttl = 10s});
  clk.t += 12s;
  REQUIRE(c.sweep(1) == 1);
  REQUIRE(c.stats().items == 2);
  REQUIRE(c.sweep(100) == 1);
  REQUIRE(c.contains("late"));
  REQUIRE(c.stats().items == 1);
}

TEST_CASE("cache: count bound", "[cache]") {
  for (auto policy : {fc::eviction_policy::lru, fc::eviction_policy::s3fifo}) {
    fc::local_cache c({.max_items = 10, .policy = policy});
    for (int i = 0; i < 100; ++i) c.put(key_of(i), "value");
    REQUIRE(c.stats().items == 10);
    REQUIRE(c.stats().evictions == 90);
    REQUIRE(c.contains(key_of(99)));
  }
  fc::sharded_cache s({.max_items = 64, .shards = 8});
  for (int i = 0; i < 1000; ++i) s.put(key_of(i), "value");
  REQUIRE(s.stats().items <= 64);
}

TEST_CASE("cache: oversized values are rejected without evicting", "[cache]") {
  fc::local_cache c({.max_bytes = 4096, .max_value_bytes = 1000});
  for (int i = 0; i < 5; ++i) c.put(key_of(i), "small");
  auto before = c.stats();
  REQUIRE(c.put("big", std::string(1001, 'x')) == fc::put_result::too_large);
  REQUIRE(c.put("big", std::string(1000, 'x')) == fc::put_result::inserted);
  REQUIRE(c.stats().items == 6);

  fc::local_cache d({.max_bytes = 4096});
  for (int i = 0; i < 5; ++i) d.put(key_of(i), "small");
  REQUIRE(d.put("huge", std::string(4096, 'x')) == fc::put_result::too_large);
  REQUIRE(d.stats().items == 5);
  REQUIRE(d.stats().evictions == 0);
  REQUIRE(d.stats().rejections == 1);
  // A rejected replacement removes the stale previous value.
  REQUIRE(d.put(key_of(0), std::string(5000, 'x')) == fc::put_result::too_large);
  REQUIRE_FALSE(d.contains(key_of(0)));
  (void)before;
}

TEST_CASE("cache: replace updates bytes and keeps one entry", "[cache]") {
  fc::local_cache c;
  REQUIRE(c.put("k", std::string(100, 'a')) == fc::put_result::inserted);
  REQUIRE(c.stats().bytes == charge_of("k", 100));
  auto old = c.get("k");
  REQUIRE(c.put("k", std::string(1000, 'b')) == fc::put_result::replaced);
  auto s = c.stats();
  REQUIRE(s.items == 1);
  REQUIRE(s.bytes == charge_of("k", 1000));
  REQUIRE(s.inserts == 1);
  REQUIRE(s.replaces == 1);
  REQUIRE(c.get("k")->value() == std::string(1000, 'b'));
  REQUIRE(old->value() == std::string(100, 'a'));  // readers keep the old bytes
  REQUIRE(old.use_count() == 1);                   // the cache let go of it
}

TEST_CASE("cache: stats count hits, misses, evictions", "[cache]") {
  fc::local_cache c({.max_items = 2, .policy = fc::eviction_policy::lru});
  c.put("a", "1");
  c.put("b", "2");
  (void)c.get("a");
  (void)c.get("a");
  (void)c.get("zz");
  (void)c.peek("b");  // peek and contains don't count
  (void)c.contains("b");
  c.put("c", "3");
  REQUIRE(c.erase("c"));
  REQUIRE_FALSE(c.erase("c"));
  auto s = c.stats();
  REQUIRE(s.hits == 2);
  REQUIRE(s.misses == 1);
  REQUIRE(s.evictions == 1);
  REQUIRE(s.inserts == 3);
  REQUIRE(s.items == 1);
  REQUIRE(s.hit_ratio() == Approx(2.0 / 3.0));
  c.clear();
  REQUIRE(c.stats().items == 0);
  REQUIRE(c.stats().bytes == 0);
}

TEST_CASE("cache: entry metadata and handles", "[cache]") {
  fake_clock clk;
  fc::local_cache c({.clock = clk.fn()});
  c.put("/a", R"({"id":1})", {.content_type = "application/json"});
  c.put("/b", "x", {.etag = "W/\"v7\""});
  auto a = c.get("/a");
  REQUIRE(a->key() == "/a");
  REQUIRE(a->value() == R"({"id":1})");
  REQUIRE(a->content_type() == "application/json");
  REQUIRE(a->etag().size() == 18);
  REQUIRE(a->etag().front() == '"');
  REQUIRE(a->etag().back() == '"');
  REQUIRE(a->etag() == fc::make_etag(R"({"id":1})"));
  REQUIRE(a->created() == clk.t);
  REQUIRE(c.get("/b")->etag() == "W/\"v7\"");
  REQUIRE(c.get("/b")->content_type().empty());
  REQUIRE(a.use_count() == 2);  // ours + the cache's
  REQUIRE(c.erase("/a"));
  REQUIRE(a.use_count() == 1);
  REQUIRE(a->value() == R"({"id":1})");
  REQUIRE(fc::make_etag("a") != fc::make_etag(std::string_view("a\0", 2)));
  REQUIRE(fc::hash64("hello") == fc::hash64(std::string("hello")));
  REQUIRE(fc::hash64("hello") != fc::hash64("hellp"));
}

TEST_CASE("cache: local get_or_load", "[cache]") {
  fc::local_cache c;
  int calls = 0;
  auto loader = [&] {
    ++calls;
    return fc::loaded_value{.value = "loaded", .content_type = "text/plain"};
  };
  REQUIRE(c.get_or_load("k", loader)->value() == "loaded");
  REQUIRE(c.get_or_load("k", loader)->value() == "loaded");
  REQUIRE(calls == 1);
  REQUIRE_THROWS_AS(c.get_or_load("bad", []() -> fc::loaded_value { throw std::runtime_error("x"); }),
                    std::runtime_error);
  REQUIRE_FALSE(c.contains("bad"));
  auto e = c.get_or_load("nc", [] { return fc::loaded_value{.value = "v", .cacheable = false}; });
  REQUIRE(e->value() == "v");
  REQUIRE_FALSE(c.contains("nc"));
}

TEST_CASE("cache: sharded cache is safe from 4 threads", "[cache]") {
  for (auto policy : {fc::eviction_policy::lru, fc::eviction_policy::s3fifo}) {
    fc::sharded_cache c({.max_bytes = 64 * 1024, .policy = policy, .shards = 8});
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(t);
        for (int i = 0; i < 20000; ++i) {
          int k = int(rng() % 2000);
          std::string key = key_of(k);
          int what = int(rng() % 10);
          if (what < 6) {
            if (auto e = c.get(key))
              if (e->value().substr(0, key.size()) != key) ++bad;
          } else if (what < 9) {
            c.put(key, key + std::string(rng() % 300, '.'), {.ttl = std::chrono::seconds(rng() % 3)});
          } else if (what == 9 && rng() % 4 == 0) {
            c.erase(key);
          } else {
            c.sweep(16);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    REQUIRE(bad == 0);
    REQUIRE(c.check_invariants().empty());
    auto s = c.stats();
    REQUIRE(s.bytes <= c.max_bytes());
    REQUIRE(s.hits + s.misses > 0);
  }
}

namespace {

// Starts `n` threads that all call `body(i)` at (nearly) the same moment.
template <class F>
void run_together(int n, F body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();
      body(i);
    });
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("cache: get_or_load coalesces concurrent misses", "[cache]") {
  fc::sharded_cache c({.shards = 4});
  std::atomic<int> calls{0}, entered{0};
  std::vector<fc::entry_ptr> results(10);
  run_together(10, [&](int i) {
    entered.fetch_add(1);
    results[i] = c.get_or_load("/slow", [&] {
      calls.fetch_add(1);
      // Hold the load open until everyone has asked, plus a margin for the
      // last ones to reach the wait.
      while (entered.load() < 10) std::this_thread::yield();
      std::this_thread::sleep_for(100ms);
      return fc::loaded_value{.value = "expensive", .ttl = 60s};
    });
  });
  REQUIRE(calls == 1);
  for (auto& r : results) {
    REQUIRE(r);
    REQUIRE(r == results[0]);  // the very same entry
    REQUIRE(r->value() == "expensive");
  }
  REQUIRE(c.contains("/slow"));
  REQUIRE(c.get_or_load("/slow", [&] { calls.fetch_add(1); return fc::loaded_value{}; })->value() ==
          "expensive");
  REQUIRE(calls == 1);
}

TEST_CASE("cache: get_or_load loader exception reaches every waiter", "[cache]") {
  fc::sharded_cache c({.shards = 4});
  std::atomic<int> calls{0}, entered{0}, failures{0};
  run_together(10, [&](int) {
    entered.fetch_add(1);
    try {
      (void)c.get_or_load("/broken", [&]() -> fc::loaded_value {
        calls.fetch_add(1);
        while (entered.load() < 10) std::this_thread::yield();
        std::this_thread::sleep_for(100ms);
        throw std::runtime_error("database down");
      });
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "database down") failures.fetch_add(1);
    }
  });
  REQUIRE(calls == 1);
  REQUIRE(failures == 10);
  REQUIRE_FALSE(c.contains("/broken"));
  REQUIRE(c.stats().items == 0);
  // The next miss loads again.
  REQUIRE(c.get_or_load("/broken", [] { return fc::loaded_value{.value = "ok"}; })->value() == "ok");
}

TEST_CASE("cache: a put during a load wins over the loaded value", "[cache]") {
  fc::sharded_cache c({.shards = 2});
  std::atomic<bool> loading{false}, put_done{false};
  fc::entry_ptr loaded;  // checked on this thread: Catch2 assertions aren't thread-safe
  std::thread loader_thread([&] {
    loaded = c.get_or_load("k", [&] {
      loading = true;
      while (!put_done) std::this_thread::yield();
      return fc::loaded_value{.value = "old"};
    });
  });
  while (!loading) std::this_thread::yield();
  c.put("k", "new");
  put_done = true;
  loader_thread.join();
  REQUIRE(loaded->value() == "old");  // the caller still gets its result
  REQUIRE(c.get("k")->value() == "new");
}
