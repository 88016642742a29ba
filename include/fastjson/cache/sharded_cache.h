#pragma once
/// \file cache/sharded_cache.h
/// The thread-safe cache: N `local_cache` shards, each behind its own mutex
/// (no global lock). A key's shard is chosen by the high bits of its hash;
/// each shard holds at most `max_bytes / shards` bytes.
///
/// Lookups return an `entry_ptr`, so the shard lock is held only for the
/// hash-table probe and the policy update, never while the value is written
/// to a socket:
/// ```cpp
/// fastjson::cache::sharded_cache c({.max_bytes = 1 << 30, .shards = 16});
/// if (auto e = c.get(path)) {   // lock taken and released inside get
///   send(e->value());           // no lock held; eviction can't free the bytes
/// }
/// ```

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fastjson/cache/entry.h"
#include "fastjson/cache/local_cache.h"
#include "fastjson/cache/options.h"
#include "fastjson/loop.h"
#include "fastjson/task.h"

namespace fastjson::cache {

/// A byte-bounded cache safe to use from many threads. Same operations as
/// `local_cache`, plus request coalescing in `get_or_load`.
class sharded_cache {
 public:
  explicit sharded_cache(options opts = {});
  ~sharded_cache();
  sharded_cache(const sharded_cache&) = delete;
  sharded_cache& operator=(const sharded_cache&) = delete;

  entry_ptr get(std::string_view key) { return get(key, now()); }
  entry_ptr get(std::string_view key, time_point now);
  entry_ptr peek(std::string_view key) const { return peek(key, now()); }
  entry_ptr peek(std::string_view key, time_point now) const;
  bool contains(std::string_view key) const { return bool(peek(key)); }

  /// The entry (including the copy of `value` and its ETag) is built before
  /// the shard lock is taken; the lock covers only the table update and any
  /// evictions.
  put_result put(std::string_view key, std::string_view value, const put_options& po = {}) {
    return put(key, value, po, now());
  }
  put_result put(std::string_view key, std::string_view value, const put_options& po,
                 time_point now);
  bool erase(std::string_view key) { return erase(key, now()); }
  bool erase(std::string_view key, time_point now);
  void clear();
  /// Reclaims up to `budget` expired entries in total, visiting shards
  /// round-robin from where the previous call stopped (each shard's lock is
  /// held only for its part). Returns the number reclaimed.
  std::size_t sweep(time_point now, std::size_t budget);
  std::size_t sweep(std::size_t budget = SIZE_MAX) { return sweep(now(), budget); }

  /// Returns the cached entry, or loads it with `loader()` (returning a
  /// `loaded_value`) with request coalescing: of all threads that miss the
  /// same key while a load is running, only the first calls its loader; the
  /// others block until it finishes and get the same `entry_ptr`. If the
  /// loader throws, every waiter gets the same exception and nothing is
  /// stored. The loader runs without any lock held. If `put`, `erase` or
  /// `clear` touches the key while it loads, the result is still returned
  /// to the waiters but not stored (the concurrent write is newer).
  /// A loader must not call `get_or_load` for the same key (it would wait on
  /// itself). On an event loop thread use `get_or_load_async`: a blocked
  /// loop stalls all its connections, and waits forever if the load it
  /// waits for runs on that same loop.
  template <class Loader>
  entry_ptr get_or_load(std::string_view key, Loader&& loader) {
    if (auto e = get(key)) return e;
    return load(key, std::function<loaded_value()>(std::forward<Loader>(loader)));
  }

  /// `get_or_load` for coroutine handlers: `co_await c.get_or_load_async(key,
  /// loader)`, where `loader()` returns a `task<loaded_value>` (which may
  /// itself `co_await` a database). Of all
  /// misses of one key while a load runs, from coroutines or from blocking
  /// `get_or_load` callers on any thread, only the first runs its loader;
  /// waiting coroutines are suspended, not blocked, and resume on the loop
  /// they awaited on (inline when awaited off any loop). A loader exception
  /// reaches every waiter and nothing is stored; a racing put/erase/clear
  /// wins as in `get_or_load`. If the loading coroutine is destroyed before
  /// its loader finishes (its request dropped at shutdown), the waiters get
  /// a `std::runtime_error` and the next miss loads again.
  ///
  /// With GCC 12, declare a loader lambda that captures by value as a named
  /// local, as below, not as a temporary inside the `co_await` expression:
  /// GCC 12 miscompiles a capturing lambda temporary in a `co_await`
  /// full-expression (its captured strings are freed twice).
  ///
  /// \code
  ///   app.get("/users/:id", [&](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
  ///     std::string id(req.param("id"));
  ///     auto load = [&db, id]() -> fastjson::task<fastjson::cache::loaded_value> {
  ///       auto u = co_await db->query_one<user>("SELECT * FROM users WHERE id = ?", id);  // std::optional<user>
  ///       co_return fastjson::cache::loaded_value{.value = fastjson::json::to_string(u)};
  ///     };
  ///     auto e = co_await cache.get_or_load_async("user:" + id, load);
  ///     res.send(e->value(), "application/json");
  ///   });
  /// \endcode
  template <class Loader>
  task<entry_ptr> get_or_load_async(std::string key, Loader&& loader) {
    // One coroutine body for every loader type: the loader is erased into
    // a std::function here, outside any coroutine frame.
    return load_async(std::move(key), std::function<task<loaded_value>()>(std::forward<Loader>(loader)));
  }

