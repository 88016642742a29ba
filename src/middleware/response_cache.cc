// mw::response_cache: a shared HTTP cache for GET/HEAD responses.
//
// Entries live in a cache::sharded_cache. Besides the body, an entry keeps
// what a hit must replay, packed into the entry's content-type field (which
// the cache treats as opaque bytes):
//
//   "SSS" + "FFFFFFFFFF" + content type + "\n" + header lines ("Name: value\r\n"...)
//
// SSS is the three-digit status, F the freshness lifetime in seconds (ten
// digits; the entry's TTL adds the stale-while-revalidate window to it). A route whose response had `Vary` gets a
// marker entry under the base key instead: content type "\x01", value the
// varied header names (lower case, comma separated) + "\n" + a generation
// number. The responses are stored under base + "\0" + generation + "\0" +
// each varied request header's value + "\0". A status always starts with a
// digit, so a marker can't be mistaken for a response. A key whose
// response forbade sharing gets a pass marker (content type "\x02", empty,
// for `pass_ttl`): misses of it skip coalescing.
//
// Coalescing: a GET miss joins the store's flight table
// (`sharded_cache::join`). The first becomes the leader and runs the
// handler; its `after` stores the response, then its state's destruction
// lands the flight. Misses meanwhile return false from `before` without
// answering, so the framework awaits `before_async`, which waits for the
// landing (at most `coalesce_timeout`) and looks the key up again.
//
// Stale-while-revalidate: an entry is stored for its freshness plus its
// window; a lookup past the freshness joins with `refresh`: the leader
// runs the handler (its `after` replaces the entry), everyone else is
// served the stale copy in `before` without waiting.
//
// Invalidation (RFC 9111 4.4): a 2xx/3xx answer to an unsafe method erases
// the base key of its target and of its Location / Content-Location. Erasing
// a marker orphans every variant at once: the next marker gets a new
// generation (process-wide, so middleware objects sharing one store never
// reuse one), and the old variants are never looked up again; they leave by
// TTL or eviction.

#include "fastjson/mw/response_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fastjson/cache.h"

