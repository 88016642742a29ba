// app, group and app_core: registration, freezing, and the dispatch of one
// request through its middleware chain and handler.

#include "fastjson/app.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <stdexcept>

#include "app_core.h"
#include "fastjson/loop.h"
#include "http/session.h"
#include "http/slot.h"
#include "net/loop_impl.h"

namespace fastjson {
namespace detail {

namespace {

enum fallback_kind : std::uint8_t {
  fb_none,
  fb_not_found,
  fb_method_not_allowed,
  fb_options,
  fb_options_server,  // OPTIONS * (RFC 9110 9.3.7): what the server as a whole allows
  fb_redirect,
  fb_bad_path,
  fb_unsupported_encoding,
};

// The path and query of a request target: origin-form ("/a?b") as is, the
// absolute-form ("http://host/a?b", RFC 9112 3.2.2) by its path, "/" when it
// has none. `ok` is false for anything else (authority-form, "*", garbage).
struct target_parts {
  std::string_view path, query;
  bool ok = true;
};

target_parts split_target(std::string_view target) noexcept {
  target_parts t;
  bool root = false;  // an absolute form without a path: "http://host" or "http://host?q"
  if (target.empty() || target[0] != '/') {
    std::size_t colon = target.find("://");
    bool absolute = colon != std::string_view::npos &&
                    ((colon == 4 && iequals(target.substr(0, 4), "http")) ||
                     (colon == 5 && iequals(target.substr(0, 5), "https")));
    if (!absolute) {
      t.ok = false;
      return t;
    }
    std::string_view rest = target.substr(colon + 3);
    std::size_t end = rest.find_first_of("/?#");
    std::string_view host = rest.substr(0, end);
    if (host.empty() || host.find('@') != std::string_view::npos) {  // no host, or userinfo (RFC 9110 4.2.4)
      t.ok = false;
      return t;
    }
    target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    root = target.empty() || target[0] != '/';
  }
  std::size_t q = target.find('?');
  t.path = root ? std::string_view("/") : target.substr(0, q);
  if (q != std::string_view::npos) t.query = target.substr(q + 1);
  if (std::size_t h = t.query.find('#'); h != std::string_view::npos) t.query = t.query.substr(0, h);
  return t;
}

}  // namespace

app_core::app_core() {
  groups.push_back({"", 0, {}});
  fallback.pattern = "(built-in)";
}

void app_core::add_route(std::size_t group, method m, std::string_view pattern, handler h,
                         std::vector<middleware_ptr> mws) {
  if (frozen_) throw std::logic_error("routes must be added before the app starts serving");
  if (!h) throw std::invalid_argument(fmt::format("route {} {}: empty handler", to_string(m), pattern));
  std::string full = groups[group].prefix + std::string(pattern);
  if (full.size() > 1 && groups[group].prefix.size() && pattern == "/") full.pop_back();
  tree.add(m, full, static_cast<int>(routes.size()));
  route_entry r;
  r.verb = m;
  r.pattern = std::move(full);
  r.fn = std::move(h);
  r.group = group;
  r.own = std::move(mws);
  routes.push_back(std::move(r));
}

std::size_t app_core::add_group(std::size_t parent, std::string_view prefix) {
  if (!prefix.empty() && (prefix[0] != '/' || prefix.back() == '/'))
    throw std::invalid_argument(fmt::format("group prefix '{}' must start with '/' and not end with '/'", prefix));
  groups.push_back({groups[parent].prefix + std::string(prefix), parent, {}});
  return groups.size() - 1;
}

void app_core::use(std::size_t group, middleware_ptr mw) {
  if (frozen_) throw std::logic_error("middleware must be added before the app starts serving");
  if (!mw) throw std::invalid_argument("null middleware");
  groups[group].mws.push_back(std::move(mw));
}

void app_core::build_chain(route_entry& r) {
  // Root group first, then each nested group, then the route's own.
  std::vector<std::size_t> path;
  for (std::size_t g = r.group;; g = groups[g].parent) {
    path.push_back(g);
    if (g == 0) break;
  }
  r.chain.clear();
  for (auto it = path.rbegin(); it != path.rend(); ++it)
    for (auto& m : groups[*it].mws) r.chain.push_back(m.get());
  for (auto& m : r.own) r.chain.push_back(m.get());
  std::size_t off = 0;
  r.state_off.clear();
  for (middleware* m : r.chain) {
    std::size_t a = std::max<std::size_t>(m->state_align(), 1);
    off = (off + a - 1) / a * a;
    r.state_off.push_back(off);
    off += m->state_size();
  }
  state_size_ = std::max(state_size_, off);
}

void app_core::freeze() {
  if (frozen_) return;
  state_size_ = 0;
  for (auto& r : routes) build_chain(r);
  fallback.group = 0;
  build_chain(fallback);
  for (auto& g : groups)
    for (auto& m : g.mws) m->on_start();
  for (auto& r : routes)
    for (auto& m : r.own) m->on_start();
  server_line = cfg.server_name.empty() ? std::string() : fmt::format("Server: {}\r\n", cfg.server_name);
  std::uint16_t every = 0;
  for (auto& r : routes) every |= static_cast<std::uint16_t>(1u << static_cast<unsigned>(r.verb));
  server_allow = allow_header(every);
  frozen_ = true;
}

void app_core::dispatch(request_slot& slot) {
  request& req = slot.req;
  response& res = slot.res;
  slot.head = req.method() == method::head;

  // Split the target and decode the path (an encoded '/' stays encoded so
  // it cannot change which route matches).
  target_parts parts = split_target(req.target());
  std::string_view raw_path = parts.path;
  std::string_view query = parts.query;
  std::string_view path = raw_path;
  bool bad_path = !parts.ok;
  if (!bad_path && raw_path.find('%') != std::string_view::npos) {
    char* out = slot.scratch.allocate(raw_path.size());
    long n = decode_path(raw_path, out);
    if (n < 0) bad_path = true;
    else path = std::string_view(out, static_cast<std::size_t>(n));
  }
  slot.set_path(path, query);
  res.bind_instance(raw_path);

  const route_entry* route = &fallback;
  if (slot.unsupported_encoding) {
    slot.fallback = fb_unsupported_encoding;
  } else if (bad_path) {
    slot.fallback = req.method() == method::options && req.target() == "*" ? fb_options_server : fb_bad_path;
  } else {
    router::params* params = reinterpret_cast<router::params*>(slot.params());
    auto m = tree.match(req.method(), path, *params);
    if (m.route >= 0) {
      route = &routes[static_cast<std::size_t>(m.route)];
      slot.set_params(params->data(), m.param_count);
      // Params may hold a kept-encoded "%2F": decode it now.
      for (std::size_t i = 0; i < m.param_count; ++i) {
        std::string_view v = (*params)[i].second;
        if (v.find('%') == std::string_view::npos) continue;
        char* out = slot.scratch.allocate(v.size());
        long n = percent_decode(v, out, false);
        if (n >= 0) slot.params()[i].second = std::string_view(out, static_cast<std::size_t>(n));
      }
    } else if (m.path_found) {
      slot.allowed = m.allowed;
      slot.fallback = req.method() == method::options ? fb_options : fb_method_not_allowed;
    } else {
      slot.fallback = fb_not_found;
      if (cfg.trailing_slash == trailing_slash::redirect && path.size() > 1) {
        std::string_view alt = path.back() == '/' ? path.substr(0, path.size() - 1) : std::string_view();
        router::params tmp;
        bool found = false;
        if (!alt.empty()) {
          found = tree.match(method::get, alt, tmp).path_found;
        } else {
          char* out = slot.scratch.allocate(path.size() + 1);
          std::memcpy(out, path.data(), path.size());
          out[path.size()] = '/';
          alt = std::string_view(out, path.size() + 1);
          found = tree.match(method::get, alt, tmp).path_found;
        }
        if (found) {
          slot.fallback = fb_redirect;
          slot.set_path(alt, query);
        }
      }
    }
  }
  slot.route = route;
  run_chain(slot, 0);
}

void app_core::run_chain(request_slot& slot, std::size_t from) {
  request& req = slot.req;
  response& res = slot.res;
  const route_entry* route = slot.route;

  // Middleware `before`s, in order; a `false` stops the chain, unless the
  // middleware has not responded: then it continues in its before_async.
  std::byte* state = slot.mw_state.get();
  bool proceed = true;
  try {
    for (std::size_t i = from; i < route->chain.size(); ++i) {
      slot.mw_ran = i + 1;
      middleware* m = route->chain[i];
      void* st = state + route->state_off[i];
      if (m->before(req, res, st)) {
        res.keep_headers();  // what middleware set survives an error answer (response::reset)
        continue;
      }
      if (!res.done() && !res.sent()) {
        // Its `after` waits until its before_async has finished (mw_ran
        // excludes it meanwhile: an early answer gives it `abandon`).
        task<bool> rest = m->before_async(req, res, st);  // (a throw here: its `after` runs)
        slot.mw_ran = i;
        slot.mw_waiting = i + 1;
        slot.waiting = std::move(rest);
        slot.handler_running = true;
        slot.waiting.start_detached(&app_core::on_before_done, &slot);
        return;
      }
      proceed = false;
      break;
    }
  } catch (...) {
    handle_exception(slot, std::current_exception());
    proceed = false;
  }
  if (!proceed) {
    finish(slot);
    return;
  }
  res.keep_headers();  // a before_async that continued may have added some too

  if (route == &fallback) {
    switch (slot.fallback) {
      case fb_bad_path:
        write_problem(res, 400, "the request path is not valid (bad percent-encoding)", {});
        break;
      case fb_options:
        res.header("Allow", allow_header(slot.allowed));
        res.no_content(204);
        break;
      case fb_options_server:
        res.header("Allow", server_allow);
        res.no_content(204);
        break;
      case fb_unsupported_encoding:
        // The body was read (its framing is sound), so the connection goes on.
        write_problem(res, 415, "the request body's Content-Encoding is not supported; send it unencoded", {});
        res.header("Accept-Encoding", "identity");
        break;
      case fb_method_not_allowed:
        if (method_not_allowed) {
          res.header("Allow", allow_header(slot.allowed));
          res.keep_headers();
          run_handler(slot, method_not_allowed);
          return;
        }
        write_problem(res, 405, fmt::format("{} is not allowed here; see the Allow header", req.method_name()), {});
        res.header("Allow", allow_header(slot.allowed));
        break;
      case fb_redirect: {
        // From the raw (still encoded) path: the decoded one may hold bytes
        // that are not valid in a header (a decoded CR or LF).
        std::string_view target = req.target();
        std::string loc(target.substr(0, target.find('?')));
        if (loc.size() > 1 && loc.back() == '/')
          loc.pop_back();
        else
          loc += '/';
        if (!req.query_string().empty()) loc += "?" + std::string(req.query_string());
        res.redirect(loc, 308);
        break;
      }
      default:
        if (not_found) {
          run_handler(slot, not_found);
          return;
        }
        write_problem(res, 404, "no route matches this path", {});
    }
    finish(slot);
    return;
  }
  run_handler(slot, route->fn);
}

void app_core::run_handler(request_slot& slot, const handler& h) {
  if (!h.is_async()) {
    try {
      h.sync()(slot.req, slot.res);
    } catch (...) {
      handle_exception(slot, std::current_exception());
    }
    finish(slot);
    return;
  }
  try {
    slot.running = h.async()(slot.req, slot.res);
  } catch (...) {
    handle_exception(slot, std::current_exception());
    finish(slot);
    return;
  }
  slot.handler_running = true;
  slot.running.start_detached(&app_core::on_task_done, &slot);
}

void app_core::on_task_done(void* ctx) {
  // Called from the coroutine's final suspend point: finish on the next turn
  // of the loop, when the frame can be destroyed safely.
  auto* slot = static_cast<request_slot*>(ctx);
  slot->req.loop().impl().defer(
      [](void* p) {
        auto* s = static_cast<request_slot*>(p);
        s->handler_running = false;
        if (!s->finished) {
          try {
            s->running.result();
          } catch (...) {
            s->route_core->handle_exception(*s, std::current_exception());
          }
        }
        s->running = task<>();
        s->route_core->finish(*s);
      },
      slot);
}

void app_core::on_before_done(void* ctx) {
  // A middleware's before_async finished: on the next turn of the loop (the
  // frame can then be destroyed), continue the chain or finish.
  auto* slot = static_cast<request_slot*>(ctx);
  slot->req.loop().impl().defer(
      [](void* p) {
        auto* s = static_cast<request_slot*>(p);
        s->handler_running = false;
        const std::size_t i = s->mw_waiting - 1;
        s->mw_waiting = 0;
        app_core& core = *s->route_core;
        if (s->finished) {
          // Answered meanwhile (mw::timeout): the waiting middleware's
          // `before` never completed, so it gets `abandon`, not `after`.
          s->waiting = task<bool>();
          s->route->chain[i]->abandon(s->mw_state.get() + s->route->state_off[i]);
          core.finish(*s);  // frees the slot if its connection is gone
          return;
        }
        s->mw_ran = i + 1;
        bool proceed = false;
        try {
          proceed = s->waiting.result();
        } catch (...) {
          core.handle_exception(*s, std::current_exception());
        }
        s->waiting = task<bool>();
        if (proceed && !s->res.done() && !s->res.sent()) {
          core.run_chain(*s, i + 1);
        } else {
          core.finish(*s);
        }
      },
      slot);
}

void app_core::handle_exception(request_slot& slot, std::exception_ptr e) {
  response& res = slot.res;
  try {
    std::rethrow_exception(e);
  } catch (const http_error& he) {
    if (res.sent()) return;
    write_problem(res, he.status(), he.detail(), he.errors());
  } catch (...) {
    if (res.sent()) return;
    for (auto& map : exception_mappers) {
      bool answered = false;
      try {
        res.reset();  // a mapper starts from a clean response
        answered = map(e, slot.req, res);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "fastjson: exception mapper threw: %s\n", ex.what());
      } catch (...) {
        std::fprintf(stderr, "fastjson: exception mapper threw\n");
      }
      if (answered || res.sent()) return;  // a response already on the wire cannot be replaced
    }
    res.reset();  // nothing the handler (or a declining mapper) set goes out with the 500
    write_problem(res, 500, "the server failed to handle this request", {});
    res.set_error(e);
  }
}

void app_core::finish(request_slot& slot) {
  if (slot.finished) {
    // A late completion (the timeout middleware answered already): the
    // result is discarded; the slot is free once nothing refers to it.
    if (!slot.owner && !slot.handler_running) slot.pool->release(&slot);
    return;
  }
  slot.finished = true;
  response& res = slot.res;
  request& req = slot.req;
  if (!res.done() && !res.sent()) {
    std::fprintf(stderr, "fastjson: handler for %.*s %.*s returned without responding; answering 500\n",
                 static_cast<int>(req.method_name().size()), req.method_name().data(),
                 static_cast<int>(req.target().size()), req.target().data());
    write_problem(res, 500, "the handler did not produce a response", {});
  }
  // `after`s in reverse, for every middleware whose `before` ran.
  const route_entry* route = slot.route;
  std::byte* state = slot.mw_state.get();
  for (std::size_t i = slot.mw_ran; i-- > 0;) {
    try {
      route->chain[i]->after(req, res, state + route->state_off[i]);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "fastjson: middleware threw in after(): %s\n", ex.what());
    }
  }
  slot.mw_ran = 0;
  if (res.error()) {
    try {
      std::rethrow_exception(res.error());
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "fastjson: unhandled exception in %.*s %.*s: %s\n",
                   static_cast<int>(req.method_name().size()), req.method_name().data(),
                   static_cast<int>(req.target().size()), req.target().data(), ex.what());
    } catch (...) {
      std::fprintf(stderr, "fastjson: unhandled non-standard exception in %.*s %.*s\n",
                   static_cast<int>(req.method_name().size()), req.method_name().data(),
                   static_cast<int>(req.target().size()), req.target().data());
    }
    res.set_error(nullptr);
  }
  if (slot.owner)
    slot.owner->on_slot_complete(slot);
  else if (!slot.handler_running)
    slot.pool->release(&slot);  // the connection is gone: drop the response
}

}  // namespace detail

