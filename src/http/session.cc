// HTTP/1.1 over llhttp: strict parsing, limits, pipelining, in-order output.
//
// Parsing is always done over a contiguous span that starts at the first
// byte of a request, so every llhttp data callback reports a whole field and
// the request's views point straight into the read buffer. A request that is
// not complete at the end of a read is kept (only its bytes) in `partial_`
// and parsed again from its start once more bytes arrive; for a
// Content-Length body the re-parse waits until the whole body is there, so
// a large body costs one extra pass, not one per read.

#include "http/session.h"

#include <llhttp.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

#include "app_core.h"
#include "fastjson/loop.h"
#include "http/scan.h"
#include "http/slot.h"

namespace fastjson::detail {

struct session::parser_state {
  llhttp_t parser;
  int err_status = 0;  // status chosen by our own checks
  const char* err_detail = nullptr;
  const char* last_end = nullptr;  // end of the last data span of the head
  const char* version_begin = nullptr;
  const char* version_end = nullptr;
  const char* body_begin = nullptr;
  std::size_t body_len = 0;
  bool headers_done = false;
  bool field_open = false;  // a header name was seen; its value not yet complete
  bool value_seen = false;  // the open field's value was reported (a second piece is a fold)
};

namespace {

int user_error(session::parser_state* ps, int status, const char* detail) {
  ps->err_status = status;
  ps->err_detail = detail;
  return -1;
}

}  // namespace

// The callbacks need the session; llhttp's `data` field carries it.
struct callbacks {
  static session& s(llhttp_t* p) { return *static_cast<session*>(p->data); }
  static int on_message_begin(llhttp_t* p);
  static int on_method(llhttp_t* p, const char* at, std::size_t n);
  static int on_url(llhttp_t* p, const char* at, std::size_t n);
  static int on_version(llhttp_t* p, const char* at, std::size_t n);
  static int on_version_complete(llhttp_t* p);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_value_complete(llhttp_t* p);
  static int on_header_field_complete(llhttp_t* p);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t n);
  static int on_message_complete(llhttp_t* p);
  static int check_framing(request_slot& slot, llhttp_t& p, session::parser_state& ps);
  static const llhttp_settings_t& settings();
};

