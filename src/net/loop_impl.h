#pragma once
// One worker's event loop: the libuv loop plus everything shared by the
// connections that live on it (read buffer, output scratch, request slots,
// timeout lists, the cached Date line). Only net/ includes <uv.h>.

#include <uv.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "fastjson/buffer.h"
#include "fastjson/loop.h"
#include "http/session.h"

namespace fastjson::detail {

class app_core;

/// An intrusive list node for connection timeouts. Every list holds nodes
/// of one timeout length, so appending keeps it sorted by deadline and the
/// tick only looks at the head: O(1) per state change, no per-request timer.
struct deadline_node {
  deadline_node* prev = nullptr;
  deadline_node* next = nullptr;
  std::uint64_t deadline = 0;
  int list = -1;
  /// Called on expiry; nullptr means loop_impl::on_expire (connections).
  void (*fire)(deadline_node*) = nullptr;
};

struct deadline_list {
  deadline_node* head = nullptr;
  deadline_node* tail = nullptr;
  std::uint64_t timeout_ms = 0;
  void push(deadline_node* n, int id, std::uint64_t now) noexcept {
    n->deadline = now + timeout_ms;
    n->list = id;
    n->prev = tail;
    n->next = nullptr;
    if (tail)
      tail->next = n;
    else
      head = n;
    tail = n;
  }
  void remove(deadline_node* n) noexcept {
    if (n->prev)
      n->prev->next = n->next;
    else
      head = n->next;
    if (n->next)
      n->next->prev = n->prev;
    else
      tail = n->prev;
    n->prev = n->next = nullptr;
    n->list = -1;
  }
};

/// Makes `l` the calling thread's loop::current() for a scope.
struct current_scope {
  explicit current_scope(struct loop_impl& l) noexcept;
  ~current_scope();
  fastjson::loop* prev;
};

/// A loop::set_timeout timer. Linked into its loop while armed so that a
/// loop closing with timers still pending frees them (uv_close with a null
/// callback would leak them).
struct one_shot_timer {
  uv_timer_t t{};
  std::function<void()> fn;
  one_shot_timer* prev = nullptr;
  one_shot_timer* next = nullptr;
};

struct loop_impl {
  explicit loop_impl(app_core& app);
  ~loop_impl();
  loop_impl(const loop_impl&) = delete;

  /// Same-thread deferred call (runs after the current callback returns,
  /// before the loop blocks again). No allocation in steady state.
  void defer(void (*fn)(void*), void* ctx);
  /// Runs the calls deferred so far (the idle handle does this each turn;
  /// in-process benchmarks call it directly).
  void run_deferred();
  /// Thread-safe post (fastjson::loop::post). After close_all() it drops
  /// `fn`: work finishing on another thread after the server stopped never
  /// reaches a closed loop.
  void post(std::function<void()> fn);
  /// Runs the loop until stopped; sets loop::current() for this thread.
  void run();
  /// Closes every handle and runs the loop until they are closed.
  void close_all();
  /// Refreshes the cached Date line if the second changed.
  void update_date();

  uv_loop_t uv{};
  fastjson::loop handle;
  app_core& app;
  slot_pool pool;

  // Cross-thread posts.
  uv_async_t async{};
  std::mutex post_mu;
  std::vector<std::function<void()>> posted, posted_run;
  bool post_closed = false;  // under post_mu; set by close_all()

  // Same-thread deferred calls.
  uv_idle_t idle{};
  std::vector<std::pair<void (*)(void*), void*>> deferred, deferred_run;

  // Armed loop::set_timeout timers.
  one_shot_timer* timers = nullptr;
  void unlink(one_shot_timer* t) noexcept {
    if (t->prev)
      t->prev->next = t->next;
    else
      timers = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = nullptr;
  }

  // Periodic tick: Date line and timeouts.
  uv_timer_t tick{};
  char date[64]{};
  std::size_t date_len = 0;
  std::time_t date_sec = 0;

  // Shared I/O memory.
  std::unique_ptr<char[]> read_buf;
  std::size_t read_cap = 0;
  buffer out_scratch;
  session* scratch_owner = nullptr;

  enum { list_idle, list_header, list_body, list_linger, list_count };
  std::vector<deadline_list> lists;
  /// The list for a timeout length (created on first use; setup-time cost).
  int list_for(std::uint64_t timeout_ms);
  void (*on_expire)(deadline_node*) = nullptr;
};

}  // namespace fastjson::detail
