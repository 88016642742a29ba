#pragma once
/// \file cache/local_cache.h
/// The single-threaded cache core: no lock at all. Use one per event loop
/// (share nothing), or use `sharded_cache`, which wraps N of them with a
/// mutex each, when threads must share one cache.
///
/// ```cpp
/// fastjson::cache::local_cache c({.max_bytes = 64 << 20});
/// c.put("/todos/1", R"({"id":1})", {.content_type = "application/json",
///                                    .ttl = std::chrono::seconds(30)});
/// if (auto e = c.get("/todos/1")) write(e->value(), e->etag(), e->content_type());
/// ```

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastjson/cache/entry.h"
#include "fastjson/cache/options.h"

namespace fastjson::cache {

class sharded_cache;
namespace detail {
class ghost_table;
std::uint64_t random_seed();
entry_ptr make_entry(std::string_view key, std::uint64_t hash, std::string_view value,
                     std::string_view content_type, std::string_view etag, time_point now,
                     time_point expires);
}  // namespace detail

/// A byte-bounded cache with TTLs and a selectable eviction policy, for use
/// from one thread. Not thread-safe (not even `get`, which updates recency).
/// The `entry_ptr` handles it returns may be used on any thread.
class local_cache {
 public:
  explicit local_cache(options opts = {});
  ~local_cache();
  local_cache(const local_cache&) = delete;
  local_cache& operator=(const local_cache&) = delete;

  /// The live entry under `key`, or null. Counts a hit or a miss and updates
  /// the policy's recency/frequency. An expired entry is reclaimed and
  /// reported as a miss.
  entry_ptr get(std::string_view key) { return get(key, now()); }
  entry_ptr get(std::string_view key, time_point now);
  /// Like `get`, but touches neither statistics nor policy state (for HEAD
  /// requests, diagnostics and tests). Never returns an expired entry.
  entry_ptr peek(std::string_view key) const { return peek(key, now()); }
  entry_ptr peek(std::string_view key, time_point now) const;
  /// Whether a live entry is stored under `key` (no statistics, no policy).
  bool contains(std::string_view key) const { return bool(peek(key)); }

  /// Stores a copy of `value` under `key`, replacing any previous entry,
  /// evicting as needed. See `put_result` (an expired previous entry counts
  /// as absent: `inserted`).
  put_result put(std::string_view key, std::string_view value, const put_options& po = {}) {
    return put(key, value, po, now());
  }
  put_result put(std::string_view key, std::string_view value, const put_options& po,
                 time_point now);
  /// Removes `key`; returns whether a live entry was there (an expired one
  /// is reclaimed and reported as absent, like `get`). Readers holding its
  /// `entry_ptr` keep the bytes alive.
  bool erase(std::string_view key) { return erase(key, now()); }
  bool erase(std::string_view key, time_point now);
  /// Removes everything (counters other than items/bytes are kept).
  void clear();
  /// Reclaims up to `budget` expired entries, earliest expiry first, in
  /// O(log n) each (entries with a TTL sit in a min-heap by expiry). Call it
  /// from a periodic timer; expired entries are also reclaimed lazily by
  /// `get` and before evicting live entries. Returns the number reclaimed.
  std::size_t sweep(time_point now, std::size_t budget);
  std::size_t sweep(std::size_t budget = SIZE_MAX) { return sweep(now(), budget); }

  /// Returns the cached entry, or calls `loader()` (returning a
  /// `loaded_value`), stores its result unless `cacheable` is false or it is
  /// too large, and returns it. If the loader throws, nothing is stored and
  /// the exception propagates. There is no concurrency here, so there is
  /// nothing to coalesce; see `sharded_cache::get_or_load`.
  template <class Loader>
  entry_ptr get_or_load(std::string_view key, Loader&& loader);

  cache_stats stats() const noexcept;
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  std::size_t max_items() const noexcept { return max_items_; }
  /// "lru" or "s3fifo".
  std::string_view policy() const noexcept { return to_string(policy_); }
  /// The injected clock's time (or `steady_clock::now()`).
  time_point now() const { return clock_ ? clock_() : clock_type::now(); }

