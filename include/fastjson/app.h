#pragma once
/// \file app.h
/// `fastjson::app`: routes, groups, middleware, and running the server.
///
/// \code
///   fastjson::app app;
///   app.use(fastjson::mw::access_log());
///   app.get("/json", [](fastjson::request&, fastjson::response& res) {
///     res.json(message{"Hello, World!"});
///   });
///   auto api = app.group("/api/v1");
///   api.use(fastjson::mw::body_limit(64 << 10));
///   api.get("/todos/:id", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
///     auto id = req.param<std::int64_t>("id");
///     ...
///   });
///   return app.run(fastjson::config::from_args(argc, argv));
/// \endcode
///
/// Routes and middleware are registered before `run()` (or before the first
/// request of a testing::client); the app is frozen then and read-only on
/// the request path.

#include <chrono>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "fastjson/config.h"
#include "fastjson/loop.h"
#include "fastjson/middleware.h"
#include "fastjson/request.h"
#include "fastjson/response.h"
#include "fastjson/router.h"
#include "fastjson/task.h"

namespace fastjson {

/// A route handler: `void(request&, response&)` or a coroutine
/// `task<>(request&, response&)`.
class handler {
 public:
  using sync_fn = std::function<void(request&, response&)>;
  using async_fn = std::function<task<>(request&, response&)>;

  handler() = default;
  template <class F>
    requires std::is_invocable_v<F&, request&, response&>
  handler(F f) {  // NOLINT: implicit on purpose, so lambdas convert
    if constexpr (std::is_same_v<std::invoke_result_t<F&, request&, response&>, task<>>)
      async_ = std::move(f);
    else
      sync_ = std::move(f);
  }
  bool is_async() const noexcept { return static_cast<bool>(async_); }
  explicit operator bool() const noexcept { return sync_ || async_; }
  const sync_fn& sync() const noexcept { return sync_; }
  const async_fn& async() const noexcept { return async_; }

 private:
  sync_fn sync_;
  async_fn async_;
};

/// Answers an exception that escaped a handler or a middleware `before`:
/// responds (e.g. `res.problem(503, ...)`) and returns true, or returns
/// false to pass it on. See app::on_exception.
using exception_mapper = std::function<bool(std::exception_ptr, request&, response&)>;

/// One row of the printed route table.
struct route_info {
  method verb;
  std::string pattern;
  std::size_t middleware_count;
};

class app;

/// A set of routes under a prefix with their own middleware; nestable.
/// Cheap to copy (a handle into the app).
class group {
 public:
  group& use(middleware_ptr mw);
  group& use(std::function<bool(request&, response&)> before, std::function<void(request&, response&)> after = {});
  group& get(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  group& post(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  group& put(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  group& patch(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  group& del(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  group& options(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  /// Any method, including ones without a helper above.
  group& route(method m, std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  fastjson::group subgroup(std::string_view prefix);
  std::string_view prefix() const noexcept;

 private:
  friend class app;
  group(app* a, std::size_t index) : app_(a), index_(index) {}
  app* app_;
  std::size_t index_;
};

namespace detail {
class app_core;
}

class app {
 public:
  app();
  ~app();
  app(const app&) = delete;
  app& operator=(const app&) = delete;

  /// App-level middleware: runs for every request, including 404, 405 and
  /// automatic OPTIONS answers (so CORS and access logs see them).
  app& use(middleware_ptr mw);
  app& use(std::function<bool(request&, response&)> before, std::function<void(request&, response&)> after = {});

  app& get(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  app& post(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  app& put(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  app& patch(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  app& del(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  app& options(std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  app& route(method m, std::string_view pattern, handler h, std::vector<middleware_ptr> mws = {});
  fastjson::group group(std::string_view prefix);

  /// Replaces the default 404 (problem+json) handler.
  app& not_found(handler h);
  /// Replaces the default 405 handler (the Allow header is already set).
  app& method_not_allowed(handler h);

  /// Maps exceptions that escape a handler or a middleware `before` (sync
  /// or coroutine) to responses, instead of the default 500. Mappers are
  /// tried in the order added; the first that returns true has answered
  /// (whatever it wrote replaces any partial response). One that returns
  /// false, or throws, passes the exception on; if none answers, the
  /// default 500 problem it is, with `res.error()` set for `after`s (a
  /// mapped exception is handled: `res.error()` stays empty). `http_error`
  /// never reaches mappers: it always becomes its own status. Add mappers
  /// before run(); they run on loop threads.
  /// \code
  ///   app.on_exception<fastjson::db::error>([](const fastjson::db::error& e, fastjson::request&,
  ///                                            fastjson::response& res) {
  ///     if (!e.is_timeout()) return false;
  ///     res.problem(503, "the database is busy");
  ///     return true;
  ///   });
  /// \endcode
  app& on_exception(exception_mapper fn);
  /// Typed form: `fn(const E&, request&, response&) -> bool`, tried only for
  /// exceptions of type E (or derived from it).
  template <class E, class Fn>
    requires std::is_invocable_r_v<bool, Fn&, const E&, request&, response&>
  app& on_exception(Fn fn) {
    return on_exception([fn = std::move(fn)](std::exception_ptr e, request& req, response& res) mutable -> bool {
      try {
        std::rethrow_exception(e);
      } catch (const E& x) {
        return fn(x, req, res);
      } catch (...) {
        return false;
      }
    });
  }

  /// The route table: method, pattern, middleware count (app + groups + route).
  std::vector<route_info> routes() const;
  /// Prints the route table, one route per line.
  void print_routes(std::ostream& os) const;

  /// Runs `fn(loop, index)` on each worker thread of run() as its loop starts,
  /// before it accepts a connection (index 0 .. threads-1; loop::current()
  /// is `loop`): the place for per-loop state and timers (`loop.set_timeout`).
  /// An exception from `fn` is printed to stderr and the worker serves on.
  /// Add before run(). Not called by testing::client.
  app& on_loop_start(std::function<void(fastjson::loop&, unsigned index)> fn);
  /// Runs `fn` every `period` on worker 0's loop thread, from when run()
  /// starts until its loops stop (the first call comes one period in). A
  /// call that throws is printed to stderr; the next one still comes. For
  /// periodic upkeep: `app.every(250ms, [&] { cache.sweep(2000); })`. Keep
  /// it short: it runs between that loop's requests. Add before run().
  app& every(std::chrono::milliseconds period, std::function<void()> fn);

  /// Settings used by the request path (limits, trailing slash policy...).
  /// run() replaces them with its argument; tests may set them directly.
  fastjson::config& config() noexcept;

  /// Starts the worker loops and serves until SIGINT/SIGTERM (graceful
  /// drain up to shutdown_timeout_ms; a second signal exits at once).
  /// Prints "listening on http://HOST:PORT" (the real port) to stdout.
  /// Returns the process exit code (0 after a clean shutdown).
  int run(const fastjson::config& cfg);
  /// Asks a running app to shut down gracefully (thread-safe). Calling it
  /// before run() makes run() return at once after binding.
  void stop();
  /// The port run() is listening on (the real one for --port 0), or 0 while
  /// not listening. Thread-safe; handy for tests that run() in a thread.
  std::uint16_t port() const noexcept;

  detail::app_core& core() noexcept { return *core_; }

 private:
  friend class fastjson::group;
  std::unique_ptr<detail::app_core> core_;
};

}  // namespace fastjson
