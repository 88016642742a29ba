#pragma once
/// \file mw/response_cache.h
/// `fastjson::mw::response_cache`: a shared HTTP response cache for GET/HEAD
/// routes, on the cache library (`fastjson/cache.h`). See docs/CACHE.md.
///
/// \code
///   auto api = app.group("/api/v1");
///   api.use(fastjson::mw::response_cache({.max_bytes = 32 << 20,
///                                         .default_ttl = std::chrono::seconds(10)}));
///   api.get("/todos/:id", get_todo);   // answered from memory while fresh
/// \endcode
///
/// - **Key**: the decoded path plus `?` and the raw query string; GET and HEAD
///   share it. When the stored response named request headers in `Vary`, the
///   values of those request headers are part of the key too (`Vary: *` is
///   never cached).
/// - **Hit**: answered in `before` (the handler does not run) with the stored
///   status, body, content type, `ETag`, `Age`, and the headers the handler
///   (and middleware inside this one) set. `If-None-Match` matching the ETag
///   gets 304 with no body. HEAD gets the same headers and no body.
/// - **Miss**: the handler runs; in `after` a cacheable GET response is stored
///   (HEAD responses are never stored; they only read). A response without an
///   `ETag` gets a strong one computed from its body.
/// - **Freshness**: the response's `Cache-Control: s-maxage=N` or `max-age=N`,
///   else `default_ttl`. The handler's `no-store`, `no-cache` or `private`, a
///   `Set-Cookie`, a status outside `statuses`, or a request with
///   `Authorization` is not stored (options relax the last three).
/// - **Client**: `Cache-Control: no-store` bypasses the cache (no lookup, no
///   store); `no-cache` (or `Pragma: no-cache`, or `max-age=0`) skips the
///   lookup, runs the handler and stores the fresh response; `max-age=N`
///   accepts only entries at most N seconds old.
/// - **Coalescing** (stampede protection): while one GET miss of a key runs
///   its handler, other GET misses of the same key (from any worker thread)
///   wait for it instead of running the handler too, and are answered from
///   the response it stores; a handler behind a hot key that expired runs
///   once, not once per concurrent request. Waiting costs no thread (the
///   request is suspended in the middleware's `before_async`) and lasts at
///   most `coalesce_timeout`; if the leader's response is not stored (an
///   error status, `no-store`, a different `Vary` variant) or it takes
///   longer, each waiter runs the handler itself. A key whose response
///   forbade storing (`no-store`, `no-cache`, `private`, `Set-Cookie`,
///   `Vary: *`, too large) is marked for `pass_ttl`, during which its misses
///   run at once (no queueing behind a leader whose answer can't be
///   shared). HEAD and client `no-cache` requests never wait.
/// - **Stale while revalidate** (RFC 5861): a response whose `Cache-Control`
///   has `stale-while-revalidate=N` (or any, with the option set) stays
///   stored N seconds past its freshness. In that window the first GET runs
///   the handler to refresh it while every other request (HEAD too) gets the
///   stale copy at once, with its true `Age`; nobody waits.
/// - **Invalidation** (RFC 9111 4.4): a 2xx or 3xx answer to an unsafe method
///   (anything but GET, HEAD, OPTIONS, TRACE) drops the stored response of its
///   target (path and query) and of the URIs in its `Location` and
///   `Content-Location` when they name this origin (an absolute path, an
///   http(s) URI with the request's `Host`, or a relative path without dot
///   segments), with every `Vary` variant. So `PUT /todos/7` makes the next
///   `GET /todos/7` run the handler. Register the middleware where the unsafe
///   routes pass through it too (the app or the group, not only the GET
///   route); other paths (`/todos` after `POST /todos/7/done`) are not
///   touched: erase them from a shared `store`, or give them a short TTL.
///
/// Storage is one `cache::sharded_cache` per middleware object, shared by all
/// worker threads (one copy per response, a `put` is seen by every loop). A
/// hit copies the handle under one shard lock and the bytes into the
/// response after the lock is released.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "fastjson/cache/options.h"
#include "fastjson/middleware.h"

namespace fastjson::cache {
class sharded_cache;
}

namespace fastjson::mw {

struct response_cache_options {
  /// The cache's byte bound (see `cache::options::max_bytes`).
  std::size_t max_bytes = std::size_t{64} << 20;
  /// Bodies longer than this are not stored.
  std::size_t max_body_bytes = std::size_t{1} << 20;
  cache::eviction_policy policy = cache::eviction_policy::s3fifo;
  /// Freshness when the handler gives no `max-age`/`s-maxage` (must be > 0).
  std::chrono::seconds default_ttl{60};
  /// Statuses that may be stored (only 200 by default).
  std::vector<int> statuses = {200};
  /// Store responses that carry `Set-Cookie` (the cookie is replayed to every
  /// client that hits the entry: only for cookies that are not per-user).
  bool cache_set_cookie = false;
  /// Store responses to requests with an `Authorization` header.
  bool cache_authorized = false;
  /// The time source (empty: `steady_clock::now`); tests inject one.
  std::function<cache::time_point()> clock = nullptr;
  /// `cache::options::shards` (0: 16).
  std::size_t shards = 0;
  /// Expired entries reclaimed per stored response (0: none; expired entries
  /// are then reclaimed lazily and before evictions).
  std::size_t sweep_budget = 16;
  /// Request coalescing of concurrent GET misses of one key (see above).
  bool coalesce = true;
  /// The longest a miss waits for the request computing the same response
  /// (nginx's `proxy_cache_lock_timeout`); 0 = as long as that takes.
  std::chrono::milliseconds coalesce_timeout{5000};
  /// How long a key whose response forbade storing skips coalescing
  /// (Varnish's "hit-for-pass"); 0 = never mark (always coalesce).
  std::chrono::seconds pass_ttl{10};
  /// How long past its freshness a response may still be served while one
  /// request refreshes it, when the handler's `Cache-Control` has no
  /// `stale-while-revalidate=N` (RFC 5861); 0 = never serve stale. Needs
  /// `coalesce` (without it a stale entry is a miss).
  std::chrono::seconds stale_while_revalidate{0};
  /// Use this cache instead of creating one (for sharing it, reading its
  /// stats or purging it); the size, policy and clock options are then
  /// ignored.
  std::shared_ptr<cache::sharded_cache> store = nullptr;
};

/// The response cache middleware (see the file comment). Register it at app,
/// group or route level; routes it does not see are not cached.
middleware_ptr response_cache(response_cache_options opts = {});

}  // namespace fastjson::mw
