// fastjson::loop and its libuv-backed implementation.

#include <cstdio>
#include <cstring>

#include "app_core.h"
#include "net/loop_impl.h"

namespace fastjson {

namespace {
thread_local loop* current_loop = nullptr;
}

loop* loop::current() noexcept {
  return current_loop;
}

void loop::post(std::function<void()> fn) {
  impl_->post(std::move(fn));
}

std::uint64_t loop::now_ms() const noexcept {
  return uv_now(&impl_->uv);
}

void loop::set_timeout(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto* t = new detail::one_shot_timer{};
  t->fn = std::move(fn);
  uv_timer_init(&impl_->uv, &t->t);
  // The loop's cached time can be a whole callback old; count from now.
  uv_update_time(&impl_->uv);
  t->t.data = t;
  t->next = impl_->timers;
  if (t->next) t->next->prev = t;
  impl_->timers = t;
  uv_timer_start(
      &t->t,
      [](uv_timer_t* h) {
        auto* self = static_cast<detail::one_shot_timer*>(h->data);
        static_cast<detail::loop_impl*>(h->loop->data)->unlink(self);
        auto fn = std::move(self->fn);
        uv_close(reinterpret_cast<uv_handle_t*>(h),
                 [](uv_handle_t* hh) { delete static_cast<detail::one_shot_timer*>(hh->data); });
        fn();
      },
      static_cast<std::uint64_t>(delay.count()), 0);
}

namespace detail {

namespace {
constexpr std::size_t read_size = 64 * 1024;
}

loop_impl::loop_impl(app_core& a) : handle(this), app(a), pool(a, handle) {
  uv_loop_init(&uv);
  uv.data = this;
  read_cap = read_size;
  read_buf = std::make_unique<char[]>(read_size + request::body_padding);
  out_scratch.reserve(64 * 1024);

  uv_async_init(&uv, &async, [](uv_async_t* h) {
    auto* self = static_cast<loop_impl*>(h->loop->data);
    {
      std::lock_guard lock(self->post_mu);
      self->posted_run.swap(self->posted);
    }
    for (auto& fn : self->posted_run) fn();
    self->posted_run.clear();
  });
  uv_idle_init(&uv, &idle);
  uv_timer_init(&uv, &tick);
  tick.data = this;
  lists.resize(list_count);
  lists[list_idle].timeout_ms = app.cfg.idle_timeout_ms;
  lists[list_header].timeout_ms = app.cfg.header_timeout_ms;
  lists[list_body].timeout_ms = app.cfg.body_timeout_ms;
  lists[list_linger].timeout_ms = 2000;
  update_date();
  uv_timer_start(
      &tick,
      [](uv_timer_t* h) {
        auto* self = static_cast<loop_impl*>(h->data);
        self->update_date();
        std::uint64_t now = uv_now(&self->uv);
        for (std::size_t i = 0; i < self->lists.size(); ++i) {
          while (self->lists[i].head && self->lists[i].head->deadline <= now) {
            deadline_node* n = self->lists[i].head;
            self->lists[i].remove(n);
            if (n->fire)
              n->fire(n);
            else if (self->on_expire)
              self->on_expire(n);
          }
        }
      },
      100, 100);
  uv_unref(reinterpret_cast<uv_handle_t*>(&tick));
}

loop_impl::~loop_impl() {
  close_all();
  uv_loop_close(&uv);
  // Handlers still suspended (dropped at the shutdown deadline) are destroyed
  // here, while `post` still works (as a no-op): work they awaited on other
  // threads (offload, db, a cache load) may be finishing right now, and
  // their awaiters' destructors wait for it or withdraw from it.
  pool.clear();
}

void loop_impl::close_all() {
  {
    // From now on posts are dropped (the poster destroys the callback): the
    // async handle is about to close, and no callback would ever run.
    std::lock_guard lock(post_mu);
    post_closed = true;
  }
  while (timers) {
    one_shot_timer* t = timers;
    unlink(t);
    uv_close(reinterpret_cast<uv_handle_t*>(&t->t),
             [](uv_handle_t* h) { delete static_cast<one_shot_timer*>(h->data); });
  }
  uv_walk(
      &uv,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&uv, UV_RUN_DEFAULT);
}

int loop_impl::list_for(std::uint64_t timeout_ms) {
  for (std::size_t i = list_count; i < lists.size(); ++i)
    if (lists[i].timeout_ms == timeout_ms) return static_cast<int>(i);
  lists.push_back({});
  lists.back().timeout_ms = timeout_ms;
  return static_cast<int>(lists.size() - 1);
}

void loop_impl::defer(void (*fn)(void*), void* ctx) {
  if (deferred.empty())
    uv_idle_start(&idle, [](uv_idle_t* h) { static_cast<loop_impl*>(h->loop->data)->run_deferred(); });
  deferred.emplace_back(fn, ctx);
}

void loop_impl::run_deferred() {
  // Calls deferred by these calls run on the next turn.
  deferred_run.swap(deferred);
  for (auto& [f, c] : deferred_run) f(c);
  deferred_run.clear();
  if (deferred.empty()) uv_idle_stop(&idle);
}

void loop_impl::post(std::function<void()> fn) {
  std::lock_guard lock(post_mu);
  if (post_closed) return;  // the loop has stopped for good; `fn` is dropped
  posted.push_back(std::move(fn));
  // Under the lock, so close_all() cannot close the handle in between.
  uv_async_send(&async);
}

void loop_impl::run() {
  current_scope scope(*this);
  uv_run(&uv, UV_RUN_DEFAULT);
}

current_scope::current_scope(loop_impl& l) noexcept : prev(current_loop) {
  current_loop = &l.handle;
}
current_scope::~current_scope() {
  current_loop = prev;
}

void loop_impl::update_date() {
  std::time_t t = std::time(nullptr);
  if (t == date_sec) return;
  date_sec = t;
  std::tm tm{};
  gmtime_r(&t, &tm);
  date_len = std::strftime(date, sizeof date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

}  // namespace detail
}  // namespace fastjson
