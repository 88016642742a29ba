// Entries: hashing, ETags, the single-block layout and its charge.

#include "fastjson/cache/entry.h"

#include <cstring>
#include <new>
#include <random>
#include <stdexcept>

#include "cache/detail.h"
#include "fastjson/cache/options.h"

namespace fastjson::cache {
namespace {

constexpr std::uint64_t k0 = 0x9e3779b97f4a7c15ull;
constexpr std::uint64_t k1 = 0xbf58476d1ce4e5b9ull;
constexpr std::uint64_t k2 = 0x94d049bb133111ebull;

inline std::uint64_t load64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Multiplies to 128 bits and folds the halves: one multiply mixes every
// input bit into the whole result, which is why this runs at ~16 bytes per
// few cycles while staying well distributed.
#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 u128;
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) noexcept {
  u128 r = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}
#else
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) noexcept {
  // Schoolbook 64x64 -> 128 multiply for compilers without __int128.
  std::uint64_t al = a & 0xffffffff, ah = a >> 32, bl = b & 0xffffffff, bh = b >> 32;
  std::uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  std::uint64_t mid = (ll >> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);
  std::uint64_t lo = (mid << 32) | (ll & 0xffffffff);
  std::uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
  return lo ^ hi;
}
#endif

}  // namespace

std::uint64_t hash64(const void* data, std::size_t size, std::uint64_t seed) noexcept {
  auto p = static_cast<const unsigned char*>(data);
  std::uint64_t h = seed ^ k0 ^ (size * k2);
  std::size_t n = size;
  while (n >= 16) {
    h = fold_mul(load64(p) ^ k1, load64(p + 8) ^ h);
    p += 16;
    n -= 16;
  }
  // The last 0..15 bytes, zero-padded; the length in the seed keeps
  // "a" and "a\0" apart.
  std::uint64_t a = 0, b = 0;
  if (n > 8) {
    a = load64(p);
    std::memcpy(&b, p + 8, n - 8);
  } else if (n > 0) {
    std::memcpy(&a, p, n);
  }
  h = fold_mul(a ^ k1, b ^ h ^ k2);
  return fold_mul(h ^ k0, k2 ^ size);
}

std::string make_etag(std::string_view value) {
  static constexpr char hex[] = "0123456789abcdef";
  std::uint64_t h = hash64(value);
  std::string s(18, '"');
  for (int i = 16; i >= 1; --i) {
    s[i] = hex[h & 15];
    h >>= 4;
  }
  return s;
}

std::size_t estimate_charge(std::size_t key_size, std::size_t value_size,
                            std::size_t content_type_size, std::size_t etag_size,
                            bool has_ttl) noexcept {
  std::size_t block = sizeof(entry) + key_size + value_size + content_type_size + etag_size;
  // glibc malloc: an 8-byte size header, chunks in multiples of 16, at
  // least 32 bytes.
  std::size_t chunk = (block + 8 + 15) & ~std::size_t{15};
  if (chunk < 32) chunk = 32;
  std::size_t slots = 2 * sizeof(entry*);
  if (has_ttl) slots += 2 * sizeof(entry*);
  return chunk + slots;
}

std::string_view to_string(eviction_policy p) noexcept {
  switch (p) {
    case eviction_policy::lru: return "lru";
    case eviction_policy::s3fifo: return "s3fifo";
  }
  return "unknown";
}

cache_stats& cache_stats::operator+=(const cache_stats& o) noexcept {
  items += o.items;
  bytes += o.bytes;
  hits += o.hits;
  misses += o.misses;
  evictions += o.evictions;
  expirations += o.expirations;
  inserts += o.inserts;
  replaces += o.replaces;
  rejections += o.rejections;
  return *this;
}

namespace detail {

std::uint64_t random_seed() {
  std::random_device rd;
  std::uint64_t s = (std::uint64_t(rd()) << 32) ^ rd();
  return s ? s : k0;
}

void destroy_entry(const entry* e) noexcept {
  // entry is trivially destructible in all but name (an atomic counter and
  // plain fields), so the block is simply returned to the allocator.
  e->~entry();
  ::operator delete(const_cast<entry*>(e));
}

entry_ptr make_entry(std::string_view key, std::uint64_t hash, std::string_view value,
                     std::string_view content_type, std::string_view etag, time_point now,
                     time_point expires) {
  std::string computed;
  if (etag.empty()) {
    computed = make_etag(value);
    etag = computed;
  }
  if (key.size() > UINT32_MAX || value.size() > UINT32_MAX || content_type.size() > UINT16_MAX ||
      etag.size() > UINT16_MAX)
    throw std::length_error("fastjson::cache: key, value, content type or etag too long");
  std::size_t n = key.size() + value.size() + content_type.size() + etag.size();
  void* mem = ::operator new(sizeof(entry) + n);
  entry* e = entry_access::construct(mem);
  entry_access::init(e, key, hash, value, content_type, etag, now, expires);
  return entry_access::adopt(e);
}

}  // namespace detail
}  // namespace fastjson::cache
