// The single-threaded cache core: an intrusive chained hash table, the
// policy queues (LRU list, or S3-FIFO small + main FIFOs and ghost), and a
// min-heap of expiry times. Every entry is one heap block that carries its
// own links, so a stored item costs one allocation.

#include "fastjson/cache/local_cache.h"

#include <algorithm>
#include <string>

#include "cache/detail.h"
#include "cache/ghost.h"

namespace fastjson::cache {
namespace {

constexpr std::uint32_t no_heap = UINT32_MAX;
constexpr std::uint8_t in_small = 1;  // also: the LRU list
constexpr std::uint8_t in_main = 2;
constexpr std::uint8_t max_freq = 3;
// S3-FIFO: an entry leaving the small FIFO moves to the main one if it was
// hit at least this many times while in the small one; otherwise it goes to
// the ghost.
constexpr std::uint8_t move_to_main_threshold = 1;

}  // namespace

local_cache::local_cache(options opts)
    : max_bytes_(opts.max_bytes),
      max_items_(opts.max_items),
      max_value_bytes_(opts.max_value_bytes),
      policy_(opts.policy),
      default_ttl_(opts.default_ttl),
      clock_(std::move(opts.clock)),
      seed_(opts.hash_seed ? opts.hash_seed : detail::random_seed()),
      small_target_(static_cast<std::size_t>(double(opts.max_bytes) *
                                             std::clamp(opts.small_queue_ratio, 0.0, 1.0))),
      small_target_items_(static_cast<std::size_t>(double(opts.max_items) *
                                                   std::clamp(opts.small_queue_ratio, 0.0, 1.0))),
      buckets_(16, nullptr) {
  if (policy_ == eviction_policy::s3fifo) ghost_ = new detail::ghost_table;
}

local_cache::~local_cache() {
  clear();
  delete ghost_;
}

// ---- public operations -------------------------------------------------

entry_ptr local_cache::get(std::string_view key, time_point now) {
  return get_hashed(key, hash64(key, seed_), now);
}

entry_ptr local_cache::peek(std::string_view key, time_point now) const {
  return peek_hashed(key, hash64(key, seed_), now);
}

put_result local_cache::put(std::string_view key, std::string_view value, const put_options& po,
                            time_point now) {
  auto h = hash64(key, seed_);
  time_point expires = expiry_for(po.ttl, now);
  // Refuse before copying the bytes. An empty ETag is replaced by an
  // 18-character computed one.
  std::size_t etag_size = po.etag.empty() ? 18 : po.etag.size();
  std::size_t charge = estimate_charge(key.size(), value.size(), po.content_type.size(),
                                       etag_size, expires != time_point::max());
  if (!fits(value.size(), charge)) {
    erase_hashed(key, h, now);
    ++stats_.rejections;
    return put_result::too_large;
  }
  return insert(detail::make_entry(key, h, value, po.content_type, po.etag, now, expires), now);
}

bool local_cache::erase(std::string_view key, time_point now) {
  return erase_hashed(key, hash64(key, seed_), now);
}

void local_cache::clear() {
  for (queue* q : {&small_, &main_})
    while (q->tail) remove(q->tail);
  release_ghost();
  compact();
}

std::size_t local_cache::sweep(time_point now, std::size_t budget) {
  std::size_t n = 0;
  while (n < budget && !heap_.empty() && heap_.front()->expired(now)) {
    remove(heap_.front());
    ++stats_.expirations;
    ++n;
  }
  if (n) compact();
  return n;
}

cache_stats local_cache::stats() const noexcept {
  cache_stats s = stats_;
  s.items = items_;
  s.bytes = bytes_;
  return s;
}

// ---- hashed internals (also used by sharded_cache) ---------------------

entry_ptr local_cache::get_hashed(std::string_view key, std::uint64_t h, time_point now) {
  entry* e = find(key, h);
  if (!e) {
    ++stats_.misses;
    return {};
  }
  if (e->expired(now)) {
    remove(e);
    ++stats_.expirations;
    ++stats_.misses;
    return {};
  }
  ++stats_.hits;
  if (policy_ == eviction_policy::lru) {
    if (small_.head != e) {
      queue_remove(e);
      queue_push(small_, e, in_small);
    }
  } else if (e->freq_ < max_freq) {
    ++e->freq_;  // S3-FIFO: lazy promotion, no relinking on a hit
  }
  return detail::entry_access::share(e);
}

entry_ptr local_cache::peek_hashed(std::string_view key, std::uint64_t h, time_point now) const {
  entry* e = find(key, h);
  if (!e || e->expired(now)) return {};
  return detail::entry_access::share(e);
}

bool local_cache::erase_hashed(std::string_view key, std::uint64_t h, time_point now) {
  entry* e = find(key, h);
  if (!e) return false;
  bool live = !e->expired(now);
  if (!live) ++stats_.expirations;
  remove(e);
  compact();
  return live;
}

bool local_cache::fits(std::size_t value_size, std::size_t charge) const noexcept {
  if (max_value_bytes_ && value_size > max_value_bytes_) return false;
  return charge <= max_bytes_;
}

time_point local_cache::expiry_for(const std::optional<duration>& ttl,
                                   time_point now) const noexcept {
  duration d = ttl ? *ttl : default_ttl_;
  if (d <= duration::zero()) return time_point::max();
  if (d >= time_point::max() - now) return time_point::max();
  return now + d;
}

put_result local_cache::insert(entry_ptr p, time_point now) {
  entry* e = const_cast<entry*>(p.get());
  std::size_t charge = e->charge();
  entry* old = find(e->key(), e->hash_);
  if (old && old->expired(now)) {
    // An expired entry counts as absent: the put is an insert.
    remove(old);
    ++stats_.expirations;
    old = nullptr;
  }
  if (!fits(e->value_len_, charge)) {
    if (old) remove(old);
    ++stats_.rejections;
    return put_result::too_large;
  }
  std::uint8_t queue_id = in_small;
  std::uint8_t freq = 0;
  if (old) {
    // A replacement keeps the key's standing: S3-FIFO leaves it in the
    // queue it was in with its counter; LRU treats the put as a use.
    if (policy_ == eviction_policy::s3fifo) {
      queue_id = old->queue_;
      freq = old->freq_;
    }
    remove(old);
  } else if (ghost_ && ghost_->take(e->hash_, items_)) {
    queue_id = in_main;  // evicted from the small FIFO recently: a repeat key
  }
  make_room(charge, now);
  compact();  // evictions may have made room by removing many small entries
  detail::entry_access::release(std::move(p));
  e->freq_ = freq;
  table_insert(e);
  queue_push(queue_id == in_main ? main_ : small_, e, queue_id);
  if (e->has_ttl()) heap_push(e);
  bytes_ += charge;
  ++items_;
  if (old)
    ++stats_.replaces;
  else
    ++stats_.inserts;
  return old ? put_result::replaced : put_result::inserted;
}

// ---- eviction ------------------------------------------------------------

void local_cache::make_room(std::size_t charge, time_point now) {
  auto full = [&] {
    return bytes_ + charge > max_bytes_ || (max_items_ && items_ + 1 > max_items_);
  };
  // Expired entries go first: reclaiming them costs no live entry.
  while (full() && !heap_.empty() && heap_.front()->expired(now)) {
    remove(heap_.front());
    ++stats_.expirations;
  }
  while (full() && items_ > 0) evict_one();
  // The ghost's arrays are counted too: with every entry gone, give them back
  // (`fits` guaranteed that the new entry alone is within the bound).
  if (full()) release_ghost();
}

void local_cache::release_ghost() noexcept {
  if (!ghost_) return;
  bytes_ -= ghost_->bytes();
  ghost_->release();
}

void local_cache::evict_one() {
  if (policy_ == eviction_policy::lru) {
    remove(small_.tail);
    ++stats_.evictions;
    return;
  }
  bool small_full = small_.bytes >= small_target_ ||
                    (max_items_ && small_.count >= small_target_items_);
  if (small_.count && (small_full || main_.count == 0))
    evict_small();
  else
    evict_main();
}

void local_cache::evict_small() {
  while (entry* t = small_.tail) {
    if (t->freq_ >= move_to_main_threshold) {
      queue_remove(t);
      t->freq_ = 0;
      queue_push(main_, t, in_main);
    } else {
      // The push may resize the ghost (its window is the item count); its
      // bytes are part of bytes_, and make_room keeps evicting while full.
      std::size_t before = ghost_->bytes();
      ghost_->push(t->hash_, items_);
      bytes_ = bytes_ - before + ghost_->bytes();
      remove(t);
      ++stats_.evictions;
      return;
    }
  }
  // Everything in the small FIFO was promoted; evict from the main one.
  evict_main();
}

void local_cache::evict_main() {
  while (entry* t = main_.tail) {
    if (t->freq_ > 0) {
      --t->freq_;
      queue_remove(t);
      queue_push(main_, t, in_main);  // reinsert: one more lap
    } else {
      remove(t);
      ++stats_.evictions;
      return;
    }
  }
}

void local_cache::remove(entry* e) noexcept {
  table_remove(e);
  queue_remove(e);
  if (e->heap_index_ != no_heap) heap_remove(e);
  bytes_ -= e->charge();
  --items_;
  // Drop the cache's reference; readers' handles keep the block alive.
  detail::entry_access::adopt(e).reset();
}

// ---- hash table ----------------------------------------------------------

entry* local_cache::find(std::string_view key, std::uint64_t h) const noexcept {
  for (entry* e = buckets_[h & (buckets_.size() - 1)]; e; e = e->chain_)
    if (e->hash_ == h && e->key() == key) return e;
  return nullptr;
}

void local_cache::table_insert(entry* e) {
  if (items_ + 1 > buckets_.size()) grow_table();
  entry*& b = buckets_[e->hash_ & (buckets_.size() - 1)];
  e->chain_ = b;
  b = e;
}

void local_cache::table_remove(entry* e) noexcept {
  entry** pp = &buckets_[e->hash_ & (buckets_.size() - 1)];
  while (*pp != e) pp = &(*pp)->chain_;
  *pp = e->chain_;
  e->chain_ = nullptr;
}

void local_cache::grow_table() { rehash(buckets_.size() * 2); }

void local_cache::compact() {
  // Hysteresis: shrink only when 8x too big, to 2 buckets per item, so a
  // count moving around a power of two does not rehash back and forth.
  if (buckets_.size() > 64 && items_ * 8 < buckets_.size()) {
    std::size_t n = 16;
    while (n < items_ * 2) n *= 2;
    rehash(n);
  }
  if (heap_.capacity() > 64 && heap_.size() * 4 < heap_.capacity()) heap_.shrink_to_fit();
}

void local_cache::rehash(std::size_t buckets) {
  std::vector<entry*> nb(buckets, nullptr);
  std::size_t mask = nb.size() - 1;
  for (entry* head : buckets_) {
    while (head) {
      entry* next = head->chain_;
      head->chain_ = nb[head->hash_ & mask];
      nb[head->hash_ & mask] = head;
      head = next;
    }
  }
  buckets_.swap(nb);
}

// ---- queues (intrusive doubly linked lists) ------------------------------

void local_cache::queue_push(queue& q, entry* e, std::uint8_t id) noexcept {
  e->queue_ = id;
  e->prev_ = nullptr;
  e->next_ = q.head;
  if (q.head)
    q.head->prev_ = e;
  else
    q.tail = e;
  q.head = e;
  q.bytes += e->charge();
  ++q.count;
}

void local_cache::queue_remove(entry* e) noexcept {
  if (!e->queue_) return;
  queue& q = queue_of(e);
  if (e->prev_)
    e->prev_->next_ = e->next_;
  else
    q.head = e->next_;
  if (e->next_)
    e->next_->prev_ = e->prev_;
  else
    q.tail = e->prev_;
  e->prev_ = e->next_ = nullptr;
  e->queue_ = 0;
  q.bytes -= e->charge();
  --q.count;
}

// ---- expiry heap ---------------------------------------------------------

void local_cache::heap_push(entry* e) {
  heap_.push_back(e);
  e->heap_index_ = static_cast<std::uint32_t>(heap_.size() - 1);
  heap_sift_up(heap_.size() - 1);
}

void local_cache::heap_remove(entry* e) noexcept {
  std::size_t i = e->heap_index_;
  e->heap_index_ = no_heap;
  entry* last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;  // it was the last one
  heap_[i] = last;
  last->heap_index_ = static_cast<std::uint32_t>(i);
  heap_sift_up(i);
  heap_sift_down(last->heap_index_);
}

void local_cache::heap_sift_up(std::size_t i) noexcept {
  entry* e = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!(e->expires_ < heap_[parent]->expires_)) break;
    heap_[i] = heap_[parent];
    heap_[i]->heap_index_ = static_cast<std::uint32_t>(i);
    i = parent;
  }
  heap_[i] = e;
  e->heap_index_ = static_cast<std::uint32_t>(i);
}