// ---------------------------------------------------------------------------

app::app() : core_(std::make_unique<detail::app_core>()) {}
app::~app() = default;

app& app::use(middleware_ptr mw) {
  core_->use(0, std::move(mw));
  return *this;
}
app& app::use(std::function<bool(request&, response&)> before, std::function<void(request&, response&)> after) {
  return use(make_middleware(std::move(before), std::move(after)));
}
app& app::route(method m, std::string_view pattern, handler h, std::vector<middleware_ptr> mws) {
  core_->add_route(0, m, pattern, std::move(h), std::move(mws));
  return *this;
}
app& app::get(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::get, p, std::move(h), std::move(m)); }
app& app::post(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::post, p, std::move(h), std::move(m)); }
app& app::put(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::put, p, std::move(h), std::move(m)); }
app& app::patch(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::patch, p, std::move(h), std::move(m)); }
app& app::del(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::del, p, std::move(h), std::move(m)); }
app& app::options(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::options, p, std::move(h), std::move(m)); }

fastjson::group app::group(std::string_view prefix) { return fastjson::group(this, core_->add_group(0, prefix)); }

app& app::not_found(handler h) {
  core_->not_found = std::move(h);
  return *this;
}
app& app::method_not_allowed(handler h) {
  core_->method_not_allowed = std::move(h);
  return *this;
}
app& app::on_exception(exception_mapper fn) {
  core_->exception_mappers.push_back(std::move(fn));
  return *this;
}