  /// Walks every internal structure and checks its invariants (byte and count
  /// totals, bounds, hash chains, queues, heap order). Returns an empty
  /// string if all hold, else a description. O(n); for tests.
  std::string check_invariants() const;
  /// Slots in the hash table's bucket array (tests, diagnostics). It grows with
  /// the item count and shrinks again once it is 8x larger than needed.
  std::size_t table_size() const noexcept { return buckets_.size(); }

 private:
  friend class sharded_cache;
  struct queue {
    entry* head = nullptr;  // newest / most recently used
    entry* tail = nullptr;  // next to evict
    std::size_t bytes = 0;
    std::size_t count = 0;
  };

  // The work behind the public calls, with the key's hash precomputed
  // (sharded_cache hashes once to pick the shard, then reuses it).
  entry_ptr get_hashed(std::string_view key, std::uint64_t h, time_point now);
  entry_ptr peek_hashed(std::string_view key, std::uint64_t h, time_point now) const;
  bool erase_hashed(std::string_view key, std::uint64_t h, time_point now);
  /// Stores a ready-made entry (built outside any lock).
  put_result insert(entry_ptr e, time_point now);
  /// Whether a value of this size and charge may be stored at all.
  bool fits(std::size_t value_size, std::size_t charge) const noexcept;
  time_point expiry_for(const std::optional<duration>& ttl, time_point now) const noexcept;

  entry* find(std::string_view key, std::uint64_t h) const noexcept;
  void table_insert(entry* e);
  void table_remove(entry* e) noexcept;
  void grow_table();
  void rehash(std::size_t buckets);
  // After many entries left: shrinks the bucket array and the expiry heap so
  // their memory follows the item count (their charge is per live entry).
  void compact();
  void queue_push(queue& q, entry* e, std::uint8_t id) noexcept;
  void queue_remove(entry* e) noexcept;
  queue& queue_of(entry* e) noexcept { return e->queue_ == 2 ? main_ : small_; }
  void heap_push(entry* e);
  void heap_remove(entry* e) noexcept;
  void heap_sift_up(std::size_t i) noexcept;
  void heap_sift_down(std::size_t i) noexcept;
  /// Unlinks `e` from every structure and drops the cache's reference.
  void remove(entry* e) noexcept;
  /// Reclaims expired entries, then evicts, until `charge` more bytes and one
  /// more item fit.
  void make_room(std::size_t charge, time_point now);
  void evict_one();
  void evict_small();
  void evict_main();
  void release_ghost() noexcept;

  std::size_t max_bytes_;
  std::size_t max_items_;
  std::size_t max_value_bytes_;
  eviction_policy policy_;
  duration default_ttl_;
  std::function<time_point()> clock_;
  std::uint64_t seed_;  // hash seed; a sharded_cache sets all shards to its own
  std::size_t small_target_;        // S3-FIFO: bytes the small FIFO may hold
  std::size_t small_target_items_;  // ... and entries, if max_items is set

  std::vector<entry*> buckets_;
  std::size_t items_ = 0;
  std::size_t bytes_ = 0;
  queue small_;  // LRU: the only list. S3-FIFO: the small FIFO.
  queue main_;   // S3-FIFO: the main FIFO.
  std::vector<entry*> heap_;  // min-heap by expiry; only entries with a TTL
  detail::ghost_table* ghost_ = nullptr;  // S3-FIFO only; its bytes are in bytes_
  mutable cache_stats stats_;
};

template <class Loader>
entry_ptr local_cache::get_or_load(std::string_view key, Loader&& loader) {
  auto h = hash64(key, seed_);
  auto t = now();
  if (auto e = get_hashed(key, h, t)) return e;
  loaded_value lv = std::forward<Loader>(loader)();
  auto e = detail::make_entry(key, h, lv.value, lv.content_type, lv.etag, t,
                              expiry_for(lv.ttl, t));
  if (lv.cacheable) (void)insert(e, t);
  return e;
}

}  // namespace fastjson::cache
