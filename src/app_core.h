#pragma once
// The frozen, read-only heart of an app: routes, middleware chains and the
// dispatch of one request through them. Shared by every worker loop and by
// the in-process testing client.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "fastjson/app.h"
#include "fastjson/config.h"
#include "fastjson/router.h"

namespace fastjson::detail {

struct request_slot;

struct route_entry {
  method verb = method::get;
  std::string pattern;
  handler fn;
  std::vector<middleware*> chain;     // app + groups + route, flattened at freeze
  std::vector<std::size_t> state_off; // per middleware, offset in the state area
  std::size_t group = 0;
  std::vector<middleware_ptr> own;    // route-level middleware
};

struct group_entry {
  std::string prefix;
  std::size_t parent = 0;  // index; the root group is its own parent
  std::vector<middleware_ptr> mws;
};

class app_core {
 public:
  app_core();

  void add_route(std::size_t group, method m, std::string_view pattern, handler h, std::vector<middleware_ptr> mws);
  std::size_t add_group(std::size_t parent, std::string_view prefix);
  void use(std::size_t group, middleware_ptr mw);

  /// Builds the flat chains; called once before serving. Idempotent.
  void freeze();
  bool frozen() const noexcept { return frozen_; }

  /// Routes and runs one parsed request. Returns when the response is final
  /// (sync handler) or the handler suspended (`slot.handler_running`); the
  /// slot's owner is told through session::on_slot_complete either way.
  void dispatch(request_slot& slot);

  /// Bytes of middleware state a slot must provide.
  std::size_t state_size() const noexcept { return state_size_; }

  fastjson::config cfg;
  std::vector<route_entry> routes;
  std::vector<group_entry> groups;
  router tree;
  handler not_found, method_not_allowed;
  std::vector<exception_mapper> exception_mappers;  // app::on_exception, in order
  // app::on_loop_start (app::every adds one too), run on each worker thread.
  std::vector<std::function<void(fastjson::loop&, unsigned)>> loop_start_hooks;
  // The pseudo-routes for 404/405/OPTIONS/redirects: app-level middleware only.
  route_entry fallback;
  std::atomic<bool> stop_requested{false};
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<void*> running_server{nullptr};  // net::server while run() is active
  std::string server_line;         // "Server: name\r\n" or ""
  std::string server_allow;        // Allow for OPTIONS *: every method of every route

  void finish(request_slot& slot);
  void handle_exception(request_slot& slot, std::exception_ptr e);

 private:
  void build_chain(route_entry& r);
  static void on_task_done(void* ctx);
  static void on_before_done(void* ctx);
  void run_handler(request_slot& slot, const handler& h);
  // Middleware `before`s from index `from` on, then the handler or the
  // built-in fallback answer; suspends at a `before_async`.
  void run_chain(request_slot& slot, std::size_t from);

  bool frozen_ = false;
  std::size_t state_size_ = 0;
};

/// Writes the standard problem+json body into `res`.
void write_problem(response& res, int status, std::string_view detail,
                   const std::vector<problem_field_error>& errors);

}  // namespace fastjson::detail
