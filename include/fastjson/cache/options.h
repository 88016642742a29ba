#pragma once
/// \file cache/options.h
/// Construction options, per-put options, results and statistics shared by
/// `local_cache` and `sharded_cache`.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "fastjson/cache/entry.h"

namespace fastjson::cache {

/// Which entries to evict when the cache is full.
enum class eviction_policy : std::uint8_t {
  /// Least recently used: every hit moves the entry to the front of one list.
  /// Simple and good when recency predicts reuse; one large scan of
  /// one-time keys flushes the whole cache.
  lru,
  /// S3-FIFO (Yang et al., SOSP 2023): a small FIFO (~10% of the bytes) that
  /// new keys enter, a main FIFO with lazy promotion (2-bit access counters,
  /// capped at 3), and a ghost queue of hashes of keys recently evicted from
  /// the small FIFO. One-time keys leave through the small FIFO without
  /// disturbing the main one, so it resists scans; a hit only bumps a counter
  /// (no list relinking).
  s3fifo,
};

/// The name used in docs, stats and config: "lru" or "s3fifo".
std::string_view to_string(eviction_policy p) noexcept;

/// Options fixed at construction. Designated initializers read well:
/// `local_cache c({.max_bytes = 256 << 20, .policy = eviction_policy::lru});`
struct options {
  /// Bound on the sum of `entry::charge()` over stored entries (keys, values,
  /// metadata and per-entry overhead; see `estimate_charge`) plus, under
  /// S3-FIFO, the ghost's arrays (12 bytes per slot, 1-4 slots per entry). A
  /// `sharded_cache` gives each shard `max_bytes / shards`.
  std::size_t max_bytes = std::size_t{64} << 20;
  /// Optional bound on the number of entries (0: none). Split across shards
  /// (rounded up).
  std::size_t max_items = 0;
  /// Values longer than this are rejected by `put` (0: no limit beyond the
  /// byte bound). Whatever this says, an entry whose charge exceeds the
  /// (per-shard) byte bound is rejected: it never evicts everything.
  std::size_t max_value_bytes = 0;
  eviction_policy policy = eviction_policy::s3fifo;
  /// The TTL of entries whose `put_options::ttl` is unset (zero: never expire).
  duration default_ttl = duration::zero();
  /// The time source (empty: `steady_clock::now`). Tests inject a fake clock so
  /// TTL tests don't sleep; a server can pass its loop's cached time through
  /// the `now` overloads instead. Called without any cache lock held by
  /// `sharded_cache`, so it must be thread-safe there.
  std::function<time_point()> clock = nullptr;
  /// `sharded_cache` only: the number of shards, each with its own mutex
  /// (0: 16).
  std::size_t shards = 0;
  /// S3-FIFO only: the small FIFO's share of `max_bytes`.
  double small_queue_ratio = 0.10;
  /// Seed of the key hash (0: random per cache). Keys come from clients, so
  /// by default an attacker cannot predict bucket or shard collisions; set it
  /// for reproducible runs.
  std::uint64_t hash_seed = 0;
};

/// Per-entry options for `put`.
struct put_options {
  /// Stored as-is and served back (e.g. "application/json").
  std::string_view content_type = {};
  /// A complete ETag including quotes (`"abc"` or `W/"abc"`); empty: the
  /// cache computes a strong one from the value bytes (`make_etag`).
  std::string_view etag = {};
  /// Unset: `options::default_ttl`. Zero: never expires. Otherwise the entry
  /// expires at `now + ttl`.
  std::optional<duration> ttl = std::nullopt;
};

/// What `put` did. The HTTP layer answers 201 for `inserted`, 204 for
/// `replaced` and 413 for `too_large`.
enum class put_result : std::uint8_t {
  inserted,
  replaced,
  /// The value is longer than `max_value_bytes` or its charge exceeds the
  /// byte bound. Nothing was stored, and any previous entry under the key was
  /// erased (it would be stale).
  too_large,
};

/// What a `get_or_load` loader returns.
struct loaded_value {
  std::string value;
  std::string content_type = {};
  std::string etag = {};  // empty: computed
  std::optional<duration> ttl = std::nullopt;
  /// False: hand the value to the waiting callers but do not store it (for
  /// example a "not found" answer you don't want to cache).
  bool cacheable = true;
};

/// A snapshot of the counters. For a `sharded_cache`, the sum over shards
/// (each shard read under its lock, so the totals are per-shard consistent).
struct cache_stats {
  std::uint64_t items = 0;        ///< entries stored (expired ones until reclaimed)
  /// Sum of their charges, plus (S3-FIFO) the ghost's arrays: always <= max_bytes.
  std::uint64_t bytes = 0;
  std::uint64_t hits = 0;         ///< `get` found a live entry
  std::uint64_t misses = 0;       ///< `get` found nothing or an expired entry
  std::uint64_t evictions = 0;    ///< live entries removed to make room
  std::uint64_t expirations = 0;  ///< expired entries reclaimed (get, sweep or make-room)
  std::uint64_t inserts = 0;      ///< `put` of a new key
  std::uint64_t replaces = 0;     ///< `put` over an existing key
  std::uint64_t rejections = 0;   ///< `put` refused as too large
  double hit_ratio() const noexcept {
    auto n = hits + misses;
    return n ? double(hits) / double(n) : 0.0;
  }
  cache_stats& operator+=(const cache_stats& o) noexcept;
};

}  // namespace fastjson::cache
