#pragma once
/// \file mw/builtin.h
/// The built-in middleware.
///
/// \code
///   app.use(fastjson::mw::request_id());
///   app.use(fastjson::mw::access_log());
///   app.use(fastjson::mw::recover());
///   app.use(fastjson::mw::cors({.origins = {"https://example.com"}, .credentials = true}));
///   api.use(fastjson::mw::timeout(std::chrono::seconds(2)));
///   api.use(fastjson::mw::rate_limit({.per_second = 50, .burst = 100}));
///   app.post("/upload", upload, {fastjson::mw::body_limit(64 << 10)});
/// \endcode

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "fastjson/middleware.h"

namespace fastjson::mw {

/// One line per request to `out` (default stdout):
/// `METHOD PATH STATUS BYTES DURATIONus [request-id]`. PATH is the decoded
/// path; in every logged field a byte outside printable ASCII, a space, '"'
/// and '\\' are written as `\xHH` (as nginx's escape=default), so a request
/// cannot forge a log line or send a terminal escape. Lines are collected
/// per worker and written in batches (at most ~50 ms late), so logging costs
/// no syscall per request.
middleware_ptr access_log(std::FILE* out = stdout);

/// Accepts a client's `X-Request-Id` (1-64 chars of [A-Za-z0-9._-]) or
/// generates one; echoes it in the response and makes it `req.id()`.
middleware_ptr request_id();

struct cors_options {
  /// Allowed origins ("https://example.com"); "*" allows any (and then,
  /// with credentials, the request's origin is echoed, never "*").
  std::vector<std::string> origins;
  std::vector<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  /// Allowed request headers; empty allows whatever a preflight asks for.
  std::vector<std::string> headers;
  std::vector<std::string> expose_headers;
  bool credentials = false;
  std::chrono::seconds max_age{600};
};
/// CORS: answers preflights (OPTIONS with Access-Control-Request-Method)
/// with 204 and the allow headers; adds Access-Control-Allow-Origin (and
/// Vary: Origin) to actual responses for allowed origins. Requests from
/// other origins get no CORS headers, so browsers block them.
middleware_ptr cors(cors_options opts);

/// Handler exceptions: logs them to stderr with the request id; the
/// response is the framework's 500 problem+json (no internals leaked).
middleware_ptr recover();

/// Bodies larger than `max_bytes` get 413 problem+json (per route or
/// group; the server-wide limit is config::max_body_bytes).
middleware_ptr body_limit(std::size_t max_bytes);

/// A handler still running after `limit` is answered with `status` (504 by
/// default, or 503) problem+json; whatever it produces later is discarded.
/// Checked by the loop's tick (100 ms granularity).
middleware_ptr timeout(std::chrono::milliseconds limit, int status = 504);

struct rate_limit_options {
  double per_second = 10;  ///< refill rate of each client's bucket
  double burst = 20;       ///< bucket size
  std::size_t max_clients = 100000;  ///< tracked addresses per worker
};
/// Token bucket per client address, per worker loop (no locks): an empty
/// bucket answers 429 with Retry-After.
middleware_ptr rate_limit(rate_limit_options opts);

}  // namespace fastjson::mw
