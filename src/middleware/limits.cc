// mw::body_limit, mw::timeout, mw::rate_limit.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include "app_core.h"
#include "fastjson/cache/entry.h"
#include "fastjson/mw/builtin.h"
#include "http/slot.h"
#include "net/loop_impl.h"

namespace fastjson::mw {
namespace {

class body_limit_mw final : public middleware {
 public:
  explicit body_limit_mw(std::size_t n) : max_(n) {}
  bool before(request& req, response& res, void*) override {
    if (req.body().size() <= max_) return true;
    res.problem(413, fmt::format("the request body is larger than this route accepts ({} bytes)", max_));
    res.close_connection();
    return false;
  }

 private:
  std::size_t max_;
};

struct timeout_state {
  detail::deadline_node node;
  detail::request_slot* slot = nullptr;
  int status = 504;
};

class timeout_mw final : public middleware_with_state<timeout_state> {
 public:
  timeout_mw(std::chrono::milliseconds limit, int status) : limit_(limit), status_(status) {}

  bool before(request& req, response&, timeout_state& st) override {
    auto& l = req.loop().impl();
    st.slot = &req.slot();
    st.status = status_;
    st.node.fire = &fire;
    int id = l.list_for(static_cast<std::uint64_t>(limit_.count()));
    l.lists[static_cast<std::size_t>(id)].push(&st.node, id, uv_now(&l.uv));
    return true;
  }
  void after(request& req, response&, timeout_state& st) override {
    if (st.node.list >= 0) req.loop().impl().lists[static_cast<std::size_t>(st.node.list)].remove(&st.node);
  }

 private:
  static void fire(detail::deadline_node* n) {
    auto* st = reinterpret_cast<timeout_state*>(reinterpret_cast<char*>(n) - offsetof(timeout_state, node));
    detail::request_slot& slot = *st->slot;
    if (slot.finished || !slot.handler_running) return;
    slot.res.reset();  // the handler is still running: nothing it set goes out
    detail::write_problem(slot.res, st->status,
                          st->status == 503 ? "the server could not answer in time" : "the handler timed out", {});
    // Answer now (running the `after`s, which destroy this state); the
    // handler's own result will be discarded when it finishes.
    slot.route_core->finish(slot);
  }

  std::chrono::milliseconds limit_;
  int status_;
};

// --- rate_limit -------------------------------------------------------------
//
// One table per middleware instance, shared by every worker loop, lock-free:
// max_clients slots of one 64-bit word each, in sets of up to 8 ways (one
// cache line per set). A word packs a 24-bit key fingerprint (0 = empty) and
// a 40-bit GCRA "theoretical arrival time" (TAT). Time is counted in units
// of 1/256 of the emission interval T = 1/per_second, so T is exactly 256
// units whatever the rate, and the 40-bit ring spans 2^32 intervals. Every
// change of a word is one compare-and-swap; a rejected request writes
// nothing. The public header (fastjson/mw/builtin.h) explains the
// approximations.
//
// Why these units rather than microseconds: T in whole microseconds would
// round (300,000/s would run 11% fast), windows would have to be capped in
// wall time (2^40 us is 12.7 days), and a word left untouched for a whole
// turn of the ring would be misread as charged with probability
// window / 2^40, up to 8% for a one-day window; here it is about
// burst / 2^31 whatever the rate.
//
// Why the earliest TAT as the victim rather than the least recently seen
// client: the word has no room for a second time, and a rejected request
// would have to write it (a shared cache line written by every request of
// a flood). The earliest TAT is the client charged least recently, weighted
// by how much it spent, so evicting it hands out the least budget, and a
// limited client cannot be pushed out by a flood of one-request addresses.

class rate_table {
 public:
  static constexpr unsigned ways_per_set = 8;
  static constexpr unsigned time_bits = 40;
  static constexpr std::uint64_t time_mask = (std::uint64_t{1} << time_bits) - 1;
  static constexpr std::uint64_t units_per_token = 256;  // T, in time units
  static constexpr double max_burst = 1 << 20;
  static constexpr double min_rate = 1e-9, max_rate = 1e9;
  static constexpr std::size_t max_slots = std::size_t{1} << 32;

