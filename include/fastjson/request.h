#pragma once
/// \file request.h
/// The request as a handler sees it.
///
/// **Lifetimes.** Every `std::string_view` a request hands out (method,
/// target, path, header names and values, body, params, query values) points
/// into memory owned by the connection: the read buffer, or, once a handler
/// suspends, a per-request copy. Views stay valid until the response to this
/// request has been sent (that is, until the handler and its middleware have
/// finished). Copy what must live longer.
///
/// `body()` is followed by at least `body_padding` readable bytes, so the JSON
/// reader parses it in place without a copy.

#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "fastjson/http_error.h"
#include "fastjson/json/reader.h"

namespace fastjson {

class loop;

/// The methods the router tables know; anything else is `other`.
enum class method : std::uint8_t { get, head, post, put, patch, del, options, trace, connect, other };
inline constexpr std::size_t method_count = 10;
std::string_view to_string(method m) noexcept;
/// Parses an upper-case method name ("GET"); unknown names give `other`.
method parse_method(std::string_view name) noexcept;

struct header {
  std::string_view name;
  std::string_view value;
};

/// Case-insensitive ASCII comparison of header names.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// Percent-decodes `in` into `out` (which must have room for in.size()
/// bytes); `plus_is_space` for query strings. Returns the decoded length, or
/// -1 when `in` holds an invalid escape (a '%' not followed by two hex digits).
long percent_decode(std::string_view in, char* out, bool plus_is_space) noexcept;
/// Decodes a request path the way the router sees it (`request::path()`):
/// every %XX except %2F and %25, which stay as written so that segments and
/// parameters keep their boundaries. `out` needs room for raw.size() bytes.
/// Returns the decoded length, or -1 for an invalid escape or an encoded NUL.
long decode_path(std::string_view raw, char* out) noexcept;

namespace detail {
struct request_slot;
/// Thrown-through helpers for typed access; defined in src/http/request.cc.
[[noreturn]] void bad_param(std::string_view kind, std::string_view name, std::string_view value,
                            std::string_view expected);
template <class T>
T convert_text(std::string_view kind, std::string_view name, std::string_view text) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return text;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return std::string(text);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    bad_param(kind, name, text, "true or false");
  } else if constexpr (std::is_integral_v<T>) {
    T v{};
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size())
      bad_param(kind, name, text, std::is_signed_v<T> ? "an integer" : "a non-negative integer");
    return v;
  } else if constexpr (std::is_floating_point_v<T>) {
    T v{};
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size()) bad_param(kind, name, text, "a number");
    return v;
  } else {
    static_assert(sizeof(T) == 0, "unsupported parameter type");
  }
}
}  // namespace detail

class request {
 public:
  /// SIMDJSON_PADDING: readable bytes guaranteed after body().
  static constexpr std::size_t body_padding = 64;

  fastjson::method method() const noexcept { return method_; }
  std::string_view method_name() const noexcept { return method_name_; }
  /// The raw request-target ("/api/todos?limit=5"), not decoded.
  std::string_view target() const noexcept { return target_; }
  /// The percent-decoded path without the query ("/api/todos"). An encoded
  /// slash (%2F) and an encoded percent sign (%25) stay encoded here, so an
  /// encoded slash cannot change the route and nothing is decoded twice;
  /// route params decode both ("/files/a%2Fb" gives param "a/b").
  std::string_view path() const noexcept { return path_; }
  /// The raw query string after '?', not decoded ("" if none).
  std::string_view query_string() const noexcept { return query_; }
  /// 0 for HTTP/1.0, 1 for HTTP/1.1.
  int http_minor() const noexcept { return http_minor_; }

  /// The first header of that name (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  std::span<const fastjson::header> headers() const noexcept { return {headers_, header_count_}; }

  /// The body, de-chunked if it came chunked; followed by body_padding bytes.
  std::string_view body() const noexcept { return body_; }

  /// A route parameter (`:id` or `*rest`), percent-decoded; "" if absent.
  std::string_view param(std::string_view name) const noexcept;
  /// A route parameter converted to T (integers, floating point, bool,
  /// string). A value that does not convert throws http_error 400 naming
  /// the parameter.
  template <class T>
  T param(std::string_view name) const {
    return detail::convert_text<T>("path parameter", name, param(name));
  }
  std::span<const std::pair<std::string_view, std::string_view>> params() const noexcept {
    return {params_.data(), param_count_};
  }

  /// A query parameter, percent-decoded ('+' is a space); the first of that
  /// name. Parsed lazily from query_string() on each call.
  std::optional<std::string_view> query(std::string_view name) const;
  /// A query parameter converted to T, or `fallback` when absent; a present
  /// value that does not convert throws http_error 400 naming it.
  template <class T>
  T query(std::string_view name, T fallback) const {
    auto v = query(name);
    if (!v) return fallback;
    return detail::convert_text<T>("query parameter", name, *v);
  }

  /// Parses the body as JSON into T (a FASTJSON_REFLECT type or any type the
  /// JSON reader supports). Throws http_error: 415 unless Content-Type is
  /// application/json (or a +json type), 400 for malformed JSON, 422 with
  /// `errors[]` (JSON Pointers) for the wrong shape or a failed constraint.
  template <class T>
  T json() const {
    check_json_content_type();
    auto r = fastjson::json::read<T>(simdjson::padded_string_view(body_.data(), body_.size(),
                                                                  body_.size() + body_padding));
    if (!r.ok()) throw_json_error(r.kind(), r.errors);
    return std::move(r.value());
  }

  /// The peer's address as text ("127.0.0.1"); "" for in-process requests.
  std::string_view client_address() const;
  /// The loop this request lives on (for fastjson::sleep, post).
  fastjson::loop& loop() const noexcept { return *loop_; }
  /// A per-request identifier set by mw::request_id ("" without it).
  std::string_view id() const noexcept { return {id_.data(), id_len_}; }
  void set_id(std::string_view id) noexcept;

  // Framework internals -------------------------------------------------
  detail::request_slot& slot() const noexcept { return *slot_; }

 private:
  friend struct detail::request_slot;
  friend class session_access;
  void check_json_content_type() const;
  [[noreturn]] void throw_json_error(json::error_kind kind, const std::vector<json::field_error>& errs) const;

  fastjson::method method_ = fastjson::method::get;
  int http_minor_ = 1;
  std::string_view method_name_, target_, path_, query_, body_;
  fastjson::header* headers_ = nullptr;
  std::size_t header_count_ = 0;
  static constexpr std::size_t max_params = 16;
  std::array<std::pair<std::string_view, std::string_view>, max_params> params_{};
  std::size_t param_count_ = 0;
  std::array<char, 64> id_{};
  std::size_t id_len_ = 0;
  fastjson::loop* loop_ = nullptr;
  detail::request_slot* slot_ = nullptr;
};

}  // namespace fastjson
