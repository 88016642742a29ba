// The thread-safe cache: shards of local_cache behind one mutex each, plus
// per-shard tables of in-flight loads for request coalescing.

#include "fastjson/cache/sharded_cache.h"

#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cache/detail.h"

namespace fastjson::cache {
namespace {

constexpr std::size_t default_shards = 16;

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return hash64(s); }
};

// One load in progress. Blocking waiters copy the future under the shard
// lock and wait on it without the lock; coroutine waiters leave a wake-up
// callback in `waiters` (under the shard lock) and are called once it lands.
struct inflight {
  explicit inflight(std::mutex& m) : mu(m) {}
  std::mutex& mu;  // the shard's
  std::promise<entry_ptr> promise;
  std::shared_future<entry_ptr> future = promise.get_future().share();
  bool invalidated = false;  // a put/erase/clear raced with the load
  bool landed = false;
  struct waiter {
    const void* id;  // the awaiter
    loop* home;      // resumed there (posted), or inline if null
    std::coroutine_handle<> h;
  };
  std::vector<waiter> waiters;
};

}  // namespace

// Aligned so two shards' mutexes never share a cache line.
struct alignas(64) sharded_cache::shard {
  explicit shard(options o) : core(std::move(o)) {}
  // Marks a running load of `key` as stale. Caller holds `mu`.
  void invalidate(std::string_view key) {
    if (loads.empty()) return;
    auto it = loads.find(key);
    if (it != loads.end()) it->second->invalidated = true;
  }
  mutable std::mutex mu;
  local_cache core;
  std::unordered_map<std::string, std::shared_ptr<inflight>, string_hash, std::equal_to<>> loads;
};

sharded_cache::sharded_cache(options opts)
    : max_bytes_(opts.max_bytes),
      policy_(opts.policy),
      clock_(opts.clock),
      seed_(opts.hash_seed ? opts.hash_seed : detail::random_seed()),
      shard_count_(opts.shards ? opts.shards : default_shards),
      shards_(std::make_unique<std::unique_ptr<shard>[]>(shard_count_)) {
  options per = opts;
  per.hash_seed = seed_;  // the shard's table must agree with shard_for
  per.max_bytes = opts.max_bytes / shard_count_;
  per.max_items = (opts.max_items + shard_count_ - 1) / shard_count_;
  for (std::size_t i = 0; i < shard_count_; ++i) shards_[i] = std::make_unique<shard>(per);
}

sharded_cache::~sharded_cache() = default;

sharded_cache::shard& sharded_cache::shard_for(std::uint64_t h) const noexcept {
  // The high 32 bits pick the shard (the low bits pick the bucket inside it),
  // scaled without a division.
  return *shards_[((h >> 32) * shard_count_) >> 32];
}

entry_ptr sharded_cache::get(std::string_view key, time_point now) {
  auto h = hash64(key, seed_);
  shard& s = shard_for(h);
  std::lock_guard lock(s.mu);
  return s.core.get_hashed(key, h, now);
}

entry_ptr sharded_cache::peek(std::string_view key, time_point now) const {
  auto h = hash64(key, seed_);
  shard& s = shard_for(h);
  std::lock_guard lock(s.mu);
  return s.core.peek_hashed(key, h, now);
}

put_result sharded_cache::put(std::string_view key, std::string_view value, const put_options& po,
                              time_point now) {
  auto h = hash64(key, seed_);
  shard& s = shard_for(h);
  // expiry_for and fits read only options fixed at construction: no lock.
  time_point expires = s.core.expiry_for(po.ttl, now);
  std::size_t etag_size = po.etag.empty() ? 18 : po.etag.size();
  std::size_t charge = estimate_charge(key.size(), value.size(), po.content_type.size(),
                                       etag_size, expires != time_point::max());
  if (!s.core.fits(value.size(), charge)) {
    std::lock_guard lock(s.mu);
    s.invalidate(key);
    s.core.erase_hashed(key, h, now);
    ++s.core.stats_.rejections;
    return put_result::too_large;
  }
  // Copy the bytes and hash the value for the ETag outside the lock.
  entry_ptr e = detail::make_entry(key, h, value, po.content_type, po.etag, now, expires);
  std::lock_guard lock(s.mu);
  s.invalidate(key);
  return s.core.insert(std::move(e), now);
}

bool sharded_cache::erase(std::string_view key, time_point now) {
  auto h = hash64(key, seed_);
  shard& s = shard_for(h);
  std::lock_guard lock(s.mu);
  s.invalidate(key);
  return s.core.erase_hashed(key, h, now);
}

void sharded_cache::clear() {
  for (std::size_t i = 0; i < shard_count_; ++i) {
    shard& s = *shards_[i];
    std::lock_guard lock(s.mu);
    for (auto& [k, f] : s.loads) f->invalidated = true;
    s.core.clear();
  }
}

std::size_t sharded_cache::sweep(time_point now, std::size_t budget) {
  std::size_t done = 0;
  std::size_t start = sweep_cursor_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < shard_count_ && done < budget; ++i) {
    shard& s = *shards_[(start + i) % shard_count_];
    std::lock_guard lock(s.mu);
    done += s.core.sweep(now, budget - done);
  }
  return done;
}

