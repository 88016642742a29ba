#pragma once
// The S3-FIFO ghost: the hashes of the keys most recently evicted from the
// small FIFO, in FIFO order, in two flat arrays whose bytes the cache counts
// against its bound (local_cache adds `bytes()` to its own byte count). Not
// installed.
//
// Layout: a ring of `cap_` 32-bit fingerprints of the key hashes (the FIFO;
// slot `n % cap_` gets the n-th push since the last rebuild; 0 marks an empty
// or consumed slot) and an open-addressing index of `2 * cap_` 32-bit ring
// positions (+1; 0 is empty) with linear probing and backward-shift deletion,
// so membership is O(1) and no push or take allocates. 12 bytes per slot,
// against ~56 per key for a std::deque plus a std::unordered_map node. Two
// keys whose fingerprints collide (about one take in 2^32 / size) count as
// one: at worst a new key starts in the main FIFO instead of the small one.
//
// The ghost remembers the last `window` pushes, where the cache passes
// `window` = its current item count (at least `min_window`), as the paper
// sizes the ghost like the main queue: a hash pushed longer ago than that is
// absent. `cap_` is a power of two >= window; it doubles when the window
// outgrows it and halves when the window falls below a quarter of it (so the
// size does not flap around a power of two). Memory is allocated on the
// first push, and `release()` gives it all back.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace fastjson::cache::detail {

class ghost_table {
 public:
  static constexpr std::size_t min_window = 64;

  /// Remembers `hash` as the newest (one already present moves to the newest
  /// position). `window`: how many of the newest pushes count.
  void push(std::uint64_t hash, std::size_t window) {
    std::uint32_t h = fingerprint(hash);
    fit(window);
    if (std::size_t s = find(h); s != npos) {
      ring_[index_[s] - 1] = 0;
      erase_at(s);
    }
    std::size_t w = static_cast<std::size_t>(head_ & (cap_ - 1));
    if (ring_[w] != 0) erase_at(find_position(w));
    ring_[w] = h;
    insert(h, static_cast<std::uint32_t>(w + 1));
    ++head_;
  }

  /// Whether `hash` was among the last `window` pushes; it is forgotten
  /// either way (a ghost hit is consumed).
  bool take(std::uint64_t hash, std::size_t window) {
    if (cap_ == 0) return false;
    std::uint32_t h = fingerprint(hash);
    std::size_t s = find(h);
    if (s == npos) return false;
    std::size_t pos = index_[s] - 1;
    std::size_t age = static_cast<std::size_t>((head_ - 1 - pos) & (cap_ - 1));
    ring_[pos] = 0;
    erase_at(s);
    return age < std::max(window, min_window);
  }

  /// Frees everything (the next push allocates again).
  void release() noexcept {
    ring_.reset();
    index_.reset();
    cap_ = 0;
    head_ = 0;
    size_ = 0;
  }

  /// Bytes of the two arrays.
  std::size_t bytes() const noexcept { return cap_ * (sizeof(std::uint32_t) + 2 * sizeof(std::uint32_t)); }
  /// Ring capacity (tests).
  std::size_t capacity() const noexcept { return cap_; }
  /// Hashes held, whatever their age (tests).
  std::size_t size() const noexcept { return size_; }

 private:
  static constexpr std::size_t npos = SIZE_MAX;
  static std::uint32_t fingerprint(std::uint64_t h) noexcept {
    auto f = static_cast<std::uint32_t>(h ^ (h >> 32));
    return f ? f : 1;
  }

  std::size_t home(std::uint32_t f) const noexcept {
    return static_cast<std::size_t>((f * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  std::size_t mask() const noexcept { return 2 * cap_ - 1; }

  std::size_t find(std::uint32_t h) const noexcept {
    for (std::size_t s = home(h);; s = (s + 1) & mask()) {
      std::uint32_t v = index_[s];
      if (v == 0) return npos;
      if (ring_[v - 1] == h) return s;
    }
  }
  // The index slot that points at ring position `pos` (which holds a hash).
  std::size_t find_position(std::size_t pos) const noexcept {
    for (std::size_t s = home(ring_[pos]);; s = (s + 1) & mask())
      if (index_[s] == pos + 1) return s;
  }
  void insert(std::uint32_t h, std::uint32_t v) noexcept {
    std::size_t s = home(h);
    while (index_[s] != 0) s = (s + 1) & mask();
    index_[s] = v;
    ++size_;
  }
  // Backward-shift deletion: later entries of the probe run move up so no
  // tombstones are needed.
  void erase_at(std::size_t s) noexcept {
    std::size_t hole = s;
    for (std::size_t j = (s + 1) & mask();; j = (j + 1) & mask()) {
      std::uint32_t v = index_[j];
      if (v == 0) break;
      std::size_t k = home(ring_[v - 1]);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
      if (!stays) {
        index_[hole] = v;
        hole = j;
      }
    }
    index_[hole] = 0;
    --size_;
  }

  void fit(std::size_t window) {
    window = std::max(window, min_window);
    std::size_t want = cap_ ? cap_ : min_window;
    while (want < window) want *= 2;
    while (want > min_window && window < want / 4) want /= 2;
    if (want != cap_) rebuild(want);
  }

  // New arrays of capacity `cap`, keeping the newest hashes in order.
  void rebuild(std::size_t cap) {
    std::vector<std::uint32_t> keep;
    if (cap_) {
      std::uint64_t n = std::min<std::uint64_t>(head_, cap_);
      keep.reserve(static_cast<std::size_t>(n));
      for (std::uint64_t k = head_ - n; k < head_; ++k)
        if (std::uint32_t h = ring_[static_cast<std::size_t>(k & (cap_ - 1))]) keep.push_back(h);
    }
    std::size_t from = keep.size() > cap ? keep.size() - cap : 0;
    auto ring = std::make_unique<std::uint32_t[]>(cap);  // zeroed
    auto index = std::make_unique<std::uint32_t[]>(2 * cap);
    ring_ = std::move(ring);  // nothing throws from here on
    index_ = std::move(index);
    cap_ = cap;
    shift_ = 64;
    for (std::size_t t = 2 * cap; t > 1; t /= 2) --shift_;
    head_ = 0;
    size_ = 0;
    for (std::size_t i = from; i < keep.size(); ++i) {
      ring_[static_cast<std::size_t>(head_)] = keep[i];
      insert(keep[i], static_cast<std::uint32_t>(head_ + 1));
      ++head_;
    }
  }

  std::unique_ptr<std::uint32_t[]> ring_;
  std::unique_ptr<std::uint32_t[]> index_;
  std::size_t cap_ = 0;    // ring slots, a power of two (0 until the first push)
  unsigned shift_ = 64;    // 64 - log2(2 * cap_)
  std::uint64_t head_ = 0; // pushes since the last rebuild
  std::size_t size_ = 0;   // hashes in the index
};

}  // namespace fastjson::cache::detail
