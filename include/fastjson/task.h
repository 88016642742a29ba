#pragma once
/// \file task.h
/// C++20 coroutines for handlers and middleware: `task<T>`, `sleep`,
/// `offload`, `when_all`.
///
/// A handler may be written as a coroutine returning `fastjson::task<>`:
/// \code
///   app.get("/slow", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
///     co_await fastjson::sleep(req.loop(), std::chrono::milliseconds(5));
///     auto n = co_await fastjson::offload([] { return expensive(); });  // on the thread pool
///     res.json(n);                                                      // back on the loop thread
///   });
/// \endcode
/// A task is lazy: it starts when awaited (or when the framework starts a
/// handler). Every resumption after an awaitable happens on the loop thread
/// that started the task, so a handler never needs locks for its own state.
/// Exceptions propagate to the awaiting coroutine and, for handlers, to the
/// error handling (recover middleware, 500 problem+json).

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <mutex>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fastjson/loop.h"

namespace fastjson {

template <class T = void>
class task;

namespace detail {

struct final_awaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    auto& p = h.promise();
    if (p.continuation) return p.continuation;
    if (p.on_done) p.on_done(p.on_done_ctx);
    return std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

/// Coroutine frames of `task`s come from per-thread free lists of recycled
/// frames (src/async/frame_pool.cc): steady-state request handling that
/// awaits makes no allocator calls for its frames.
/// Off in sanitizer builds and when FASTJSON_NO_FRAME_POOL is set (valgrind).
void* frame_alloc(std::size_t n);
void frame_free(void* p, std::size_t n) noexcept;
bool frame_pool_enabled() noexcept;

struct promise_base {
  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }

  std::coroutine_handle<> continuation;
  // For a task started detached by the framework: called when it finishes.
  void (*on_done)(void*) = nullptr;
  void* on_done_ctx = nullptr;
  std::exception_ptr error;

  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct promise : promise_base {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct promise<void> : promise_base {
  task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

/// A lazily started coroutine producing a `T`. Move-only; destroying a task
/// that has not finished destroys its frame.
template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return !h_ || h_.done(); }

  auto operator co_await() && noexcept {
    struct awaiter {
      handle_type h;
      bool await_ready() const noexcept { return !h || h.done(); }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> cont) noexcept {
        h.promise().continuation = cont;
        return h;
      }
      T await_resume() {
        if (!h) throw std::logic_error("co_await on an empty fastjson::task (default-constructed or moved from)");
        return h.promise().take();
      }
    };
    return awaiter{h_};
  }

  /// Framework use: starts the task without an awaiting coroutine; `done`
  /// is called (with `ctx`) when it finishes, successfully or not. The task
  /// object must outlive the run; read the outcome with `result()`.
  void start_detached(void (*done)(void*), void* ctx) {
    h_.promise().on_done = done;
    h_.promise().on_done_ctx = ctx;
    h_.resume();
  }
  /// The outcome of a finished task: its value, or its exception rethrown.
  T result() { return h_.promise().take(); }

 private:
  handle_type h_;
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<promise<T>>::from_promise(*this));
}
inline task<void> promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<promise<void>>::from_promise(*this));
}

/// Submits `job` to the process-wide offload thread pool.
void submit_to_pool(std::function<void()> job);
}  // namespace detail

/// Suspends the calling coroutine for `d`, then resumes it on `l`'s thread.
/// Must be awaited on `l`'s thread.
inline auto sleep(loop& l, std::chrono::milliseconds d) {
  struct awaiter {
    loop& l;
    std::chrono::milliseconds d;
    bool await_ready() const noexcept { return d.count() <= 0; }
    void await_suspend(std::coroutine_handle<> h) {
      l.set_timeout(d, [h] { h.resume(); });
    }
    void await_resume() const noexcept {}
  };
  return awaiter{l, d};
}

namespace detail {
/// Shared by an `offload` awaiter and its pool job, because either may go
/// first: the awaiting frame can be destroyed (its request dropped at the
/// shutdown deadline) while the job is queued or running.
template <class R, class Fn>
struct offload_state {
  explicit offload_state(Fn&& f) : fn(std::move(f)) {}
  Fn fn;  // here, not in the job: a std::function needs copyable callables
  std::mutex mu;
  std::condition_variable cv;
  enum class phase { queued, running, done } at = phase::queued;  // under mu
  bool abandoned = false;  // under mu: the awaiting frame is being destroyed
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value{};
  std::exception_ptr error;
};
}  // namespace detail