  class ticket;
  /// Coalescing for values made outside a loader: `mw::response_cache`'s
  /// "load" is a whole request through the handler chain. Call after a miss.
  /// The ticket holds the entry if someone stored the key since (`hit()`);
  /// else its holder leads (`leader()`: make the value, `put` it, then
  /// `land()`, which wakes the waiters; destroying the ticket lands it too)
  /// or waits (`co_await t.wait(limit)`, then look the key up again: the
  /// leader may have stored nothing, or under another key). Leaders and
  /// waiters share one table with `get_or_load[_async]` (a loader's waiter
  /// whose ticket leader stored nothing loads again itself). `refresh`:
  /// the key holds an entry the caller wants replaced (stale-while-
  /// revalidate): no `hit()`, lead the refresh or learn that one runs.
  ticket join(std::string_view key, bool refresh = false);

  cache_stats stats() const;
  /// The configured bound; each shard holds at most `max_bytes() / shards()`.
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  std::string_view policy() const noexcept { return to_string(policy_); }
  std::size_t shards() const noexcept { return shard_count_; }
  time_point now() const { return clock_ ? clock_() : clock_type::now(); }
  /// `local_cache::check_invariants` over every shard (locks each in turn).
  std::string check_invariants() const;

 private:
  struct shard;
  shard& shard_for(std::uint64_t h) const noexcept;
  entry_ptr load(std::string_view key, std::function<loaded_value()> loader);

  task<entry_ptr> load_async(std::string key, std::function<task<loaded_value>()> loader);

  // One load in progress ("flight"), shared by the blocking and the
  // coroutine paths (sharded_cache.cc).
  struct flight_start {
    entry_ptr hit;                  // stored since the miss: no load needed
    std::shared_ptr<void> flight;   // else the load to lead or to wait for
    bool leader = false;
  };
  flight_start begin_flight(std::string_view key, bool refresh = false);
  /// The leader's landing: stores the value (unless invalidated or not
  /// cacheable), unregisters the flight, wakes every waiter; returns the
  /// entry or rethrows `error`.
  entry_ptr end_flight(std::string_view key, const std::shared_ptr<void>& flight, loaded_value* lv,
                       std::exception_ptr error);
  void abandon_flight(std::string_view key, const std::shared_ptr<void>& flight) noexcept;
  /// A ticket leader's landing: stores nothing, wakes every waiter.
  void end_flight_quietly(std::string_view key, const std::shared_ptr<void>& flight) noexcept;
  /// Registers `h` (under `id`) to be resumed when the flight lands, posted
  /// to `home` (or inline, without a loop); false if it already has.
  static bool wait_flight(const std::shared_ptr<void>& flight, const void* id, loop* home,
                          std::coroutine_handle<> h);
  /// Withdraws a registration that has not run (its coroutine is being
  /// destroyed, or stops waiting); false if the landing already took it.
  static bool cancel_wait(const std::shared_ptr<void>& flight, const void* id) noexcept;

  // Suspends until the flight lands, or `limit` passes (0: no limit; needs
  // a loop). `co_await` yields true if it landed, false on the time limit.
  // Its address is its registration; destroying it withdraws it.
  class flight_awaiter {
   public:
    flight_awaiter(std::shared_ptr<void> f, std::chrono::milliseconds limit)
        : flight_(std::move(f)), limit_(limit) {}
    flight_awaiter(const flight_awaiter&) = delete;
    flight_awaiter& operator=(const flight_awaiter&) = delete;
    ~flight_awaiter() {
      if (registered_) cancel_wait(flight_, this);
      if (timer_alive_) *timer_alive_ = false;
    }
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      loop* home = loop::current();
      registered_ = wait_flight(flight_, this, home, h);
      if (registered_ && home && limit_.count() > 0) {
        // Runs on `home`, like the landing's resumption: whichever of the
        // two withdraws the registration first resumes the coroutine.
        timer_alive_ = std::make_shared<bool>(true);
        home->set_timeout(limit_, [alive = timer_alive_, self = this, h] {
          if (*alive && cancel_wait(self->flight_, self)) {
            self->registered_ = false;
            self->timed_out_ = true;
            h.resume();
          }
        });
      }
      return registered_;
    }
    bool await_resume() noexcept {
      registered_ = false;
      return !timed_out_;
    }