app& app::on_loop_start(std::function<void(fastjson::loop&, unsigned)> fn) {
  if (core_->frozen()) throw std::logic_error("on_loop_start must be called before the app starts serving");
  core_->loop_start_hooks.push_back(std::move(fn));
  return *this;
}

namespace {
// app::every: a one-shot timer that re-arms itself after each call. The
// timer dies with its loop (loop::set_timeout never runs it after that).
struct repeating {
  std::chrono::milliseconds period;
  std::shared_ptr<std::function<void()>> fn;
  fastjson::loop* loop;
  void arm() const { loop->set_timeout(period, *this); }
  void operator()() const {
    try {
      (*fn)();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fastjson: app::every task threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "fastjson: app::every task threw\n");
    }
    arm();
  }
};
}  // namespace

app& app::every(std::chrono::milliseconds period, std::function<void()> fn) {
  if (period.count() <= 0) throw std::invalid_argument("app::every needs a positive period");
  auto shared = std::make_shared<std::function<void()>>(std::move(fn));
  return on_loop_start([period, shared](fastjson::loop& l, unsigned index) {
    if (index == 0) repeating{period, shared, &l}.arm();
  });
}

fastjson::config& app::config() noexcept { return core_->cfg; }

std::vector<route_info> app::routes() const {
  // Counted from the groups, so printing the table does not freeze the app.
  std::vector<route_info> out;
  for (auto& r : core_->routes) {
    std::size_t n = r.own.size();
    for (std::size_t g = r.group;; g = core_->groups[g].parent) {
      n += core_->groups[g].mws.size();
      if (g == 0) break;
    }
    out.push_back({r.verb, r.pattern, n});
  }
  return out;
}