/// Runs `fn` on the process-wide thread pool (for blocking work: file I/O,
/// CPU-heavy computation, a blocking client library) and resumes the
/// awaiting coroutine with its result, or its exception, on the loop thread
/// that awaited. Awaited off a loop thread, the coroutine resumes on the
/// pool thread.
///
/// If the awaiting coroutine is destroyed first (a request still waiting at
/// the shutdown deadline), a job that has not started never runs, and one
/// that is running is waited for by the destruction, since `fn` may read
/// the frame (`[&]` captures); its result is then discarded. So a job that
/// never returns holds up shutdown: give blocking calls their own timeouts.
template <class Fn>
auto offload(Fn fn) {
  using R = std::invoke_result_t<Fn&>;
  using state = detail::offload_state<R, Fn>;
  struct awaiter {
    explicit awaiter(Fn f) : fn(std::move(f)) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    ~awaiter() {
      if (!st) return;  // never suspended, or already resumed
      std::unique_lock lock(st->mu);
      st->abandoned = true;
      st->cv.wait(lock, [this] { return st->at != state::phase::running; });
    }
    Fn fn;
    std::shared_ptr<state> st;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      st = std::make_shared<state>(std::move(fn));
      loop* home = loop::current();
      detail::submit_to_pool([s = st, h, home] {
        {
          std::lock_guard lock(s->mu);
          if (s->abandoned) return;  // the frame is gone: do not run
          s->at = state::phase::running;
        }
        try {
          if constexpr (std::is_void_v<R>) {
            s->fn();
          } else {
            s->value.emplace(s->fn());
          }
        } catch (...) {
          s->error = std::current_exception();
        }
        bool resume_here = false;
        {
          std::lock_guard lock(s->mu);
          s->at = state::phase::done;
          s->cv.notify_all();
          // Posted under the lock: a frame being destroyed waits here, so
          // the loop (destroyed after its frames) is still there to post to.
          if (!s->abandoned) {
            if (home)
              home->post([s, h] {
                bool gone;
                {
                  std::lock_guard l(s->mu);
                  gone = s->abandoned;
                }
                if (!gone) h.resume();
              });
            else
              resume_here = true;
          }
        }
        if (resume_here) h.resume();
      });
    }
    R await_resume() {
      auto s = std::move(st);  // resumed: nothing left to withdraw from
      if (s->error) std::rethrow_exception(s->error);
      if constexpr (!std::is_void_v<R>) return std::move(*s->value);
    }
  };
  return awaiter(std::move(fn));
}

namespace detail {
/// Shared by `when_all` and its drivers: the last one to finish resumes the
/// awaiting coroutine.
struct when_all_state {
  std::atomic<std::size_t> left{0};
  std::coroutine_handle<> parent;
};

/// Awaits one task of a `when_all`, keeping its outcome; a coroutine of its
/// own so that every task runs up to its first suspension before the next
/// one starts.
struct when_all_driver {
  struct promise_type {
    when_all_state* state = nullptr;
    when_all_driver get_return_object() noexcept {
      return when_all_driver{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    auto final_suspend() const noexcept {
      struct last {
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
          when_all_state& st = *h.promise().state;
          if (st.left.fetch_sub(1, std::memory_order_acq_rel) == 1) return st.parent;
          return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
      };
      return last{};
    }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }  // drive() catches
  };
  explicit when_all_driver(std::coroutine_handle<promise_type> h) noexcept : h(h) {}
  when_all_driver(when_all_driver&& o) noexcept : h(std::exchange(o.h, {})) {}
  when_all_driver& operator=(when_all_driver&&) = delete;
  ~when_all_driver() {
    if (h) h.destroy();
  }
  std::coroutine_handle<promise_type> h;
};

template <class T>  // char, not bool, for void: std::vector<bool> has no bool&
using when_all_slot = std::conditional_t<std::is_void_v<T>, char, std::optional<T>>;

template <class T>
when_all_driver when_all_drive(task<T>& t, when_all_slot<T>& out, std::exception_ptr& error) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      out = 1;
    } else {
      out.emplace(co_await std::move(t));
    }
  } catch (...) {
    error = std::current_exception();
  }
}

