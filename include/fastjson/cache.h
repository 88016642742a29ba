#pragma once
/// \file cache.h
/// The in-memory cache: byte-bounded, TTLs, LRU or S3-FIFO eviction,
/// statistics, and request coalescing. See docs/CACHE.md.
///
/// - `fastjson::cache::local_cache`: single-threaded core, no lock (one per
///   event loop).
/// - `fastjson::cache::sharded_cache`: N cores with a mutex each, for sharing
///   one cache between threads; `get_or_load` coalesces concurrent misses.
/// - Lookups return `fastjson::cache::entry_ptr`, a refcounted handle to an
///   immutable `entry` (key, value, content type, ETag, created, expires):
///   the bytes stay valid while the handle lives, whatever the cache does.

#include "fastjson/cache/entry.h"
#include "fastjson/cache/local_cache.h"
#include "fastjson/cache/options.h"
#include "fastjson/cache/sharded_cache.h"