  struct verdict {
    bool allowed;
    std::uint64_t retry_after_s;  // when !allowed: whole seconds, at least 1
  };

  explicit rate_table(const rate_limit_options& o) {
    // Refused here, loudly, rather than misbehaving per request: a zero or
    // negative rate would divide by zero or never refill, NaN compares false
    // everywhere, and a burst below one token admits nobody.
    if (!(o.per_second >= min_rate && o.per_second <= max_rate))
      throw std::invalid_argument(fmt::format(
          "mw::rate_limit: per_second must be a positive number of requests per second in [{}, {}] (got {})",
          min_rate, max_rate, o.per_second));
    if (!(o.burst >= 1 && o.burst <= max_burst))
      throw std::invalid_argument(
          fmt::format("mw::rate_limit: burst must be at least 1 and at most {} requests (got {})", max_burst, o.burst));
    if (o.max_clients == 0 || o.max_clients > max_slots)
      throw std::invalid_argument(
          fmt::format("mw::rate_limit: max_clients must be between 1 and {} (got {})", max_slots, o.max_clients));

    window_ = static_cast<std::uint64_t>(std::llround(o.burst * units_per_token));
    limit_ = window_ - units_per_token;  // allowed iff tat' - now <= limit_
    units_per_second_ = o.per_second * units_per_token;
    // A stored TAT is never more than `window_` ahead of a clock read after
    // loading it; the margin only guards against clocks that are not quite
    // monotonic across cores. Anything further ahead is a word that wrapped.
    horizon_ = window_ + std::max(window_, static_cast<std::uint64_t>(std::ceil(units_per_second_ / 1000)));
    // Units per nanosecond as mult_ * 2^-shift_, with 63 significant bits:
    // the conversion is exact to a unit for any uptime and rate.
    int e = 0;
    double f = std::frexp(units_per_second_ / 1e9, &e);  // f in [0.5, 1)
    mult_ = static_cast<std::uint64_t>(std::ldexp(f, 63));
    shift_ = 63 - e;  // within [54, 114] for rates within [min_rate, max_rate]

    // Sets of equal size (differing by at most one way), so that every set
    // gets the same share of clients and the capacity is exactly max_clients.
    nsets_ = (o.max_clients + ways_per_set - 1) / ways_per_set;
    base_ways_ = static_cast<unsigned>(o.max_clients / nsets_);
    extra_sets_ = o.max_clients % nsets_;
    sets_ = std::make_unique<set[]>(nsets_);  // value-initialized: every word 0, empty

    std::random_device rd;
    seed_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    epoch_ = std::chrono::steady_clock::now();
  }

  verdict charge(std::string_view key) noexcept {
    // Keyed with a secret per-instance seed, so nobody can pick addresses
    // that land in a chosen set or share a chosen client's fingerprint.
    std::uint64_t h = cache::hash64(key.data(), key.size(), seed_);
    std::uint64_t fp = h >> time_bits;  // the top 24 bits
    if (fp == 0) fp = 1;
    // The set from the other 40 bits (multiply-shift instead of a modulo).
    std::size_t si = static_cast<std::size_t>((static_cast<u128>(h << (64 - time_bits)) * nsets_) >> 64);
    set& s = sets_[si];
    unsigned ways = base_ways_ + (si < extra_sets_ ? 1u : 0u);
    for (;;) {
      std::uint64_t w[ways_per_set];
      for (unsigned i = 0; i < ways; ++i) w[i] = s.way[i].load(std::memory_order_acquire);
      // The clock is read after the loads: every TAT seen was stored by a
      // request whose clock read came earlier, so it is at most window_ ahead.
      std::uint64_t now = now_units();

      unsigned hit = ways;
      std::uint64_t ahead = 0;  // how far the hit's TAT is ahead of now (0: at rest)
      for (unsigned i = 0; i < ways; ++i) {
        if ((w[i] >> time_bits) != fp) continue;
        std::uint64_t a = charged(w[i], now);
        // Two words for one fingerprint can exist after racing installs:
        // the most charged one is authoritative.
        if (hit == ways || a > ahead) {
          hit = i;
          ahead = a;
        }
      }
      if (hit < ways) {
        if (ahead > limit_) return {false, retry_after(ahead - limit_)};
        std::uint64_t next = pack(fp, now + ahead + units_per_token);
        if (s.way[hit].compare_exchange_weak(w[hit], next, std::memory_order_acq_rel, std::memory_order_relaxed))
          return {true, 0};
        continue;  // another request changed the word: decide again
      }

      // A client not in the table has a full bucket. Its victim: an empty
      // word, else one at rest (forgetting it loses nothing), else the one
      // with the earliest TAT (the fullest bucket: the least recently
      // charged client, and the one whose reset gives away the least).
      unsigned victim = 0;
      std::uint64_t best = UINT64_MAX;
      for (unsigned i = 0; i < ways; ++i) {
        std::uint64_t cost = w[i] == 0 ? 0 : charged(w[i], now) + 1;
        if (cost < best) {
          victim = i;
          best = cost;
        }
        if (cost == 0) break;
      }
      // burst >= 1, so a full bucket always admits the request.
      if (s.way[victim].compare_exchange_weak(w[victim], pack(fp, now + units_per_token), std::memory_order_acq_rel,
                                              std::memory_order_relaxed))
        return {true, 0};
    }
  }