namespace fastjson::mw {
namespace {

constexpr char vary_marker = '\x01';
constexpr char pass_marker = '\x02';

// Generations of Vary markers (see the file comment).
std::atomic<std::uint64_t> vary_generation{0};

// RFC 9110 9.2.1: GET, HEAD, OPTIONS and TRACE are safe; every other method,
// unknown ones included, is not.
bool is_unsafe(method m) noexcept {
  return m != method::get && m != method::head && m != method::options && m != method::trace;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn(item) for each comma-separated, trimmed, non-empty item.
template <class F>
void for_each_item(std::string_view list, F&& fn) {
  while (!list.empty()) {
    std::size_t c = list.find(',');
    std::string_view item = trim(list.substr(0, c));
    if (!item.empty()) fn(item);
    if (c == std::string_view::npos) break;
    list.remove_prefix(c + 1);
  }
}

bool starts_with_ci(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// The Cache-Control directives this middleware acts on.
struct cache_control {
  bool no_store = false;
  bool no_cache = false;
  bool is_private = false;
  std::optional<long long> max_age;
  std::optional<long long> s_maxage;
  std::optional<long long> stale_while_revalidate;  // RFC 5861
};

std::optional<long long> delta_seconds(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  long long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || p != v.data() + v.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return (long long)1 << 31;  // RFC 9111 5.2: "a very large value"
  if (ec != std::errc() || n < 0) return std::nullopt;
  return n;
}

cache_control parse_cache_control(std::optional<std::string_view> h) {
  cache_control cc;
  if (!h) return cc;
  for_each_item(*h, [&](std::string_view d) {
    std::size_t eq = d.find('=');
    std::string_view name = trim(d.substr(0, eq));
    std::string_view arg = eq == std::string_view::npos ? std::string_view() : trim(d.substr(eq + 1));
    if (iequals(name, "no-store")) {
      cc.no_store = true;
    } else if (iequals(name, "no-cache")) {
      cc.no_cache = true;
    } else if (iequals(name, "private")) {
      cc.is_private = true;
    } else if (iequals(name, "max-age")) {
      // An invalid max-age makes the response stale (RFC 9111 4.2.1).
      cc.max_age = delta_seconds(arg).value_or(0);
    } else if (iequals(name, "s-maxage")) {
      cc.s_maxage = delta_seconds(arg).value_or(0);
    } else if (iequals(name, "stale-while-revalidate")) {
      cc.stale_while_revalidate = delta_seconds(arg).value_or(0);
    }
  });
  return cc;
}

// If-None-Match uses the weak comparison (RFC 9110 13.1.2).
bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  auto opaque = [](std::string_view t) { return starts_with_ci(t, "W/") ? t.substr(2) : t; };
  bool hit = false;
  for_each_item(if_none_match, [&](std::string_view t) {
    if (t == "*" || opaque(t) == opaque(etag)) hit = true;
  });
  return hit;
}

// Whether the header line's name is one a hit must not replay from storage.
bool replay_skips(std::string_view name, bool keep_cookies) {
  return iequals(name, "content-type") || iequals(name, "etag") || iequals(name, "age") ||
         (!keep_cookies && iequals(name, "set-cookie"));
}

// Hit, miss, bypass: what `after` has to do. Lives in the request arena.
struct rc_state {
  std::size_t header_offset = 0;  // header bytes set before this middleware ran
  long long max_age = -1;         // the client's Cache-Control: max-age (-1: none)
  bool store = false;
  bool invalidate = false;  // an unsafe method: a success erases its targets
  bool pass = false;        // the key is marked uncacheable: don't coalesce
  // Coalescing: the leader's ticket lands (waking the waiters) when this
  // state is destroyed, after `after` has stored the response; a waiter's
  // is the flight it waits for in before_async.
  cache::sharded_cache::ticket ticket;
};

class response_cache_mw final : public middleware_with_state<rc_state> {
 public:
  explicit response_cache_mw(response_cache_options o) : opts_(std::move(o)) {
    if (opts_.default_ttl.count() <= 0)
      throw std::invalid_argument("mw::response_cache: default_ttl must be positive");
    store_ = opts_.store;
    if (!store_) {
      store_ = std::make_shared<cache::sharded_cache>(cache::options{
          .max_bytes = opts_.max_bytes,
          .max_value_bytes = opts_.max_body_bytes,
          .policy = opts_.policy,
          .clock = opts_.clock,
          .shards = opts_.shards,
      });
    }
  }

  bool before(request& req, response& res, rc_state& st) override {
    st.header_offset = res.header_block().size();
    const method m = req.method();
    if (m != method::get && m != method::head) {
      st.invalidate = is_unsafe(m);
      return true;
    }
    if (!opts_.cache_authorized && req.header("authorization")) return true;
    cache_control cc = parse_cache_control(req.header("cache-control"));
    if (cc.no_store) return true;  // neither served from nor stored in the cache
    st.store = m == method::get;
    bool revalidate = cc.no_cache || (cc.max_age && *cc.max_age == 0);
    if (!revalidate)
      if (auto p = req.header("pragma"); p && !req.header("cache-control") && iequals(trim(*p), "no-cache"))
        revalidate = true;
    if (revalidate) return true;  // run the handler; `after` stores the fresh answer

    if (cc.max_age) st.max_age = *cc.max_age;
    std::string& key = scratch_key();
    cache::entry_ptr stale;
    if (lookup_and_serve(req, res, st, key, &stale)) return false;
    if (stale) {
      // Past its freshness but inside its stale-while-revalidate window:
      // one GET refreshes it (runs the handler, stores the answer); every
      // other request meanwhile gets the stale copy at once.
      if (m == method::get) {
        cache::sharded_cache::ticket t = store_->join(key, /*refresh=*/true);
        if (t.leader()) {
          st.ticket = std::move(t);
          return true;
        }
      }
      serve(req, res, *stale, stale->age(store_->now()));
      st.store = false;
      return false;
    }
    if (st.pass || !opts_.coalesce || m != method::get) return true;
    // A miss: lead the computation of this response, or wait for the
    // request that already does (`key` is the key just looked up).
    cache::sharded_cache::ticket t = store_->join(key);
    // Stored since our lookup (a response, or a Vary or pass marker): look
    // it up again the usual way; a miss then runs the handler uncoalesced.
    if (t.hit()) return !lookup_and_serve(req, res, st, key);
    const bool lead = t.leader();
    st.ticket = std::move(t);
    return lead;  // a waiter returns false unanswered: before_async waits for the leader
  }

  task<bool> before_async(request& req, response& res, rc_state& st) override {
    auto wait = st.ticket.wait(opts_.coalesce_timeout);  // a named local (GCC 12, sharded_cache.h)
    co_await wait;
    st.ticket = {};
    // The leader's response, if it stored one under our key; else (not
    // cacheable, another Vary variant, or the leader is still running past
    // coalesce_timeout) run the handler ourselves.
    co_return !lookup_and_serve(req, res, st, scratch_key());
  }

  void after(request& req, response& res, rc_state& st) override {
    if (st.invalidate) return invalidate(req, res);
    if (store_response(req, res, st) == outcome::uncacheable && st.ticket.leader() && opts_.pass_ttl.count() > 0) {
      // Later misses of this key run at once instead of queueing behind a
      // leader whose answer can't be shared ("hit-for-pass").
      const auto ttl = std::chrono::duration_cast<cache::duration>(opts_.pass_ttl);
      store_->put(st.ticket.key(), {}, {.content_type = std::string_view(&pass_marker, 1), .ttl = ttl});
    }
    // Destroying `st` next lands the ticket: the waiters look the key up again.
  }

 private:
  enum class outcome { stored, skipped, uncacheable };

  // Stores a cacheable GET response; says why not otherwise ("skipped":
  // not a stored status, an error, nothing to store; "uncacheable": the
  // response itself forbids sharing).
  outcome store_response(request& req, response& res, rc_state& st) {
    if (!st.store || !res.done() || res.error()) return outcome::skipped;
    const int status = res.status();
    if (std::find(opts_.statuses.begin(), opts_.statuses.end(), status) == opts_.statuses.end()) return outcome::skipped;
    if (status < 100 || status > 999) return outcome::skipped;
    if (!opts_.cache_set_cookie && res.header("set-cookie")) return outcome::uncacheable;
    cache_control cc = parse_cache_control(res.header("cache-control"));
    if (cc.no_store || cc.no_cache || cc.is_private) return outcome::uncacheable;
    long long ttl = cc.s_maxage ? *cc.s_maxage : cc.max_age ? *cc.max_age : opts_.default_ttl.count();
    if (ttl <= 0) return outcome::uncacheable;  // stale at once (and ttl 0 means "forever" to the cache)
    ttl = std::min<long long>(ttl, 9999999999);  // the metadata's ten digits
    const long long swr = std::min<long long>(
        cc.stale_while_revalidate ? *cc.stale_while_revalidate : opts_.stale_while_revalidate.count(), 9999999999);
    std::string_view body = res.body();
    if (body.size() > opts_.max_body_bytes) return outcome::uncacheable;

    // Vary: "*" can't be keyed; otherwise the listed request headers' values.
    std::string vary_names;
    bool vary_star = false;
    if (auto v = res.header("vary")) {
      for_each_item(*v, [&](std::string_view n) {
        if (n == "*") vary_star = true;
        if (!vary_names.empty()) vary_names += ',';
        for (char c : n) vary_names += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      });
    }
    if (vary_star) return outcome::uncacheable;

    // The headers this route set (everything after what outer middleware had
    // set when `before` ran). A handler that removed an outer header breaks
    // the offset: don't guess, don't store.
    std::string_view block = res.header_block();
    if (block.size() < st.header_offset) return outcome::skipped;
    std::string meta = fmt::format("{:03d}{:010d}{}\n", status, ttl, res.header("content-type").value_or(""));
    std::string_view own = block.substr(st.header_offset);
    while (!own.empty()) {
      std::size_t eol = own.find("\r\n");
      if (eol == std::string_view::npos) break;
      std::string_view line = own.substr(0, eol + 2);
      own.remove_prefix(eol + 2);
      if (!replay_skips(line.substr(0, line.find(':')), opts_.cache_set_cookie)) meta += line;
    }
    if (meta.size() > 60000) return outcome::uncacheable;  // entry metadata fields are 16-bit

    std::string etag;
    if (auto t = res.header("etag")) {
      etag = *t;
    } else {
      etag = cache::make_etag(body);
      res.header("ETag", etag);
    }

    const cache::time_point now = store_->now();
    // Kept (and its Vary marker) through the stale-while-revalidate window.
    const auto fresh = std::chrono::duration_cast<cache::duration>(std::chrono::seconds(ttl + swr));
    std::string key;
    base_key(req, key);
    if (!vary_names.empty()) {
      // Keep the generation of a marker for the same names (its variants
      // stay reachable), extending its life to cover this response.
      cache::entry_ptr marker = store_->peek(key, now);
      std::string value;
      if (marker && is_marker(*marker) && marker_names(marker->value()) == vary_names) {
        value = marker->value();
        if (marker->expires() < now + fresh)
          store_->put(key, value, {.content_type = std::string_view(&vary_marker, 1), .ttl = fresh}, now);
      } else {
        value = fmt::format("{}\n{}", vary_names, vary_generation.fetch_add(1, std::memory_order_relaxed) + 1);
        store_->put(key, value, {.content_type = std::string_view(&vary_marker, 1), .ttl = fresh}, now);
      }
      variant_key(req, value, key);
    }
    store_->put(key, body, {.content_type = meta, .etag = etag, .ttl = fresh}, now);
    if (opts_.sweep_budget) store_->sweep(now, opts_.sweep_budget);
    return outcome::stored;
  }

  // Looks the request up (its base key, then its Vary variant) and serves a
  // fresh-enough entry. Leaves the last key looked up in `key`.
  // With `stale` given, an entry past its freshness but still stored (its
  // stale-while-revalidate window) is not served but handed back there.
  bool lookup_and_serve(request& req, response& res, rc_state& st, std::string& key,
                        cache::entry_ptr* stale = nullptr) {
    const cache::time_point now = store_->now();
    base_key(req, key);
    cache::entry_ptr e = store_->get(key, now);
    if (e && is_marker(*e)) {
      variant_key(req, e->value(), key);
      e = store_->get(key, now);
    }
    if (!e) return false;
    if (is_pass(*e)) {
      st.pass = true;
      return false;
    }
    if (!is_response(*e)) return false;  // someone else's entry in a shared `store`
    const std::chrono::seconds age = e->age(now);
    if (st.max_age >= 0 && age.count() > st.max_age) return false;
    if (age.count() >= fresh_seconds(*e)) {
      if (stale && opts_.coalesce) *stale = std::move(e);
      return false;  // stale: without coalescing (or a waiter's recheck), a miss
    }
    serve(req, res, *e, age);
    st.store = false;
    return true;
  }

  // An entry's freshness lifetime, from its metadata (see the file comment).
  static long long fresh_seconds(const cache::entry& e) noexcept {
    std::string_view meta = e.content_type();
    long long f = 0;
    std::from_chars(meta.data() + 3, meta.data() + 13, f);
    return f;
  }

  // Stored by `store_response`: 13 digits (status, freshness) and a
  // newline after the content type.
  static bool is_response(const cache::entry& e) noexcept {
    std::string_view meta = e.content_type();
    if (meta.size() < 14 || meta.find('\n', 13) == std::string_view::npos) return false;
    for (std::size_t i = 0; i < 13; ++i)
      if (meta[i] < '0' || meta[i] > '9') return false;
    return meta[0] != '0';
  }

  static bool is_pass(const cache::entry& e) noexcept {
    return !e.content_type().empty() && e.content_type()[0] == pass_marker;
  }

  static bool is_marker(const cache::entry& e) noexcept {
    return !e.content_type().empty() && e.content_type()[0] == vary_marker;
  }

  // A per-thread buffer, so a lookup allocates nothing in steady state.
  static std::string& scratch_key() {
    thread_local std::string key;
    return key;
  }

  static void base_key(const request& req, std::string& key) {
    key.assign(req.path());
    if (!req.query_string().empty()) {
      key += '?';
      key += req.query_string();
    }
  }

  // The names part of a marker's value ("names\ngeneration").
  static std::string_view marker_names(std::string_view marker) noexcept {
    return marker.substr(0, marker.rfind('\n'));
  }

  static void variant_key(const request& req, std::string_view marker, std::string& key) {
    const std::size_t nl = marker.rfind('\n');
    key += '\0';
    key += marker.substr(nl + 1);  // the generation
    key += '\0';
    for_each_item(marker.substr(0, nl), [&](std::string_view n) {
      key += req.header(n).value_or("");
      key += '\0';
    });
  }

  // RFC 9111 4.4: after a non-error answer to an unsafe method, the target
  // URI and the same-origin URIs in Location and Content-Location are stale.
  void invalidate(const request& req, const response& res) {
    if (!res.done() || res.status() < 200 || res.status() >= 400) return;
    std::string& key = scratch_key();
    base_key(req, key);
    store_->erase(key);
    for (std::string_view name : {"location", "content-location"})
      if (auto ref = res.header(name); ref && reference_key(req, *ref, key)) store_->erase(key);
  }

  // The cache key of a URI reference from Location or Content-Location: an
  // absolute path, an http(s) URI naming the request's Host, or a relative
  // path without dot segments (resolved against the request path). False
  // for anything else (another origin, dot segments, bad percent-encoding).
  static bool reference_key(const request& req, std::string_view ref, std::string& key) {
    ref = ref.substr(0, ref.find('#'));
    for (std::string_view scheme : {"http://", "https://"}) {
      if (!starts_with_ci(ref, scheme)) continue;
      ref.remove_prefix(scheme.size());
      std::size_t slash = std::min(ref.find('/'), ref.find('?'));
      auto host = req.header("host");
      if (!host || !iequals(ref.substr(0, slash), *host)) return false;
      ref = slash == std::string_view::npos ? std::string_view("/") : ref.substr(slash);
      if (ref.front() == '?') return false;  // "http://host?q": keep it simple
      break;
    }
    if (ref.empty() || ref.starts_with("//")) return false;
    const std::size_t q = ref.find('?');
    std::string_view path = ref.substr(0, q);
    std::string_view query = q == std::string_view::npos ? std::string_view() : ref.substr(q + 1);
    std::string resolved;
    if (path.front() != '/') {
      // A relative reference containing ':' in its first segment is a URI
      // with another scheme.
      if (path.substr(0, path.find('/')).find(':') != std::string_view::npos) return false;
      std::string_view base = req.path();
      resolved.assign(base.substr(0, base.rfind('/') + 1));
      resolved += path;
      path = resolved;
    }
    for (std::string_view seg : {"/./", "/../"})
      if (path.find(seg) != std::string_view::npos) return false;
    if (path.ends_with("/.") || path.ends_with("/..")) return false;
    key.resize(path.size());
    long n = decode_path(path, key.data());
    if (n < 0) return false;
    key.resize(static_cast<std::size_t>(n));
    if (!query.empty()) {
      key += '?';
      key += query;
    }
    return true;
  }

  void serve(const request& req, response& res, const cache::entry& e, std::chrono::seconds age) {
    std::string_view meta = e.content_type();
    int status = (meta[0] - '0') * 100 + (meta[1] - '0') * 10 + (meta[2] - '0');
    std::size_t nl = meta.find('\n');
    std::string_view content_type = meta.substr(13, nl - 13);
    std::string_view lines = meta.substr(nl + 1);
    while (!lines.empty()) {
      std::size_t eol = lines.find("\r\n");
      std::string_view line = lines.substr(0, eol);
      lines.remove_prefix(eol + 2);
      std::size_t colon = line.find(':');
      res.header(line.substr(0, colon), trim(line.substr(colon + 1)));
    }
    res.header("ETag", e.etag());
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, age.count());
    res.header("Age", std::string_view(buf, static_cast<std::size_t>(p - buf)));
    auto inm = req.header("if-none-match");
    if (inm && status == 200 && etag_matches(*inm, e.etag())) {
      res.no_content(304);
      return;
    }
    res.status(status);
    res.send(e.value(), content_type);
  }

  response_cache_options opts_;
  std::shared_ptr<cache::sharded_cache> store_;
};

}  // namespace

middleware_ptr response_cache(response_cache_options opts) {
  return std::make_shared<response_cache_mw>(std::move(opts));
}

}  // namespace fastjson::mw
