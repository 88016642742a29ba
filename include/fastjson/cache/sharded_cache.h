#pragma once
/// \file cache/sharded_cache.h
/// The thread-safe cache: N `local_cache` shards, each behind its own mutex
/// (no global lock). A key's shard is chosen by the high bits of its hash;
/// each shard holds at most `max_bytes / shards` bytes.
///
/// Lookups return an `entry_ptr`, so the shard lock is held only for the
/// hash-table probe and the policy update, never while the value is written
/// to a socket:
/// ```cpp
/// fastjson::cache::sharded_cache c({.max_bytes = 1 << 30, .shards = 16});
/// if (auto e = c.get(path)) {   // lock taken and released inside get
///   send(e->value());           // no lock held; eviction can't free the bytes
/// }
/// ```

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "fastjson/cache/entry.h"
#include "fastjson/cache/local_cache.h"
#include "fastjson/cache/options.h"

namespace fastjson::cache {

/// A byte-bounded cache safe to use from many threads. Same operations as
/// `local_cache`, plus request coalescing in `get_or_load`.
class sharded_cache {
 public:
  explicit sharded_cache(options opts = {});
  ~sharded_cache();
  sharded_cache(const sharded_cache&) = delete;
  sharded_cache& operator=(const sharded_cache&) = delete;

  entry_ptr get(std::string_view key) { return get(key, now()); }
  entry_ptr get(std::string_view key, time_point now);
  entry_ptr peek(std::string_view key) const { return peek(key, now()); }
  entry_ptr peek(std::string_view key, time_point now) const;
  bool contains(std::string_view key) const { return bool(peek(key)); }

  /// The entry (including the copy of `value` and its ETag) is built before
  /// the shard lock is taken; the lock covers only the table update and any
  /// evictions.
  put_result put(std::string_view key, std::string_view value, const put_options& po = {}) {
    return put(key, value, po, now());
  }
  put_result put(std::string_view key, std::string_view value, const put_options& po,
                 time_point now);
  bool erase(std::string_view key) { return erase(key, now()); }
  bool erase(std::string_view key, time_point now);
  void clear();
  /// Reclaims up to `budget` expired entries in total, visiting shards
  /// round-robin from where the previous call stopped (each shard's lock is
  /// held only for its part). Returns the number reclaimed.
  std::size_t sweep(time_point now, std::size_t budget);
  std::size_t sweep(std::size_t budget = SIZE_MAX) { return sweep(now(), budget); }

  /// Returns the cached entry, or loads it with `loader()` (returning a
  /// `loaded_value`) with request coalescing: of all threads that miss the
  /// same key while a load is running, only the first calls its loader; the
  /// others block until it finishes and get the same `entry_ptr`. If the
  /// loader throws, every waiter gets the same exception and nothing is
  /// stored. The loader runs without any lock held. If `put`, `erase` or
  /// `clear` touches the key while it loads, the result is still returned
  /// to the waiters but not stored (the concurrent write is newer).
  /// A loader must not call `get_or_load` for the same key (it would wait on
  /// itself).
  template <class Loader>
  entry_ptr get_or_load(std::string_view key, Loader&& loader) {
    if (auto e = get(key)) return e;
    return load(key, std::function<loaded_value()>(std::forward<Loader>(loader)));
  }

  cache_stats stats() const;
  /// The configured bound; each shard holds at most `max_bytes() / shards()`.
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  std::string_view policy() const noexcept { return to_string(policy_); }
  std::size_t shards() const noexcept { return shard_count_; }
  time_point now() const { return clock_ ? clock_() : clock_type::now(); }
  /// `local_cache::check_invariants` over every shard (locks each in turn).
  std::string check_invariants() const;

 private:
  struct shard;
  shard& shard_for(std::uint64_t h) const noexcept;
  entry_ptr load(std::string_view key, std::function<loaded_value()> loader);

  std::size_t max_bytes_;
  eviction_policy policy_;
  std::function<time_point()> clock_;
  std::uint64_t seed_;
  std::size_t shard_count_;
  std::unique_ptr<std::unique_ptr<shard>[]> shards_;
  std::atomic<std::size_t> sweep_cursor_{0};
};

}  // namespace fastjson::cache
