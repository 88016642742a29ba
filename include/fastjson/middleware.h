#pragma once
/// \file middleware.h
/// The middleware chain.
///
/// Middleware is registered at app, group and route level and runs in that
/// order before the handler (`before`) and in reverse order after it
/// (`after`). `after` runs for every middleware whose `before` ran, also when
/// the handler finished asynchronously (a coroutine), threw (the response is
/// then a 500 and `res.error()` holds the exception), or was short-circuited
/// by a later middleware. A `before` that responds and returns `false` stops
/// the chain: the handler does not run.
///
/// A `before` that cannot decide at once (it waits for another request's
/// answer, a remote check, a token) returns false **without responding**;
/// the framework then awaits `before_async` for that request and continues
/// the chain if it yields true, or stops (it must have responded) on false.
/// Requests that decide at once never pay for a coroutine: `mw::response_cache`
/// answers hits in `before` and only waits in `before_async` when another
/// request is already computing the same response. While a request waits
/// there, `mw::timeout` (registered earlier) may answer it; the waiting
/// middleware then gets `abandon` instead of `after` once its wait ends.
///
/// Per-request state without allocation: derive from
/// `middleware_with_state<S>`; the framework reserves room for every
/// middleware's `S` in the request's reusable arena, constructs it before
/// `before` and destroys it after `after`.
///
/// \code
///   struct timing : fastjson::middleware_with_state<std::uint64_t> {
///     bool before(fastjson::request&, fastjson::response&, std::uint64_t& t0) override { t0 = now(); return true; }
///     void after(fastjson::request&, fastjson::response& res, std::uint64_t& t0) override {
///       res.header("Server-Timing", fmt::format("app;dur={}", now() - t0));
///     }
///   };
///   app.use(std::make_shared<timing>());
///   app.use([](fastjson::request& req, fastjson::response& res) { return true; });  // before only
/// \endcode

#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <utility>

#include "fastjson/request.h"
#include "fastjson/response.h"
#include "fastjson/task.h"

namespace fastjson {

class middleware {
 public:
  virtual ~middleware() = default;
  /// Runs before the handler. Return false (after responding) to stop, or
  /// false without responding to continue in `before_async`.
  /// `state` points to state_size() bytes reserved for this request.
  virtual bool before(request& req, response& res, void* state) = 0;
  /// The asynchronous rest of a `before` that returned false without
  /// responding: true continues the chain, false stops it (after
  /// responding). The default yields false, so a `before` that forgot to
  /// respond still ends in the framework's 500.
  virtual task<bool> before_async(request&, response&, void*) { co_return false; }
  /// Runs after the handler (or after a short-circuit), in reverse order.
  virtual void after(request&, response&, void*) {}
  /// Called instead of `after` when a request is dropped unfinished: its
  /// handler was still running at the shutdown deadline and the server is
  /// going away. Release what `before` acquired (the state's destructor for
  /// middleware_with_state); there is no response to touch.
  virtual void abandon(void* /*state*/) noexcept {}
  virtual std::size_t state_size() const noexcept { return 0; }
  virtual std::size_t state_align() const noexcept { return 1; }
  /// Called by the framework at startup (app freeze), with the app's config.
  virtual void on_start() {}
};

using middleware_ptr = std::shared_ptr<middleware>;

/// Base for middleware with typed per-request state `S` (constructed before
/// `before`, destroyed after `after` -- or by `abandon` if the request is
/// dropped at shutdown; no heap allocation).
template <class S>
class middleware_with_state : public middleware {
 public:
  virtual bool before(request& req, response& res, S& state) = 0;
  virtual task<bool> before_async(request&, response&, S&) { co_return false; }
  virtual void after(request&, response&, S&) {}

  bool before(request& req, response& res, void* p) final {
    S* s = ::new (p) S();
    return before(req, res, *s);
  }
  task<bool> before_async(request& req, response& res, void* p) final {
    return before_async(req, res, *std::launder(static_cast<S*>(p)));
  }
  void after(request& req, response& res, void* p) final {
    S* s = std::launder(static_cast<S*>(p));
    after(req, res, *s);
    s->~S();
  }
  void abandon(void* p) noexcept final { std::launder(static_cast<S*>(p))->~S(); }
  std::size_t state_size() const noexcept final { return sizeof(S); }
  std::size_t state_align() const noexcept final { return alignof(S); }
};

namespace detail {
class lambda_middleware final : public middleware {
 public:
  lambda_middleware(std::function<bool(request&, response&)> b, std::function<void(request&, response&)> a)
      : before_(std::move(b)), after_(std::move(a)) {}
  bool before(request& req, response& res, void*) override { return before_ ? before_(req, res) : true; }
  void after(request& req, response& res, void*) override {
    if (after_) after_(req, res);
  }

 private:
  std::function<bool(request&, response&)> before_;
  std::function<void(request&, response&)> after_;
};
}  // namespace detail

/// Middleware from a before function (returning false to stop) and an
/// optional after function.
inline middleware_ptr make_middleware(std::function<bool(request&, response&)> before,
                                      std::function<void(request&, response&)> after = {}) {
  return std::make_shared<detail::lambda_middleware>(std::move(before), std::move(after));
}

}  // namespace fastjson
