#pragma once
/// \file response.h
/// The response a handler fills in.
///
/// Exactly one response per request: once a body has been set (`text`,
/// `json`, `send`, `problem`, `no_content`), the response is complete; a
/// second attempt is reported to stderr and ignored, never a corrupt stream.
/// The framework writes the status line, `Date`, `Server`, `Content-Length`
/// (always correct) and `Connection`; headers set here are validated (a CR,
/// LF or other control byte throws std::invalid_argument, so no response
/// splitting). Middleware may still add headers after the handler.
///
/// JSON bodies are serialized straight into the request's output buffer,
/// which is reused from request to request (no intermediate string).

#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>
#include <vector>

#include "fastjson/buffer.h"
#include "fastjson/http_error.h"
#include "fastjson/json/writer.h"

namespace fastjson {

class response {
 public:
  /// The status (default 200). A code outside 100..999 goes out as 500 (the
  /// status line has exactly three digits).
  int status() const noexcept { return status_; }
  response& status(int code) noexcept {
    status_ = code;
    return *this;
  }

  /// Adds a header line. Throws std::invalid_argument when the name is not
  /// an HTTP token or the value holds CR, LF or another control byte.
  /// Content-Length, Date, Server and Connection are managed by the server.
  response& header(std::string_view name, std::string_view value);
  /// Replaces every header of that name with one line (adds it if absent).
  response& set_header(std::string_view name, std::string_view value);
  /// Removes every header of that name.
  void remove_header(std::string_view name) noexcept;
  /// The first header of that name that was set (case-insensitive).
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  /// The header block as set so far ("Name: value\r\n" lines).
  std::string_view header_block() const noexcept { return headers_.view(); }

  /// text/plain; charset=utf-8 body.
  void text(std::string_view body) { send_checked(body, "text/plain; charset=utf-8", false); }
  /// Raw bytes with a content type.
  void send(std::string_view body, std::string_view content_type) { send_checked(body, content_type, true); }
  /// `value` serialized as JSON (application/json).
  template <class T>
  void json(const T& value) {
    if (!begin_body("application/json", false)) return;
    fastjson::json::write(body_, value);
    done_ = true;
  }
  /// Pre-serialized JSON text.
  void raw_json(std::string_view json_text) { send_checked(json_text, "application/json", false); }
  /// A body-less response (204 by default; also for 304).
  void no_content(int code = 204);
  /// An RFC 9457 problem document: {type, title, status, detail, instance,
  /// errors?} as application/problem+json. `instance` is the request path.
  /// Headers set before it stay (WWW-Authenticate, Retry-After, Allow, and
  /// whatever middleware added).
  /// Each error is a body field (`pointer`) or a request parameter
  /// (`parameter` + `in`), see problem_field_error.
  void problem(int code, std::string_view detail, const std::vector<problem_field_error>& errors = {});
  /// Redirect with a Location header (308 keeps the method).
  void redirect(std::string_view location, int code = 308);

  /// For streaming JSON (or any bytes) straight into the output buffer:
  /// sets the content type and returns the body buffer; call `end()` when
  /// finished. Example: `fastjson::json::writer w(res.begin("application/json")); ... ; res.end();`
  buffer& begin(std::string_view content_type);
  void end() noexcept { done_ = true; }

  /// True once a body (or no_content) has been set.
  bool done() const noexcept { return done_; }
  /// The body so far (for middleware: logging, caching, ETags).
  std::string_view body() const noexcept { return body_.view(); }
  std::size_t body_size() const noexcept { return body_.size(); }

  /// Discards the status, the body (with its content type) and the headers
  /// the handler set, so middleware can replace a response (a 504 after a
  /// timeout, a 500 after an exception). Headers that middleware set in
  /// their `before` (X-Request-Id, CORS, Allow) are kept: the replacement
  /// answers the same request.
  void reset() noexcept;

  /// The exception a handler ended with (if any), for middleware such as
  /// mw::recover; the framework has already set a 500 by then.
  std::exception_ptr error() const noexcept { return error_; }
  void set_error(std::exception_ptr e) noexcept { error_ = std::move(e); }

  /// Ask the server to close the connection after this response.
  void close_connection() noexcept { close_ = true; }
  bool closing() const noexcept { return close_; }

  // Framework internals ----------------------------------------------
  void bind_instance(std::string_view path) noexcept { instance_ = path; }
  std::string_view instance() const noexcept { return instance_; }
  /// Starts the body: false (and reported) if a response was already set.
  /// `check` validates the content type (no CR/LF/control bytes; throws
  /// std::invalid_argument); the framework's own constant types skip it.
  bool begin_body(std::string_view content_type, bool check = true);
  buffer& body_buffer() noexcept { return body_; }
  /// Marks the response as sent: later attempts are reported and ignored.
  void mark_sent() noexcept { sent_ = true; }
  bool sent() const noexcept { return sent_; }
  /// Returns the response to its initial state for the next request.
  void recycle() noexcept;
  /// The headers set so far survive reset(): called as each middleware
  /// `before` completes.
  void keep_headers() noexcept { kept_ = headers_.size(); }
  /// True once a body was started (or the response completed), i.e. an
  /// error answer would replace a response rather than fill an empty one.
  bool begun() const noexcept { return begun_ || done_; }

 private:
  void report_twice() const;
  void send_checked(std::string_view body, std::string_view content_type, bool check);
  void append_header(std::string_view name, std::string_view value);  // already validated

  int status_ = 200;
  bool done_ = false;
  bool sent_ = false;
  bool close_ = false;
  bool begun_ = false;     // begin_body ran
  std::size_t kept_ = 0;   // bytes of headers_ that reset() keeps
  buffer headers_;
  buffer body_;
  std::string_view instance_;
  std::exception_ptr error_;
};

}  // namespace fastjson
