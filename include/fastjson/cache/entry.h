#pragma once
/// \file cache/entry.h
/// The immutable cached value (`entry`) and the refcounted handle to it
/// (`entry_ptr`) that every cache lookup returns.
///
/// An entry is one heap block: a small header followed by the key, value,
/// content type and ETag bytes. Once published it never changes, so a reader
/// holding an `entry_ptr` can write `value()` to a socket after the cache's
/// lock has been released. Eviction, expiry, `erase`, replacement and `clear`
/// only drop the *cache's* reference; the bytes are freed when the last
/// `entry_ptr` goes away. The refcount is atomic, so handles may be copied and
/// destroyed on any thread.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace fastjson::cache {

/// The cache's clock: monotonic, so TTLs survive wall-clock jumps. Convert to
/// wall time at the HTTP edge if needed (the `Age` header needs only a
/// difference, see `entry::age`).
using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using duration = clock_type::duration;

/// A 64-bit non-cryptographic hash (multiply-fold over 16-byte blocks). It
/// is stable across runs and builds of the same version, so ETags computed
/// from it stay valid across restarts. Not DoS-resistant: do not use it for
/// untrusted keys in a table without a secret seed.
std::uint64_t hash64(const void* data, std::size_t size, std::uint64_t seed = 0) noexcept;
inline std::uint64_t hash64(std::string_view s, std::uint64_t seed = 0) noexcept {
  return hash64(s.data(), s.size(), seed);
}

/// A strong ETag for `value`: `"` + 16 lowercase hex digits of hash64 + `"`
/// (18 characters, quotes included, ready for the `ETag` header).
std::string make_etag(std::string_view value);

class entry;
class local_cache;
namespace detail {
struct entry_access;
void destroy_entry(const entry* e) noexcept;
}  // namespace detail

/// One cached item. Immutable after creation (except for bookkeeping fields
/// that are private to the owning cache and touched only under its lock).
class entry {
 public:
  entry(const entry&) = delete;
  entry& operator=(const entry&) = delete;

  /// Views into the entry's own block: valid as long as an `entry_ptr` to
  /// this entry is alive.
  std::string_view key() const noexcept { return {bytes(), key_len_}; }
  std::string_view value() const noexcept { return {bytes() + key_len_, value_len_}; }
  /// Empty if none was given at `put`; the HTTP layer picks its default.
  std::string_view content_type() const noexcept {
    return {bytes() + key_len_ + value_len_, content_type_len_};
  }
  /// A quoted ETag (given at `put`, or computed by `make_etag`).
  std::string_view etag() const noexcept {
    return {bytes() + key_len_ + value_len_ + content_type_len_, etag_len_};
  }
  /// When the entry was stored (for the HTTP `Age` header).
  time_point created() const noexcept { return created_; }
  /// `time_point::max()` if the entry never expires.
  time_point expires() const noexcept { return expires_; }
  bool has_ttl() const noexcept { return expires_ != time_point::max(); }
  /// An entry is expired at and after its expiry instant; caches never
  /// return an expired entry.
  bool expired(time_point now) const noexcept { return now >= expires_; }
  /// Seconds since `created()`, never negative (the HTTP `Age` value).
  std::chrono::seconds age(time_point now) const noexcept {
    return now <= created_ ? std::chrono::seconds(0)
                           : std::chrono::duration_cast<std::chrono::seconds>(now - created_);
  }
  /// The owning cache's (seeded) hash of `key()`, computed once at creation.
  std::uint64_t key_hash() const noexcept { return hash_; }
  /// Bytes this entry counts against a cache's `max_bytes`; see
  /// `estimate_charge` for what is included.
  std::size_t charge() const noexcept;

 private:
  friend struct detail::entry_access;
  friend class entry_ptr;
  friend class local_cache;
  friend void detail::destroy_entry(const entry*) noexcept;
  entry() = default;
  const char* bytes() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  char* bytes() noexcept { return reinterpret_cast<char*>(this + 1); }

  mutable std::atomic<std::uint32_t> refs_{1};
  // Bookkeeping owned by the cache that holds the entry, touched only under
  // that cache's lock. Readers never look at these fields, so there is no
  // race between a reader and an eviction that relinks neighbours.
  std::uint32_t heap_index_ = UINT32_MAX;  // position in the TTL heap
  entry* prev_ = nullptr;                  // policy queue links
  entry* next_ = nullptr;
  entry* chain_ = nullptr;  // hash-bucket chain
  std::uint64_t hash_ = 0;
  time_point created_{};
  time_point expires_ = time_point::max();
  std::uint32_t key_len_ = 0;
  std::uint32_t value_len_ = 0;
  std::uint16_t content_type_len_ = 0;
  std::uint16_t etag_len_ = 0;
  std::uint8_t freq_ = 0;   // S3-FIFO access counter, capped at 3
  std::uint8_t queue_ = 0;  // which policy queue holds it (0: none)
  // Followed by key, value, content type and ETag bytes.
};

/// The bytes an entry with these sizes counts against `max_bytes`:
/// - the real heap block: `sizeof(entry)` + key + value + content type + ETag,
///   rounded the way glibc malloc does (8-byte chunk header, 16-byte
///   granularity, 32-byte minimum);
/// - 2 hash-table slots (8 bytes each: the table grows at load factor 1, so it
///   holds between 1 and 2 slots per entry);
/// - for entries with a TTL, 2 slots of the expiry heap (a vector of
///   pointers, at most half empty after growth).
/// Not included: the S3-FIFO ghost queue (hashes of recently evicted keys,
/// about 56 bytes each, capped at the number of entries in the main queue)
/// and the fixed size of the cache objects themselves.
std::size_t estimate_charge(std::size_t key_size, std::size_t value_size,
                            std::size_t content_type_size, std::size_t etag_size,
                            bool has_ttl) noexcept;

inline std::size_t entry::charge() const noexcept {
  return estimate_charge(key_len_, value_len_, content_type_len_, etag_len_, has_ttl());
}

/// A shared, read-only handle to an `entry`, like
/// `std::shared_ptr<const entry>` but intrusive: one allocation per entry and
/// a pointer-sized handle. Copying adds a reference (atomic); the last
/// handle frees the entry.
class entry_ptr {
 public:
  entry_ptr() noexcept = default;
  entry_ptr(std::nullptr_t) noexcept {}
  entry_ptr(const entry_ptr& o) noexcept : p_(o.p_) {
    if (p_) p_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  entry_ptr(entry_ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  entry_ptr& operator=(entry_ptr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~entry_ptr() { reset(); }

  void reset() noexcept {
    if (p_ && p_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) detail::destroy_entry(p_);
    p_ = nullptr;
  }
  const entry* get() const noexcept { return p_; }
  const entry& operator*() const noexcept { return *p_; }
  const entry* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  /// The number of handles plus the cache's own reference (if still cached).
  /// Racy by nature; for tests and diagnostics.
  std::uint32_t use_count() const noexcept {
    return p_ ? p_->refs_.load(std::memory_order_relaxed) : 0;
  }
  friend bool operator==(const entry_ptr& a, const entry_ptr& b) noexcept { return a.p_ == b.p_; }
  friend bool operator==(const entry_ptr& a, std::nullptr_t) noexcept { return a.p_ == nullptr; }

 private:
  friend struct detail::entry_access;
  explicit entry_ptr(const entry* adopt) noexcept : p_(adopt) {}
  const entry* p_ = nullptr;
};

}  // namespace fastjson::cache
