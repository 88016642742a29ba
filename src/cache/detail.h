#pragma once
// Internals of the cache: access to entry internals (the S3-FIFO ghost is in
// ghost.h). Not installed.

#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "fastjson/cache/entry.h"

namespace fastjson::cache::detail {

struct entry_access {
  static entry* construct(void* mem) noexcept { return new (mem) entry; }
  static void init(entry* e, std::string_view key, std::uint64_t hash, std::string_view value,
                   std::string_view content_type, std::string_view etag, time_point now,
                   time_point expires) noexcept {
    e->hash_ = hash;
    e->created_ = now;
    e->expires_ = expires;
    e->key_len_ = static_cast<std::uint32_t>(key.size());
    e->value_len_ = static_cast<std::uint32_t>(value.size());
    e->content_type_len_ = static_cast<std::uint16_t>(content_type.size());
    e->etag_len_ = static_cast<std::uint16_t>(etag.size());
    char* p = e->bytes();
    // memcpy with a null source is UB even for size 0, hence the guards.
    if (!key.empty()) std::memcpy(p, key.data(), key.size());
    p += key.size();
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    p += value.size();
    if (!content_type.empty()) std::memcpy(p, content_type.data(), content_type.size());
    p += content_type.size();
    if (!etag.empty()) std::memcpy(p, etag.data(), etag.size());
  }
  /// Wraps a fresh entry (refcount 1) without adding a reference.
  static entry_ptr adopt(entry* e) noexcept { return entry_ptr(e); }
  /// A new handle to an entry the cache owns (adds a reference).
  static entry_ptr share(entry* e) noexcept {
    e->refs_.fetch_add(1, std::memory_order_relaxed);
    return entry_ptr(e);
  }
  /// Takes the reference out of a handle: the caller now owns it.
  static entry* release(entry_ptr&& p) noexcept {
    return const_cast<entry*>(std::exchange(p.p_, nullptr));
  }
};

}  // namespace fastjson::cache::detail
