#pragma once
// One request in flight: the request and response objects plus every buffer
// they need, pooled per loop and reused, so a steady stream of requests
// allocates nothing.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fastjson/request.h"
#include "fastjson/response.h"
#include "fastjson/task.h"
#include "http/arena.h"

namespace fastjson::detail {

class session;
struct route_entry;

struct request_slot {
  request req;
  response res;
  std::vector<header> headers;  // capacity reserved once: config.max_headers
  buffer raw;                   // pinned copy of the request bytes once a handler suspends
  buffer chunked_body;          // de-chunked body (chunked transfer coding only)
  arena scratch;                // decoded path, params, query values
  std::unique_ptr<std::byte[]> mw_state;  // middleware state area
  std::size_t mw_state_size = 0;
  task<> running;                // a suspended coroutine handler
  task<bool> waiting;            // a middleware's suspended before_async
  const route_entry* route = nullptr;
  std::size_t mw_ran = 0;        // how many middleware `before`s ran (and get their `after`)
  std::size_t mw_waiting = 0;    // 1 + index of the middleware in before_async; 0: none
  session* owner = nullptr;      // nullptr once the connection is gone
  class app_core* route_core = nullptr;  // the app that dispatched it
  class slot_pool* pool = nullptr;       // where it returns
  request_slot* next = nullptr;  // in-flight queue / free list
  // Raw request bytes while parsing (views are rebased when pinned).
  const char* msg_begin = nullptr;
  std::size_t msg_size = 0;
  std::uint16_t allowed = 0;     // methods of the path, for 405 / OPTIONS
  std::uint8_t fallback = 0;     // which built-in answer (see app_core)
  bool head = false;
  bool keep_alive = true;
  bool handler_running = false;  // coroutine (handler or before_async) not finished yet
  bool complete = false;         // response final; waiting for its turn to be written
  bool finished = false;         // app_core::finish ran (afters done)
  bool error_close = false;      // a protocol error: lingering close after this response

  // Parsing scratch.
  std::size_t header_bytes = 0;
  std::size_t url_bytes = 0;
  bool value_pending = false;
  bool expect_continue = false;
  bool has_expect = false;      // an Expect field was seen (checked at the end of the head)
  bool has_connection = false;  // a Connection field was seen (its tokens are read at the end of the head)
  bool has_content_encoding = false;
  bool has_transfer_encoding = false;
  bool unsupported_encoding = false;  // a body with a Content-Encoding we do not decode: 415
  std::uint8_t host_count = 0;  // Host fields seen (RFC 9112 3.2: exactly one in HTTP/1.1)
  std::size_t host_at = 0;      // index of the first in `headers`
  bool chunked = false;

  request_slot() = default;
  request_slot(const request_slot&) = delete;

  void bind(fastjson::loop* l) noexcept {
    req.loop_ = l;
    req.slot_ = this;
  }
  // Clears per-request state, keeping every buffer's memory.
  void reset() noexcept {
    // Only the scalars and counts: the fixed arrays are overwritten before
    // they are read again.
    req.method_ = method::get;
    req.http_minor_ = 1;
    req.method_name_ = req.target_ = req.path_ = req.query_ = req.body_ = {};
    req.headers_ = nullptr;
    req.header_count_ = 0;
    req.param_count_ = 0;
    req.id_len_ = 0;
    res.recycle();
    headers.clear();
    raw.clear();
    chunked_body.clear();
    scratch.reset();
    route = nullptr;
    running = task<>();
    waiting = task<bool>();
    mw_ran = 0;
    mw_waiting = 0;
    next = nullptr;
    msg_begin = nullptr;
    msg_size = 0;
    allowed = 0;
    fallback = 0;
    head = false;
    keep_alive = true;
    handler_running = false;
    complete = false;
    finished = false;
    error_close = false;
    header_bytes = url_bytes = 0;
    value_pending = expect_continue = has_expect = chunked = false;
    has_connection = has_content_encoding = has_transfer_encoding = unsupported_encoding = false;
    host_count = 0;
  }
  // The request's views move with its bytes when they are pinned.
  void rebase(const char* old_base, std::size_t len, const char* new_base) noexcept;
  // Framework-side setters for the request.
  request& r() noexcept { return req; }
  void set_line(method m, std::string_view name, std::string_view target, int minor) noexcept {
    req.method_ = m;
    req.method_name_ = name;
    req.target_ = target;
    req.http_minor_ = minor;
  }
  void set_path(std::string_view path, std::string_view query) noexcept {
    req.path_ = path;
    req.query_ = query;
  }
  void set_body(std::string_view b) noexcept { req.body_ = b; }
  void publish_headers() noexcept {
    req.headers_ = headers.data();
    req.header_count_ = headers.size();
  }
  void set_params(const std::pair<std::string_view, std::string_view>* p, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) req.params_[i] = p[i];
    req.param_count_ = n;
  }
  std::pair<std::string_view, std::string_view>* params() noexcept { return req.params_.data(); }
};

}  // namespace fastjson::detail