 private:
  __extension__ typedef unsigned __int128 u128;

  struct alignas(64) set {
    std::atomic<std::uint64_t> way[ways_per_set];
  };
  static_assert(sizeof(set) == 64);
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

  static std::uint64_t pack(std::uint64_t fp, std::uint64_t tat) noexcept { return fp << time_bits | (tat & time_mask); }

  std::uint64_t now_units() const noexcept {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - epoch_).count();
    return static_cast<std::uint64_t>((static_cast<u128>(static_cast<std::uint64_t>(ns)) * mult_) >> shift_);
  }

  // How far the word's TAT is ahead of `now`, or 0 if its bucket is full
  // (TAT in the past). The difference is taken on the 40-bit ring; a TAT
  // further ahead than any request could have put it is a word untouched
  // for so long that its time wrapped around, and is at rest as well.
  std::uint64_t charged(std::uint64_t word, std::uint64_t now) const noexcept {
    std::int64_t d = static_cast<std::int64_t>((word - now) << (64 - time_bits)) >> (64 - time_bits);
    return d > 0 && static_cast<std::uint64_t>(d) <= horizon_ ? static_cast<std::uint64_t>(d) : 0;
  }

  std::uint64_t retry_after(std::uint64_t debt_units) const noexcept {
    double s = std::ceil(static_cast<double>(debt_units) / units_per_second_);
    return s < 1 ? 1 : static_cast<std::uint64_t>(s);
  }

  std::unique_ptr<set[]> sets_;
  std::size_t nsets_ = 0, extra_sets_ = 0;
  unsigned base_ways_ = 0;
  std::uint64_t window_ = 0, limit_ = 0, horizon_ = 0;
  double units_per_second_ = 0;
  std::uint64_t mult_ = 0;
  int shift_ = 0;
  std::uint64_t seed_ = 0;
  std::chrono::steady_clock::time_point epoch_;
};

class rate_limit_mw final : public middleware {
 public:
  explicit rate_limit_mw(const rate_limit_options& o) : table_(o) {}
  bool before(request& req, response& res, void*) override {
    auto v = table_.charge(req.client_address());
    if (v.allowed) return true;
    res.problem(429, "too many requests from this client; retry later");
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v.retry_after_s);
    res.header("Retry-After", std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    return false;
  }

 private:
  rate_table table_;
};

}  // namespace

middleware_ptr body_limit(std::size_t max_bytes) { return std::make_shared<body_limit_mw>(max_bytes); }
middleware_ptr timeout(std::chrono::milliseconds limit, int status) {
  return std::make_shared<timeout_mw>(limit, status);
}
middleware_ptr rate_limit(rate_limit_options opts) { return std::make_shared<rate_limit_mw>(opts); }

}  // namespace fastjson::mw
