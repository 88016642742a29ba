// Fuzzes local_cache with op sequences on a fake clock, checked against a
// model: never over its byte (or item) bound, never an expired entry, values
// always the last one put, every internal invariant after each op.
//
// Input: byte 0 picks the policy and bounds; then ops of 3 bytes each
// (opcode, key, argument).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "fastjson/cache.h"

namespace fc = fastjson::cache;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_cache: %s %s\n", what, detail.c_str());
  std::abort();
}

struct model_entry {
  std::string value;
  fc::time_point expires;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  fc::time_point now = fc::time_point{} + std::chrono::hours(1000);
  std::uint8_t cfg = data[0];
  fc::options o;
  o.policy = (cfg & 1) ? fc::eviction_policy::lru : fc::eviction_policy::s3fifo;
  o.max_bytes = 512 + std::size_t(cfg >> 1 & 7) * 1024;  // small: evictions happen
  o.max_items = (cfg & 16) ? 3 + (cfg >> 5) : 0;
  o.max_value_bytes = (cfg & 0x80) ? 300 : 0;
  o.hash_seed = 42;
  o.clock = [&now] { return now; };
  fc::local_cache c(o);
  std::map<std::string, model_entry> model;

  for (std::size_t i = 1; i + 3 <= size; i += 3) {
    std::uint8_t op = data[i], karg = data[i + 1], arg = data[i + 2];
    std::string key = "k" + std::to_string(karg % 24);
    switch (op % 7) {
      case 0:
      case 1: {  // put
        std::size_t len = std::size_t(arg) * (op & 0x80 ? 16 : 1);
        std::string value(len, char('a' + op % 26));
        std::optional<fc::duration> ttl;
        if (op & 0x40) ttl = std::chrono::seconds(op & 0x20 ? 0 : 1 + (arg & 7));
        bool was_live = c.peek(key) != nullptr;
        auto r = c.put(key, value, {.content_type = "application/json", .ttl = ttl});
        if (r == fc::put_result::too_large) {
          if (c.contains(key)) fail("too_large left the key");
          model.erase(key);
        } else {
          if (r != (was_live ? fc::put_result::replaced : fc::put_result::inserted)) fail("put result");
          auto e = c.peek(key);
          if (!e || e->value() != value) fail("put then peek");
          fc::time_point exp = fc::time_point::max();
          if (ttl && *ttl != fc::duration::zero()) exp = now + *ttl;
          model[key] = {value, exp};
        }
        break;
      }
      case 2:
      case 3: {  // get
        if (auto e = c.get(key)) {
          if (e->expired(now)) fail("served an expired entry", key);
          auto it = model.find(key);
          if (it == model.end()) fail("served a key never put (or erased)", key);
          if (it->second.expires <= now) fail("served past the model's expiry", key);
          if (e->value() != it->second.value) fail("stale value", key);
          if (e->etag() != fc::make_etag(e->value())) fail("etag");
        }
        break;
      }
      case 4: {  // erase
        bool live = c.peek(key) != nullptr;
        if (c.erase(key) != live) fail("erase result");
        if (c.contains(key)) fail("erase left the key");
        model.erase(key);
        break;
      }
      case 5:  // time passes
        now += std::chrono::milliseconds(std::size_t(arg) * 40);
        break;
      case 6:
        if (arg == 0xff) {
          c.clear();
          model.clear();
        } else {
          c.sweep(now, arg % 8);
        }
        break;
    }
    auto s = c.stats();
    if (s.bytes > c.max_bytes()) fail("over the byte bound");
    if (o.max_items && s.items > o.max_items) fail("over the item bound");
    if (auto err = c.check_invariants(); !err.empty()) fail("invariant", err);
  }
  return 0;
}
