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
  /// Sustained requests per second each client may send, from 1e-9 to 1e9
  /// (0.5 is one request every 2 s).
  double per_second = 10;
  /// Requests a client that has been quiet may send at once, from 1 to
  /// 1,048,576 (need not be whole).
  double burst = 20;
  /// Clients tracked at once by this middleware, for the whole process:
  /// the table's size, 8 bytes per client, allocated when it is made.
  std::size_t max_clients = 100000;
};
/// Limits each client address (`req.client_address()`) to `burst` requests
/// at once and `per_second` sustained; a request over the limit gets 429
/// problem+json with `Retry-After` (whole seconds until a request would be
/// admitted, rounded up, at least 1) and is not counted.
///
/// Budgets belong to the middleware instance: two `rate_limit(...)` on two
/// routes limit separately, one instance used on several routes shares its
/// budget between them. They are per process: every worker loop charges the
/// same table, so `config::threads` does not multiply the limit. Behind a
/// proxy every request has the proxy's address.
///
/// Throws `std::invalid_argument`, naming the option, for a `per_second`
/// that is not a number in [1e-9, 1e9] (zero, negative, NaN), a `burst`
/// below 1 (or above 2^20) and a `max_clients` of 0 (or above 2^32).
///
/// How it is shared without a lock: the table is `max_clients` 64-bit
/// words in sets of 8 (a cache line each), allocated once. A word holds a
/// 24-bit fingerprint of the address and the client's "theoretical arrival
/// time" (GCRA, the generic cell rate algorithm: a token bucket stored as
/// the time it will be full again). A request hashes its address to a set,
/// reads the set and admits itself with one compare-and-swap on its word,
/// deciding again if another request changed the word meanwhile; a
/// rejected request writes nothing. Nothing is allocated per request; a
/// client sending on several loops at once contends on one cache line.
///
/// The approximations:
/// - Eviction is per set: a client new to a full set takes an empty word,
///   else the word of a client whose bucket is full again (forgetting it
///   changes nothing), else that of the client whose bucket is fullest,
///   i.e. charged least recently (for clients sending alike, the least
///   recently seen one), which gives away the least budget. A limited
///   client stays tracked until its bucket has (nearly) refilled, so a
///   flood of new addresses evicts its own entries, not it. A set can fill
///   before `max_clients` clients are tracked in all.
/// - Two addresses with the same set and fingerprint share a bucket: a new
///   client meets one of the up to 8 tracked in its set with probability
///   about 8 / 2^24. The hash is keyed with a random seed per instance, so
///   such pairs cannot be chosen by a client.
/// - Time is kept in 1/256ths of the interval 1/per_second on a 40-bit
///   ring (2^32 intervals: 13.6 years at 10/s, 71 minutes at 10^6/s). A
///   word left untouched longer than that is still recognised as at rest,
///   except with probability about burst / 2^31; the returning client then
///   finds a partly spent bucket, once.
middleware_ptr rate_limit(rate_limit_options opts);

}  // namespace fastjson::mw