void app::print_routes(std::ostream& os) const {
  for (auto& r : routes()) os << fmt::format("{:<8}{:<40}{} middleware\n", to_string(r.verb), r.pattern, r.middleware_count);
}

group& group::use(middleware_ptr mw) {
  app_->core_->use(index_, std::move(mw));
  return *this;
}
group& group::use(std::function<bool(request&, response&)> before, std::function<void(request&, response&)> after) {
  return use(make_middleware(std::move(before), std::move(after)));
}
group& group::route(method m, std::string_view pattern, handler h, std::vector<middleware_ptr> mws) {
  app_->core_->add_route(index_, m, pattern, std::move(h), std::move(mws));
  return *this;
}
group& group::get(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::get, p, std::move(h), std::move(m)); }
group& group::post(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::post, p, std::move(h), std::move(m)); }
group& group::put(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::put, p, std::move(h), std::move(m)); }
group& group::patch(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::patch, p, std::move(h), std::move(m)); }
group& group::del(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::del, p, std::move(h), std::move(m)); }
group& group::options(std::string_view p, handler h, std::vector<middleware_ptr> m) { return route(method::options, p, std::move(h), std::move(m)); }
group group::subgroup(std::string_view prefix) { return fastjson::group(app_, app_->core_->add_group(index_, prefix)); }
std::string_view group::prefix() const noexcept { return app_->core_->groups[index_].prefix; }

}  // namespace fastjson