namespace {

void send_continue(session& s, bool& sent, bool queue_empty) {
  // An interim response may only go out when no earlier response is due.
  if (sent || !queue_empty) return;
  sent = true;
  s.output().append("HTTP/1.1 100 Continue\r\n\r\n");
  s.flush();
}

// Splits a comma-separated field value into its tokens (OWS trimmed) and
// calls f on each non-empty one (RFC 9110 5.6.1).
template <class F>
void for_each_token(std::string_view v, F&& f) {
  while (!v.empty()) {
    std::size_t comma = v.find(',');
    std::string_view t = v.substr(0, comma);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (!t.empty()) f(t);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

// for_each_token over every field of that name.
template <class F>
void for_each_token_of(const request_slot& slot, std::string_view name, F&& f) {
  for (const header& h : slot.headers)
    if (h.name.size() == name.size() && iequals(h.name, name)) for_each_token(h.value, f);
}

// RFC 3986 uri-host [ ":" port ]: reg-name (unreserved, pct-encoded,
// sub-delims), IPv4 or an IP literal in brackets, then digits. Anything else
// (spaces, '/', '@', controls) is not a Host a server can route on.
constexpr auto host_chars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = true;
  for (unsigned char c : std::string_view("-._~%!$&'()*+,;=:[]")) t[c] = true;
  return t;
}();

// No early exit: a table lookup per byte, once per request.
bool valid_host(std::string_view h) noexcept {
  bool ok = true;
  for (unsigned char c : h) ok &= host_chars[c];
  return ok;
}

// A 4-byte field name against a lower-case, letters-only literal, in one
// comparison: for a lower-case letter x, (c | 0x20) == x only when c is x or
// its upper case.
inline bool is_name4(const char* at, const char (&lower)[5]) noexcept {
  std::uint32_t a, b;
  std::memcpy(&a, at, 4);
  std::memcpy(&b, lower, 4);
  return (a | 0x20202020u) == b;
}

}  // namespace

// Framing and header rules llhttp 8.1 does not enforce itself, checked once
// the head is complete. Returns -1 (with the error in `ps`) to refuse the
// request, 0 to go on.
int callbacks::check_framing(request_slot& slot, llhttp_t& p, session::parser_state& ps) {
  const bool http10 = p.http_minor == 0;
  // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host (HTTP/1.0 may
  // have none), with a value that is a host.
  if (slot.host_count > 1) return user_error(&ps, 400, "a request must not have more than one Host header");
  if (slot.host_count == 0 && !http10) return user_error(&ps, 400, "an HTTP/1.1 request needs a Host header");
  if (slot.host_count == 1 && !valid_host(slot.headers[slot.host_at].value))
    return user_error(&ps, 400, "the Host header is not a valid host");
  // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request means faulty
  // framing: refuse it and close.
  if (http10 && slot.has_transfer_encoding)
    return user_error(&ps, 400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
  // A Transfer-Encoding field with no coding in it (llhttp 8.1 does not
  // count an empty one): the body length cannot be known (RFC 9112 6.3), so
  // Content-Length must not be trusted either.
  if (slot.has_transfer_encoding && !(p.flags & F_TRANSFER_ENCODING))
    return user_error(&ps, 400, "Transfer-Encoding must name a transfer coding");
  // CONNECT turns the connection into a tunnel; a JSON API server does not
  // proxy (RFC 9110 9.3.6).
  if (p.method == HTTP_CONNECT) return user_error(&ps, 501, "CONNECT is not supported by this server");
  // An Upgrade offer is ignored (RFC 9110 7.8: a server may keep the current
  // protocol): the request is answered as a plain HTTP/1.1 request and the
  // connection goes on, instead of llhttp pausing the parser for a protocol
  // switch that never happens.
  p.upgrade = 0;
  // Persistence from the Connection tokens (RFC 9112 9.3, 9.6); llhttp
  // misses "close" followed by whitespace.
  bool close = false, keep_alive = false;
  if (slot.has_connection) {
    for_each_token_of(slot, "connection", [&](std::string_view t) {
      if (iequals(t, "close")) close = true;
      else if (iequals(t, "keep-alive")) keep_alive = true;
    });
  }
  slot.keep_alive = !close && (!http10 || keep_alive);
  // A body in a content coding we cannot decode: 415 with Accept-Encoding
  // (RFC 9110 15.5.16), answered by the app once the body is read.
  if (slot.has_content_encoding && ((p.flags & F_CHUNKED) || ((p.flags & F_CONTENT_LENGTH) && p.content_length))) {
    for_each_token_of(slot, "content-encoding", [&](std::string_view t) {
      if (!iequals(t, "identity")) slot.unsupported_encoding = true;
    });
  }
  return 0;
}

const llhttp_settings_t& callbacks::settings() {
  // Sessions are created on every worker thread; a function-local static is
  // initialised exactly once, thread-safely (a plain flag here was a data
  // race TSan caught when two loops accepted their first connection at once).
  static const llhttp_settings_t table = [] {
    llhttp_settings_t t;
    llhttp_settings_init(&t);
    t.on_message_begin = on_message_begin;
    t.on_method = on_method;
    t.on_url = on_url;
    t.on_version = on_version;
    t.on_version_complete = on_version_complete;
    t.on_header_field = on_header_field;
    t.on_header_value = on_header_value;
    t.on_header_value_complete = on_header_value_complete;
    t.on_header_field_complete = on_header_field_complete;
    t.on_headers_complete = on_headers_complete;
    t.on_body = on_body;
    t.on_message_complete = on_message_complete;
    return t;
  }();
  return table;
}

int callbacks::on_message_begin(llhttp_t* p) {
  auto& se = s(p);
  auto& ps = *se.ps_;
  se.in_message_ = true;
  ps.err_status = 0;
  ps.last_end = ps.version_begin = ps.version_end = ps.body_begin = nullptr;
  ps.body_len = 0;
  ps.headers_done = false;
  ps.field_open = false;
  return 0;
}

int callbacks::on_method(llhttp_t* p, const char* at, std::size_t n) {
  auto& slot = *s(p).current_;
  slot.msg_begin = at;
  slot.set_line(parse_method({at, n}), {at, n}, {}, 1);
  return 0;
}

int callbacks::on_url(llhttp_t* p, const char* at, std::size_t n) {
  auto& se = s(p);
  auto& slot = *se.current_;
  auto& ps = *se.ps_;
  slot.url_bytes += n;
  if (slot.url_bytes > se.app_.cfg.max_url_bytes)
    return user_error(&ps, 414, "the request target is longer than the server accepts");
  slot.set_line(slot.req.method(), slot.req.method_name(), {at, n}, 1);
  ps.last_end = at + n;
  return 0;
}

int callbacks::on_version(llhttp_t* p, const char* at, std::size_t n) {
  auto& ps = *s(p).ps_;
  if (!ps.version_begin) ps.version_begin = at;
  ps.version_end = at + n;
  ps.last_end = at + n;
  return 0;
}

int callbacks::on_version_complete(llhttp_t* p) {
  auto& ps = *s(p).ps_;
  std::string_view v(ps.version_begin, static_cast<std::size_t>(ps.version_end - ps.version_begin));
  if (v != "1.1" && v != "1.0")
    return user_error(&ps, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
  return 0;
}

int callbacks::on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  auto& se = s(p);
  auto& slot = *se.current_;
  auto& ps = *se.ps_;
  auto& cfg = se.app_.cfg;
  // Every header line must start right after a CRLF: catches bare LF line
  // ends and split field names.
  if (at[-1] != '\n' || at[-2] != '\r')
    return user_error(&ps, 400, "header lines must end with CRLF");
  if (slot.headers.size() >= cfg.max_headers) return user_error(&ps, 431, "too many header fields");
  slot.header_bytes += n;
  if (slot.header_bytes > cfg.max_header_bytes)
    return user_error(&ps, 431, "the header section is too large");
  slot.headers.push_back({{at, n}, {}});
  // Fields the framing depends on are looked at in on_headers_complete; the
  // length test first keeps this off the path of every other field.
  switch (n) {
    case 4:
      if (is_name4(at, "host") && slot.host_count < 2) {
        ++slot.host_count;
        slot.host_at = slot.headers.size() - 1;
      }
      break;
    case 6:
      if (iequals({at, n}, "expect")) slot.has_expect = true;
      break;
    case 10:
      if (iequals({at, n}, "connection")) slot.has_connection = true;
      break;
    case 16:
      if (iequals({at, n}, "content-encoding")) slot.has_content_encoding = true;
      break;
    case 17:
      if (iequals({at, n}, "transfer-encoding")) slot.has_transfer_encoding = true;
      break;
    default:
      break;
  }
  ps.field_open = true;
  ps.value_seen = false;
  ps.last_end = at + n;
  return 0;
}

int callbacks::on_header_value(llhttp_t* p, const char* at, std::size_t n) {
  auto& se = s(p);
  auto& slot = *se.current_;
  auto& ps = *se.ps_;
  if (!ps.field_open || slot.headers.empty())
    return user_error(&ps, 400, "empty header field name");
  auto& h = slot.headers.back();
  if (ps.value_seen) {
    // A value reported in two pieces in a contiguous parse means a folded
    // line (obs-fold), which RFC 9112 lets servers reject; the first piece
    // may be empty ("Name:\r\n folded").
    return user_error(&ps, 400, "obsolete line folding is not accepted");
  }
  ps.value_seen = true;
  if (n > 0) {
    // llhttp skips a fold that follows an empty first line as if it were
    // OWS ("Name:\r\n folded"): the value then starts right after a line end.
    const char* b = at;
    while (b[-1] == ' ' || b[-1] == '\t') --b;
    if (b[-1] == '\n') return user_error(&ps, 400, "obsolete line folding is not accepted");
  }
  if (has_cr_or_lf(at, n)) return user_error(&ps, 400, "obsolete line folding is not accepted");
  slot.header_bytes += n;
  if (slot.header_bytes > se.app_.cfg.max_header_bytes)
    return user_error(&ps, 431, "the header section is too large");
  h.value = {at, n};
  ps.last_end = at + n;
  return 0;
}

int callbacks::on_header_field_complete(llhttp_t* p) {
  auto& se = s(p);
  auto& ps = *se.ps_;
  if (se.current_->headers.empty() || se.current_->headers.back().name.empty())
    return user_error(&ps, 400, "empty header field name");
  return 0;
}

int callbacks::on_header_value_complete(llhttp_t* p) {
  auto& ps = *s(p).ps_;
  if (!ps.field_open) return user_error(&ps, 400, "empty header field name");
  ps.field_open = false;
  return 0;
}

int callbacks::on_headers_complete(llhttp_t* p) {
  auto& se = s(p);
  auto& slot = *se.current_;
  auto& ps = *se.ps_;
  auto& app = se.app_;
  // The request line must end in CRLF, and the head in an empty CRLF line
  // right after the last field (llhttp alone accepts a bare LF there).
  if (!ps.version_end || ps.version_end[0] != '\r' || ps.version_end[1] != '\n')
    return user_error(&ps, 400, "the request line must end with CRLF");
  const char* e = ps.last_end;
  // An empty last value ("Name:" or "Name: ") has no span of its own (llhttp
  // reports an empty one at the end of the head): start from its name.
  if (!slot.headers.empty() && slot.headers.back().value.empty()) {
    const header& h = slot.headers.back();
    e = h.name.data() + h.name.size();
    if (*e == ':') ++e;
  }
  while (*e == ' ' || *e == '\t') ++e;
  if (std::memcmp(e, "\r\n\r\n", 4) != 0)
    return user_error(&ps, 400, "the header section must end with CRLF CRLF");
  const char* head_end = e + 4;
  ps.headers_done = true;
  slot.publish_headers();
  slot.set_line(slot.req.method(), slot.req.method_name(), slot.req.target(), p->http_minor);

  std::uint64_t cl = (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;
  slot.chunked = (p->flags & F_CHUNKED) != 0;
  if (int st = check_framing(slot, *p, ps)) return st;
  if (auto ex = slot.has_expect ? slot.req.header("expect") : std::nullopt) {
    if (iequals(*ex, "100-continue"))
      slot.expect_continue = true;
    else
      return user_error(&ps, 417, "only 'Expect: 100-continue' is supported");
  }
  if (cl > app.cfg.max_body_bytes)
    return user_error(&ps, 413, "the request body is larger than the server accepts");
  if (cl > 0) {
    std::size_t head_len = static_cast<std::size_t>(head_end - slot.msg_begin);
    se.need_bytes_ = head_len + static_cast<std::size_t>(cl);
  }
  if (slot.expect_continue && (cl > 0 || slot.chunked))
    send_continue(se, se.continue_sent_, se.head_ == nullptr);
  return 0;
}

int callbacks::on_body(llhttp_t* p, const char* at, std::size_t n) {
  auto& se = s(p);
  auto& slot = *se.current_;
  auto& ps = *se.ps_;
  if (slot.chunked) {
    if (slot.chunked_body.size() + n > se.app_.cfg.max_body_bytes)
      return user_error(&ps, 413, "the request body is larger than the server accepts");
    slot.chunked_body.append(at, n);
    return 0;
  }
  if (!ps.body_begin) ps.body_begin = at;
  ps.body_len += n;
  return 0;
}

int callbacks::on_message_complete(llhttp_t* p) {
  auto& se = s(p);
  auto& slot = *se.current_;
  auto& ps = *se.ps_;
  if (slot.chunked) {
    slot.chunked_body.reserve(slot.chunked_body.size() + request::body_padding);
    slot.set_body(slot.chunked_body.view());
  } else if (ps.body_begin) {
    slot.set_body({ps.body_begin, ps.body_len});
  }
  return HPE_PAUSED;
}

// ---------------------------------------------------------------------------

session::session(app_core& app, fastjson::loop& loop, slot_pool& pool)
    : app_(app), loop_(loop), pool_(pool), ps_(std::make_unique<parser_state>()) {
  llhttp_init(&ps_->parser, HTTP_REQUEST, &callbacks::settings());
  ps_->parser.data = this;
}

session::~session() {
  detach_all();
}

void session::detach_all() noexcept {
  if (current_) {
    pool_.release(current_);
    current_ = nullptr;
  }
  for (request_slot* s = head_; s;) {
    request_slot* next = s->next;
    s->owner = nullptr;
    if (!s->handler_running) pool_.release(s);
    s = next;
  }
  head_ = tail_ = nullptr;
  inflight_ = 0;
  detached_ = true;
}

char* session::partial_space(std::size_t want, std::size_t& cap) {
  if (partial_.empty()) return nullptr;
  char* p = partial_.prepare(want + request::body_padding);
  cap = want;
  return p;
}

void session::on_read(const char* data, std::size_t len) {
  if (closing_ || detached_) return;  // lingering: input is drained, not parsed
  in_batch_ = true;
  bool own = !partial_.empty() && data == partial_.data() + partial_.size();
  if (own) {
    partial_.commit(len);
    if (partial_.size() >
        app_.cfg.max_body_bytes + app_.cfg.max_header_bytes + app_.cfg.max_url_bytes + 1024) {
      fail(need_bytes_ ? 413 : 431, "the request is larger than the server accepts");
    } else if (need_bytes_ == 0 || partial_.size() >= need_bytes_) {
      parse(partial_.data(), partial_.size(), true);
    }
  } else if (!partial_.empty()) {
    // The transport read elsewhere; append (rare: it always asks first).
    partial_.append(data, len);
    partial_.reserve(partial_.size() + request::body_padding);
    if (need_bytes_ == 0 || partial_.size() >= need_bytes_)
      parse(partial_.data(), partial_.size(), true);
  } else {
    parse(data, len, false);
  }
  in_batch_ = false;
  if (detached_) return;
  write_ready_responses();
  flush();
  update_wait_state();
  resume_if_room();
}

void session::resume_if_room() {
  // Parsing stopped at cfg.max_pipeline; once answers have left the window,
  // read again and parse the bytes kept from where it stopped. Each round
  // either consumes a request or leaves the session unpaused.
  while (paused_ && inflight_ < app_.cfg.max_pipeline && !closing_ && !detached_) {
    paused_ = false;
    resume_reading();
    if (partial_.empty()) break;
    in_batch_ = true;
    parse(partial_.data(), partial_.size(), true);
    in_batch_ = false;
    if (detached_) return;
    write_ready_responses();
    flush();
    update_wait_state();
  }
}

void session::parse(const char* data, std::size_t len, bool own) {
  std::size_t pos = 0;
  std::size_t keep_from = len;  // first byte not consumed
  while (pos < len && !closing_) {
    if (inflight_ >= app_.cfg.max_pipeline && head_ && head_->complete) {
      // Answers that are ready leave the window (into the output buffer;
      // they are flushed after this read), so a deep pipeline of quick
      // handlers never stalls at the limit.
      write_ready_responses();
      if (closing_) break;
    }
    if (inflight_ >= app_.cfg.max_pipeline) {
      keep_from = pos;
      if (!paused_) {
        paused_ = true;
        pause_reading();
      }
      break;
    }
    if (!current_) {
      current_ = pool_.acquire();
      current_->msg_begin = data + pos;
    }
    llhttp_errno_t err = llhttp_execute(&ps_->parser, data + pos, len - pos);
    if (err == HPE_PAUSED) {
      const char* stop = llhttp_get_error_pos(&ps_->parser);
      llhttp_resume(&ps_->parser);
      current_->msg_size = static_cast<std::size_t>(stop - current_->msg_begin);
      pos = static_cast<std::size_t>(stop - data);
      dispatch_current();
      continue;
    }
    if (err == HPE_OK) {
      pos = len;
      if (in_message_) keep_from = static_cast<std::size_t>(current_->msg_begin - data);
      break;
    }
    int status = ps_->err_status;
    const char* detail = ps_->err_detail;
    if (!status) {
      status = 400;
      detail = llhttp_get_error_reason(&ps_->parser);
    }
    fail(status, detail ? detail : "malformed request");
    return;
  }
  if (closing_) {
    partial_.clear();
    return;
  }
  if (in_message_ || keep_from < len) {
    // Keep the unfinished request's bytes and parse them again from their
    // first byte next time.
    if (current_) {
      pool_.release(current_);
      current_ = nullptr;
    }
    in_message_ = false;
    llhttp_reset(&ps_->parser);
    if (own) {
      partial_.consume(keep_from);
    } else {
      partial_.clear();
      partial_.reserve(len - keep_from + 4096 + request::body_padding);
      partial_.append(data + keep_from, len - keep_from);
    }
    partial_.reserve(partial_.size() + request::body_padding);
  } else {
    if (current_) {  // only whitespace between requests was consumed
      pool_.release(current_);
      current_ = nullptr;
    }
    if (own || !partial_.empty()) partial_.release();
    need_bytes_ = 0;
  }
}

void session::dispatch_current() {
  request_slot* slot = current_;
  current_ = nullptr;
  in_message_ = false;
  continue_sent_ = false;
  need_bytes_ = 0;
  slot->owner = this;
  slot->next = nullptr;
  if (tail_)
    tail_->next = slot;
  else
    head_ = slot;
  tail_ = slot;
  ++inflight_;
  if (!slot->keep_alive || shutting_down_) closing_ = true;
  if (shutting_down_) slot->keep_alive = false;
  app_.dispatch(*slot);
  if (slot->handler_running) pin(*slot);
}

void session::pin(request_slot& slot) {
  // The handler outlives this read: copy its request bytes out of the shared
  // read buffer and move every view along.
  const char* old_base = slot.msg_begin;
  slot.raw.clear();
  slot.raw.reserve(slot.msg_size + request::body_padding);
  slot.raw.append(old_base, slot.msg_size);
  slot.rebase(old_base, slot.msg_size, slot.raw.data());
  slot.msg_begin = slot.raw.data();
}

void session::on_slot_complete(request_slot& slot) {
  slot.complete = true;
  if (in_batch_ || detached_) return;
  write_ready_responses();
  flush();
  update_wait_state();
  resume_if_room();
}

void session::write_ready_responses() {
  while (head_ && head_->complete) {
    request_slot* s = head_;
    head_ = s->next;
    if (!head_) tail_ = nullptr;
    --inflight_;
    bool close = s->error_close || !s->keep_alive || s->res.closing() || (shutting_down_ && !head_);
    if (close && !s->error_close) s->keep_alive = false;
    bool lingering = s->error_close;
    finalize(*s);
    if (s->handler_running)
      s->owner = nullptr;  // answered early (timeout): the handler releases it
    else
      pool_.release(s);
    if (close) {
      closing_ = true;
      // Requests parsed after this one will never be answered.
      for (request_slot* r = head_; r;) {
        request_slot* next = r->next;
        r->owner = nullptr;
        if (!r->handler_running) pool_.release(r);
        r = next;
      }
      head_ = tail_ = nullptr;
      inflight_ = 0;
      close_after_flush(lingering);
      return;
    }
  }
}

namespace {

// "HTTP/1.1 NNN Reason\r\n" for every status 100..999, built once.
struct status_lines {
  static constexpr int first = 100, last = 999;
  std::string text;
  std::uint32_t at[last - first + 2];
  status_lines() {
    for (int s = first; s <= last; ++s) {
      at[s - first] = static_cast<std::uint32_t>(text.size());
      text += "HTTP/1.1 ";
      text += static_cast<char>('0' + s / 100);
      text += static_cast<char>('0' + s / 10 % 10);
      text += static_cast<char>('0' + s % 10);
      text += ' ';
      text += status_reason(s);
      text += "\r\n";
    }
    at[last - first + 1] = static_cast<std::uint32_t>(text.size());
  }
  std::string_view get(int s) const noexcept {  // s in [first, last]
    return {text.data() + at[s - first], at[s - first + 1] - at[s - first]};
  }
};

const status_lines& lines_table() {
  static const status_lines table;  // a function-local static: no initialisation-order trap
  return table;
}

// A copy of a short piece without a call into libc's memcpy: fixed-size
// (inlined) moves, overlapping at the end. Response heads are made of
// pieces of 2..64 bytes, sixteen responses per read under pipelining.
inline char* put(char* p, std::string_view v) noexcept {
  const char* s = v.data();
  const std::size_t n = v.size();
  if (n >= 16 && n <= 32) {
    std::memcpy(p, s, 16);
    std::memcpy(p + n - 16, s + n - 16, 16);
  } else if (n >= 8 && n < 16) {
    std::memcpy(p, s, 8);
    std::memcpy(p + n - 8, s + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(p, s, 4);
    std::memcpy(p + n - 4, s + n - 4, 4);
  } else if (n != 0) {
    std::memcpy(p, s, n);  // data() may be null only when n == 0
  }
  return p + n;
}

}  // namespace

void session::finalize(request_slot& slot) {
  response& res = slot.res;
  buffer& out = output();
  int status = res.status();
  if (status < status_lines::first || status > status_lines::last) status = 500;  // see response::status
  bool bodyless = status < 200 || status == 204 || status == 304;
  std::string_view status_line = lines_table().get(status);
  std::string_view date = date_line();
  std::string_view server = app_.server_line;
  std::string_view headers = res.header_block();
  std::string_view body = bodyless || slot.head ? std::string_view() : res.body();
  std::string_view conn;
  if (!slot.keep_alive || slot.error_close)
    conn = "Connection: close\r\n";
  else if (slot.req.http_minor() == 0)
    conn = "Connection: keep-alive\r\n";
  // One reservation for the whole response, then plain copies: this runs
  // once per response, sixteen times per read under pipelining.
  char cl[24];
  std::size_t cl_len = 0;
  if (!bodyless) cl_len = static_cast<std::size_t>(std::to_chars(cl, cl + sizeof cl, res.body_size()).ptr - cl);
  std::size_t total = status_line.size() + server.size() + date.size() + (bodyless ? 0 : 16 + cl_len + 2) +
                      headers.size() + conn.size() + 2 + body.size();
  char* p = out.prepare(total);
  char* const start = p;
  p = put(p, status_line);
  p = put(p, server);
  p = put(p, date);
  if (!bodyless) {
    std::memcpy(p, "Content-Length: ", 16);
    p = put(p + 16, {cl, cl_len});
    std::memcpy(p, "\r\n", 2);
    p += 2;
  }
  p = put(p, headers);
  p = put(p, conn);
  std::memcpy(p, "\r\n", 2);
  p = put(p + 2, body);
  out.commit(static_cast<std::size_t>(p - start));
  res.mark_sent();
}

void session::fail(int status, std::string_view detail) {
  if (current_) {
    pool_.release(current_);
    current_ = nullptr;
  }
  in_message_ = false;
  request_slot* s = pool_.acquire();
  s->owner = this;
  s->error_close = true;
  s->keep_alive = false;
  s->complete = true;
  write_problem(s->res, status, detail, {});
  if (tail_)
    tail_->next = s;
  else
    head_ = s;
  tail_ = s;
  ++inflight_;
  closing_ = true;
  partial_.release();
  if (!in_batch_) {
    write_ready_responses();
    flush();
  }
}

void session::begin_shutdown() {
  shutting_down_ = true;
  // Nothing acknowledged is pending (at most a partial request): close now.
  if (inflight_ == 0) {
    closing_ = true;
    close_after_flush(false);
  }
}

void session::on_peer_gone() {
  detach_all();
}

void session::update_wait_state() {
  if (detached_ || closing_) return;
  if (!partial_.empty())
    set_wait_state(need_bytes_ || ps_->headers_done ? wait_state::body : wait_state::header);
  else if (inflight_ > 0)
    set_wait_state(wait_state::none);
  else
    set_wait_state(wait_state::idle);
}

// ---------------------------------------------------------------------------

slot_pool::slot_pool(app_core& app, fastjson::loop& loop) : app_(app), loop_(loop) {}

slot_pool::~slot_pool() {
  clear();
}

void slot_pool::clear() noexcept {
  // Every slot, free or not: a handler that never finished (its connection
  // was closed at the shutdown deadline) still holds one. Destroying its
  // task destroys the suspended coroutine frames; the loop's pending timers
  // were freed (without running) before this. Free slots have mw_ran == 0.
  // An awaiter in a destroyed frame withdraws from the work it waits for, or
  // waits until that work stops reading the frame (task.h, db/sqlite.h).
  for (request_slot* s : all_) {
    s->running = task<>();
    s->waiting = task<bool>();
    // Middleware whose `before` ran for it never got its `after` (nor one
    // still in before_async): let each release its per-request state
    // (destructors of middleware_with_state).
    if (s->route && s->mw_state) {
      if (s->mw_waiting)
        s->route->chain[s->mw_waiting - 1]->abandon(s->mw_state.get() + s->route->state_off[s->mw_waiting - 1]);
      for (std::size_t i = s->mw_ran; i-- > 0;) s->route->chain[i]->abandon(s->mw_state.get() + s->route->state_off[i]);
    }
    delete s;
  }
  all_.clear();
  free_ = nullptr;
}

request_slot* slot_pool::acquire() {
  request_slot* s = free_;
  if (s) {
    free_ = s->next;
  } else {
    s = new request_slot();
    s->bind(&loop_);
    s->route_core = &app_;
    s->pool = this;
    s->headers.reserve(app_.cfg.max_headers);
    s->mw_state_size = app_.state_size();
    if (s->mw_state_size) s->mw_state = std::make_unique<std::byte[]>(s->mw_state_size);
    all_.push_back(s);
  }
  s->next = nullptr;
  return s;
}

void slot_pool::release(request_slot* s) noexcept {
  s->reset();
  s->next = free_;
  free_ = s;
}

void request_slot::rebase(const char* old_base, std::size_t len, const char* new_base) noexcept {
  auto move = [&](std::string_view& v) {
    if (v.data() >= old_base && v.data() < old_base + len)
      v = {new_base + (v.data() - old_base), v.size()};
  };
  move(req.method_name_);
  move(req.target_);
  move(req.path_);
  move(req.query_);
  move(req.body_);
  for (auto& h : headers) {
    move(h.name);
    move(h.value);
  }
  for (std::size_t i = 0; i < req.param_count_; ++i) {
    move(req.params_[i].first);
    move(req.params_[i].second);
  }
  // The problem+json `instance` (the raw request path) points into the
  // message too.
  std::string_view inst = res.instance();
  move(inst);
  res.bind_instance(inst);
}

}  // namespace fastjson::detail