/// Starts every driver, then suspends until the last one finishes (or does
/// not suspend at all if they all finished synchronously).
struct when_all_awaiter {
  std::span<when_all_driver> drivers;
  when_all_state& state;
  bool await_ready() const noexcept { return drivers.empty(); }
  bool await_suspend(std::coroutine_handle<> parent) noexcept {
    state.parent = parent;
    // One count more than there are drivers, dropped after all started: a
    // driver finishing during this loop cannot resume `parent` yet.
    state.left.store(drivers.size() + 1, std::memory_order_relaxed);
    for (auto& d : drivers) {
      d.h.promise().state = &state;
      d.h.resume();
    }
    return state.left.fetch_sub(1, std::memory_order_acq_rel) != 1;
  }
  void await_resume() const noexcept {}
};
}  // namespace detail

/// Runs `tasks` concurrently and returns their results in order once all
/// have finished. Each task runs up to its first suspension before the next
/// starts, so on a loop thread N database queries are all queued at once
/// (spread over the reader threads) instead of one after another:
/// \code
///   std::vector<fastjson::task<std::optional<world>>> reads;
///   for (int i = 0; i < n; ++i) reads.push_back(db->query_one<world>(sql, random_id()));
///   auto rows = co_await fastjson::when_all(std::move(reads));
/// \endcode
/// Every task runs to its end even if one throws; then the first exception
/// (in `tasks` order) is rethrown and the other results are dropped.
/// Destroying the awaiting coroutine destroys the unfinished tasks. For
/// `task<void>` the result is the number of tasks.
template <class T>
auto when_all(std::vector<task<T>> tasks)
    -> task<std::conditional_t<std::is_void_v<T>, std::size_t, std::vector<T>>> {
  const std::size_t n = tasks.size();
  std::vector<detail::when_all_slot<T>> out(n);
  std::vector<std::exception_ptr> errors(n);
  std::vector<detail::when_all_driver> drivers;
  drivers.reserve(n);
  for (std::size_t i = 0; i < n; ++i) drivers.push_back(detail::when_all_drive(tasks[i], out[i], errors[i]));
  detail::when_all_state state;
  detail::when_all_awaiter all{drivers, state};  // a named local (see sharded_cache.h on GCC 12)
  co_await all;
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  if constexpr (std::is_void_v<T>) {
    co_return n;
  } else {
    std::vector<T> values;
    values.reserve(n);
    for (auto& v : out) values.push_back(std::move(*v));
    co_return values;
  }
}

/// `when_all` for tasks of different types: a tuple of their results.
/// (`task<void>` is not accepted here; use the vector form.)
template <class... T>
task<std::tuple<T...>> when_all(task<T>... tasks) {
  static_assert((!std::is_void_v<T> && ...), "when_all(task<void>, ...): use when_all(std::vector<task<void>>)");
  std::tuple<task<T>...> ts(std::move(tasks)...);
  std::tuple<detail::when_all_slot<T>...> out;
  std::array<std::exception_ptr, sizeof...(T)> errors;
  auto drivers = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<detail::when_all_driver, sizeof...(T)>{
        detail::when_all_drive(std::get<I>(ts), std::get<I>(out), errors[I])...};
  }(std::index_sequence_for<T...>{});
  detail::when_all_state state;
  detail::when_all_awaiter all{drivers, state};  // a named local (see sharded_cache.h on GCC 12)
  co_await all;
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  co_return std::apply([](auto&... v) { return std::tuple<T...>(std::move(*v)...); }, out);
}

/// Runs `t` to completion from a thread that runs no loop (main(), a test,
/// a migration step) and returns its result or rethrows its exception.
/// Awaitables inside resume on whatever thread completes them.
template <class T>
T sync_wait(task<T> t) {
  struct state {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  } st;
  t.start_detached(
      [](void* p) {
        auto* s = static_cast<state*>(p);
        std::lock_guard lock(s->mu);
        s->done = true;
        s->cv.notify_all();
      },
      &st);
  std::unique_lock lock(st.mu);
  st.cv.wait(lock, [&] { return st.done; });
  return t.result();
}

}  // namespace fastjson