cache_stats sharded_cache::stats() const {
  cache_stats total;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    shard& s = *shards_[i];
    std::lock_guard lock(s.mu);
    total += s.core.stats();
  }
  return total;
}

std::string sharded_cache::check_invariants() const {
  for (std::size_t i = 0; i < shard_count_; ++i) {
    shard& s = *shards_[i];
    std::lock_guard lock(s.mu);
    if (auto err = s.core.check_invariants(); !err.empty())
      return "shard " + std::to_string(i) + ": " + err;
  }
  return {};
}

sharded_cache::flight_start sharded_cache::begin_flight(std::string_view key, bool refresh) {
  auto h = hash64(key, seed_);
  shard& s = shard_for(h);
  time_point t0 = now();  // the clock is never called under a shard lock
  std::lock_guard lock(s.mu);
  // Someone may have stored it since our miss (get already counted it).
  if (!refresh)
    if (auto e = s.core.peek_hashed(key, h, t0)) return {std::move(e), nullptr, false};
  if (auto it = s.loads.find(key); it != s.loads.end()) return {nullptr, it->second, false};
  auto mine = std::make_shared<inflight>(s.mu);
  s.loads.emplace(std::string(key), mine);
  return {nullptr, std::move(mine), true};
}

entry_ptr sharded_cache::end_flight(std::string_view key, const std::shared_ptr<void>& flight, loaded_value* lv,
                                    std::exception_ptr error) {
  auto& f = *static_cast<inflight*>(flight.get());
  auto h = hash64(key, seed_);
  shard& s = shard_for(h);
  entry_ptr e;
  time_point t{};
  if (!error && lv) {
    try {
      t = now();
      e = detail::make_entry(key, h, lv->value, lv->content_type, lv->etag, t, s.core.expiry_for(lv->ttl, t));
    } catch (...) {  // out of memory building the entry: the waiters get that
      error = std::current_exception();
    }
  }
  std::vector<inflight::waiter> inline_waiters;
  {
    std::lock_guard lock(s.mu);
    if (e && lv->cacheable && !f.invalidated) {
      try {
        (void)s.core.insert(e, t);
      } catch (...) {
        error = std::current_exception();
      }
    }
    if (auto it = s.loads.find(key); it != s.loads.end() && it->second.get() == &f) s.loads.erase(it);
    f.landed = true;
    // Fulfilled after the entry is stored and the load is unregistered (a
    // caller arriving now hits the cache instead of waiting), and before
    // any waiter runs.
    if (error) f.promise.set_exception(error);
    else f.promise.set_value(e);
    // Posted under the lock: a waiter whose frame is being destroyed (at
    // the shutdown deadline) withdraws under it, so a posted resumption
    // never outlives its frame, and its loop is still there to post to.
    for (auto& w : f.waiters) {
      if (w.home) {
        auto h = w.h;
        w.home->post([h] { h.resume(); });
      } else {
        inline_waiters.push_back(w);
      }
    }
    f.waiters.clear();
  }
  for (auto& w : inline_waiters) w.h.resume();
  if (error) std::rethrow_exception(error);
  return e;
}

void sharded_cache::abandon_flight(std::string_view key, const std::shared_ptr<void>& flight) noexcept {
  try {
    end_flight(key, flight, nullptr,
               std::make_exception_ptr(std::runtime_error("cache load abandoned: its coroutine was destroyed")));
  } catch (...) {
  }
}

bool sharded_cache::wait_flight(const std::shared_ptr<void>& flight, const void* id, loop* home,
                                std::coroutine_handle<> h) {
  auto& f = *static_cast<inflight*>(flight.get());
  std::lock_guard lock(f.mu);
  if (f.landed) return false;
  f.waiters.push_back({id, home, h});
  return true;
}

bool sharded_cache::cancel_wait(const std::shared_ptr<void>& flight, const void* id) noexcept {
  auto& f = *static_cast<inflight*>(flight.get());
  std::lock_guard lock(f.mu);
  return std::erase_if(f.waiters, [id](const auto& w) { return w.id == id; }) > 0;
}

void sharded_cache::end_flight_quietly(std::string_view key, const std::shared_ptr<void>& flight) noexcept {
  try {
    end_flight(key, flight, nullptr, nullptr);
  } catch (...) {
  }
}

entry_ptr sharded_cache::flight_result(const std::shared_ptr<void>& flight) {
  return static_cast<inflight*>(flight.get())->future.get();  // rethrows the loader's exception
}

entry_ptr sharded_cache::load(std::string_view key, std::function<loaded_value()> loader) {
  flight_start st = begin_flight(key);
  if (st.hit) return st.hit;
  if (!st.leader) {
    if (auto e = flight_result(st.flight)) return e;
    return load(key, std::move(loader));  // a ticket's leader stored nothing
  }
  std::optional<loaded_value> lv;
  std::exception_ptr error;
  try {
    lv.emplace(loader());
  } catch (...) {
    error = std::current_exception();
  }
  return end_flight(key, st.flight, lv ? &*lv : nullptr, error);
}

}  // namespace fastjson::cache
