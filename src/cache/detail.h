#pragma once
// Internals of the cache: access to entry internals, and the S3-FIFO ghost
// queue. Not installed.

#include <cstdint>
#include <cstring>
#include <deque>
#include <new>
#include <string_view>
#include <unordered_map>
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

/// The S3-FIFO ghost queue: hashes of keys recently evicted from the small
/// FIFO, in FIFO order, with a hash map for membership. A key hash may be
/// queued twice; the map remembers the sequence number of the newest copy so
/// popping an older copy does not forget the newer one.
class ghost_queue {
 public:
  void push(std::uint64_t h, std::size_t capacity) {
    ++seq_;
    fifo_.emplace_back(h, seq_);
    index_[h] = seq_;
    while (fifo_.size() > capacity) pop();
  }
  /// Whether `h` is in the queue; removes it if so (a ghost hit is consumed).
  bool take(std::uint64_t h) {
    auto it = index_.find(h);
    if (it == index_.end()) return false;
    index_.erase(it);
    return true;
  }
  void trim(std::size_t capacity) {
    while (fifo_.size() > capacity) pop();
  }
  void clear() {
    fifo_.clear();
    index_.clear();
  }
  std::size_t size() const noexcept { return fifo_.size(); }

 private:
  void pop() {
    auto [h, s] = fifo_.front();
    fifo_.pop_front();
    auto it = index_.find(h);
    if (it != index_.end() && it->second == s) index_.erase(it);
  }
  std::deque<std::pair<std::uint64_t, std::uint64_t>> fifo_;
  std::unordered_map<std::uint64_t, std::uint64_t> index_;
  std::uint64_t seq_ = 0;
};

}  // namespace fastjson::cache::detail