void local_cache::heap_sift_down(std::size_t i) noexcept {
  entry* e = heap_[i];
  std::size_t n = heap_.size();
  for (;;) {
    std::size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && heap_[c + 1]->expires_ < heap_[c]->expires_) ++c;
    if (!(heap_[c]->expires_ < e->expires_)) break;
    heap_[i] = heap_[c];
    heap_[i]->heap_index_ = static_cast<std::uint32_t>(i);
    i = c;
  }
  heap_[i] = e;
  e->heap_index_ = static_cast<std::uint32_t>(i);
}

// ---- invariants (tests) --------------------------------------------------

std::string local_cache::check_invariants() const {
  std::size_t total_items = 0, total_bytes = 0, ttl_items = 0;
  for (const queue* q : {&small_, &main_}) {
    std::uint8_t id = q == &small_ ? in_small : in_main;
    std::size_t n = 0, b = 0;
    const entry* prev = nullptr;
    for (const entry* e = q->head; e; prev = e, e = e->next_) {
      if (e->prev_ != prev) return "queue back link broken";
      if (e->queue_ != id) return "entry in the wrong queue";
      if (e->freq_ > max_freq) return "frequency above cap";
      if (find(e->key(), e->hash_) != e) return "queued entry not in the hash table";
      if (e->has_ttl()) {
        ++ttl_items;
        if (e->heap_index_ >= heap_.size() || heap_[e->heap_index_] != e)
          return "entry with TTL missing from the heap";
      } else if (e->heap_index_ != no_heap) {
        return "entry without TTL in the heap";
      }
      ++n;
      b += e->charge();
    }
    if (q->tail != prev) return "queue tail wrong";
    if (n != q->count) return "queue count wrong";
    if (b != q->bytes) return "queue bytes wrong";
    total_items += n;
    total_bytes += b;
  }
  if (policy_ == eviction_policy::lru && main_.count) return "LRU uses the main queue";
  if (total_items != items_) return "item count wrong";
  if (ghost_) total_bytes += ghost_->bytes();
  if (total_bytes != bytes_) return "byte count wrong";
  if (bytes_ > max_bytes_) return "byte bound exceeded";
  if (max_items_ && items_ > max_items_) return "item bound exceeded";
  std::size_t in_table = 0;
  for (const entry* e : buckets_)
    for (; e; e = e->chain_) ++in_table;
  if (in_table != items_) return "hash table count wrong";
  if (ttl_items != heap_.size()) return "heap size wrong";
  for (std::size_t i = 1; i < heap_.size(); ++i)
    if (heap_[i]->expires_ < heap_[(i - 1) / 2]->expires_) return "heap order broken";
  return {};
}

}  // namespace fastjson::cache