   private:
    std::shared_ptr<void> flight_;
    std::chrono::milliseconds limit_;
    std::shared_ptr<bool> timer_alive_;
    bool registered_ = false;
    bool timed_out_ = false;
  };
  /// The landed flight's entry, or its exception (blocks until it lands).
  static entry_ptr flight_result(const std::shared_ptr<void>& flight);

  std::size_t max_bytes_;
  eviction_policy policy_;
  std::function<time_point()> clock_;
  std::uint64_t seed_;
  std::size_t shard_count_;
  std::unique_ptr<std::unique_ptr<shard>[]> shards_;
  std::atomic<std::size_t> sweep_cursor_{0};
};

/// See `sharded_cache::join`. Movable, not copyable; one per request.
class sharded_cache::ticket {
 public:
  ticket() = default;
  ticket(ticket&& o) noexcept { *this = std::move(o); }
  ticket& operator=(ticket&& o) noexcept {
    if (this != &o) {
      land();
      cache_ = std::exchange(o.cache_, nullptr);
      key_ = std::move(o.key_);
      flight_ = std::move(o.flight_);
      hit_ = std::move(o.hit_);
      leader_ = std::exchange(o.leader_, false);
    }
    return *this;
  }
  ~ticket() { land(); }

  /// The entry stored since the caller's miss (no flight then).
  const entry_ptr& hit() const noexcept { return hit_; }
  /// This holder makes the value; the others (no hit, not leader) wait for
  /// its `land()`.
  bool leader() const noexcept { return leader_; }
  /// The key (leaders only).
  const std::string& key() const noexcept { return key_; }

  /// Leader: ends the flight and wakes every waiter (on their loops). Store
  /// the value with `put` first. Idempotent; a no-op for non-leaders.
  void land() noexcept {
    if (leader_ && cache_) cache_->end_flight_quietly(key_, flight_);
    leader_ = false;
  }
  /// Waiter: `auto w = t.wait(limit); bool landed = co_await w;` suspends
  /// until the leader lands (true) or `limit` passes (false; 0 = no limit).
  /// Either way, look the key up again afterwards. (Keep the awaiter a
  /// named local: see get_or_load_async on GCC 12.)
  flight_awaiter wait(std::chrono::milliseconds limit) const { return flight_awaiter(flight_, limit); }

 private:
  friend class sharded_cache;
  sharded_cache* cache_ = nullptr;
  std::string key_;
  std::shared_ptr<void> flight_;
  entry_ptr hit_;
  bool leader_ = false;
};

inline sharded_cache::ticket sharded_cache::join(std::string_view key, bool refresh) {
  flight_start st = begin_flight(key, refresh);
  ticket t;
  t.hit_ = std::move(st.hit);
  if (!t.hit_) {
    t.cache_ = this;
    t.flight_ = std::move(st.flight);
    t.leader_ = st.leader;
    if (st.leader) t.key_.assign(key);
  }
  return t;
}

inline task<entry_ptr> sharded_cache::load_async(std::string key, std::function<task<loaded_value>()> loader) {
  if (auto e = get(key)) co_return e;
  flight_start st = begin_flight(key);
  if (st.hit) co_return st.hit;
  if (!st.leader) {
    // Registered while suspended; a frame destroyed while waiting (its
    // request dropped at shutdown) withdraws itself, so the landing never
    // resumes a dead coroutine.
    flight_awaiter wait(st.flight, {});  // a named local (GCC 12 and co_await temporaries, above)
    co_await wait;
    if (auto e = flight_result(st.flight)) co_return e;
    // A ticket's leader landed without storing (see `join`): load it ourselves.
    co_return co_await load_async(std::move(key), std::move(loader));
  }
  // Lands the flight even if this frame is destroyed while the loader is
  // suspended, so waiters are never left behind.
  struct guard {
    guard(sharded_cache& cache, std::string_view k, std::shared_ptr<void> f)
        : c(cache), key(k), flight(std::move(f)) {}
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    ~guard() {
      if (!landed) c.abandon_flight(key, flight);
    }
    sharded_cache& c;
    std::string_view key;  // the frame's own copy
    std::shared_ptr<void> flight;
    bool landed = false;
  };
  guard g(*this, key, st.flight);
  std::optional<loaded_value> lv;
  std::exception_ptr error;
  try {
    auto pending = loader();
    loaded_value v = co_await std::move(pending);
    lv.emplace(std::move(v));
  } catch (...) {
    error = std::current_exception();
  }
  g.landed = true;
  co_return end_flight(key, st.flight, lv ? &*lv : nullptr, error);
}

}  // namespace fastjson::cache
