#pragma once
/// \file reader.h
/// Typed JSON parsing into reflected structs with simdjson On-Demand: no DOM,
/// in place on the (padded) request buffer, with validation errors that carry
/// JSON Pointer paths (RFC 6901).
///
/// \code
/// auto r = fastjson::json::read<todo>(req.body_padded());   // padded_string_view
/// if (!r.ok()) {
///   // r.kind(): syntax / too_deep -> 400, too_large -> 413, shape -> 422
///   // r.errors: [{pointer: "/title", message: "missing required field"}, ...]
///   return res.problem(fastjson::json::http_status(r.kind()), ..., r.errors);
/// }
/// todo& t = r.value();
/// \endcode
///
/// What is checked:
/// - Syntax (RFC 8259) of the whole input, including values of unknown fields,
///   which are walked and validated rather than trusted. Syntax errors stop
///   the parse and give one error with an empty pointer (or the pointer of
///   where the error was met).
/// - Depth: more than `read_options::max_depth` (default 64) nested arrays or
///   objects is `too_deep`; the walk never recurses deeper, so hostile input
///   cannot overflow the stack.
/// - Size: input longer than `read_options::max_size` is `too_large`.
/// - Shape (all reported, up to 64 errors, parsing continues): wrong JSON type
///   ("expected string"), integers that do not fit the C++ type ("integer out
///   of range"), missing required fields ("missing required field"), unknown
///   fields of a FASTJSON_STRICT type or with `read_options::strict`
///   ("unknown field"), unknown enum names, malformed RFC 3339 date-times, wrong
///   std::array length, and FASTJSON_CONSTRAINTS rules.
///
/// Field order does not matter; a repeated key overwrites the earlier value.
/// `null` is accepted only for std::optional (-> empty). std::string_view
/// members are serialize-only (they could not own their text).
///
/// Lifetime: the result owns its value; nothing refers to the input after
/// read() returns. Not reentrant on one thread (a thread_local parser is
/// reused so steady-state parsing does not allocate parser memory).

#include <array>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "fastjson/json/reflect.h"

namespace fastjson::json {

/// Why a read failed.
enum class error_kind : unsigned char {
  none,       ///< success
  syntax,     ///< malformed JSON -> HTTP 400
  too_deep,   ///< nesting deeper than read_options::max_depth -> HTTP 400
  too_large,  ///< input longer than read_options::max_size -> HTTP 413
  shape,      ///< well-formed JSON of the wrong shape -> HTTP 422
};

/// The HTTP status that answers an error kind (200 for none).
constexpr int http_status(error_kind k) noexcept {
  switch (k) {
    case error_kind::none: return 200;
    case error_kind::syntax:
    case error_kind::too_deep: return 400;
    case error_kind::too_large: return 413;
    case error_kind::shape: return 422;
  }
  return 400;
}

/// One problem in the input: where (JSON Pointer, "" for the root) and what.
struct field_error {
  std::string pointer;
  std::string message;
  friend bool operator==(const field_error&, const field_error&) = default;
};

struct read_options {
  /// Maximum nesting of arrays/objects; deeper input is error_kind::too_deep.
  std::size_t max_depth = 64;
  /// Maximum input length in bytes; longer input is error_kind::too_large.
  std::size_t max_size = 64u << 20;
  /// Treat every struct as FASTJSON_STRICT (unknown keys are errors).
  bool strict = false;
};

/// The outcome of read<T>(): the value, or the kind of failure and its errors.
template <class T>
class [[nodiscard]] result {
 public:
  /// Empty on success; on failure at least one entry.
  std::vector<field_error> errors;

  bool ok() const noexcept { return kind_ == error_kind::none; }
  explicit operator bool() const noexcept { return ok(); }
  error_kind kind() const noexcept { return kind_; }
  int http_status() const noexcept { return json::http_status(kind_); }
  /// The parsed value (meaningful only if ok()).
  T& value() & noexcept { return value_; }
  const T& value() const& noexcept { return value_; }
  T&& value() && noexcept { return std::move(value_); }

  // Used by the reader.
  T value_{};
  error_kind kind_ = error_kind::none;
};

namespace detail {

namespace od = simdjson::ondemand;

/// One step of the current JSON Pointer, kept unformatted until an error
/// needs it (so the happy path never formats indices).
struct path_segment {
  std::string_view name;  // key (valid during the parse), unless is_index
  std::size_t index;
  bool is_index;
};

struct read_ctx {
  std::vector<field_error>& errors;
  std::vector<path_segment>& path;
  std::size_t max_depth;
  bool strict_all;
  std::size_t depth = 0;
  error_kind fatal = error_kind::none;

  std::string pointer() const;
  /// Records a shape error at the current path (+ optional extra key).
  void shape(std::string_view message, std::string_view extra_key = {});
  /// Records a fatal error from simdjson; always returns false.
  bool syntax(simdjson::error_code e);
  bool too_deep();
  bool enter() { return ++depth <= max_depth || too_deep(); }
  void leave() { --depth; }
};

struct path_push {
  read_ctx& c;
  path_push(read_ctx& ctx, std::string_view key) : c(ctx) { c.path.push_back({key, 0, false}); }
  path_push(read_ctx& ctx, std::size_t i) : c(ctx) { c.path.push_back({{}, i, true}); }
  ~path_push() { c.path.pop_back(); }
};

od::parser& thread_parser();
simdjson::padded_string_view pad(std::string_view in);
/// Walks and validates one value of any type (used for skipped values).
bool walk(read_ctx& c, od::value& v);
bool walk_document(read_ctx& c, od::document& doc);
/// Called after a typed getter failed with `e`: records "expected <what>"
/// (or "<what> out of range") for a wrong-typed value and validates it, or
/// records a syntax error. Returns false if the parse must stop.
bool type_mismatch(read_ctx& c, od::value& v, simdjson::error_code e, std::string_view what);
bool type_mismatch(read_ctx& c, od::document& v, simdjson::error_code e, std::string_view what);
bool parse_rfc3339(std::string_view s, std::chrono::system_clock::time_point& out);
void check_rule(read_ctx& c, std::string_view field, const reflect::constraints::rule& r, std::int64_t ilen,
                double dval, bool is_length);

template <class T> struct is_opt : std::false_type {};
template <class T> struct is_opt<std::optional<T>> : std::true_type {};
template <class T> struct is_std_array : std::false_type {};
template <class T, std::size_t N> struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
concept read_map_like = requires(T& m, std::string k) {
  typename T::key_type;
  typename T::mapped_type;
  m[std::move(k)];
  m.clear();
} && std::is_constructible_v<typename T::key_type, std::string_view>;

template <class T>
concept read_seq_like = requires(T& c) {
  c.emplace_back();
  c.clear();
} && !std::is_same_v<T, std::string>;

template <class T, class V>
bool read_value(read_ctx& c, V& v, T& out);
template <class T, class FR, class Seen>
void check_field_rules(read_ctx& c, const T& obj, const FR& fr, const Seen& seen);

template <class T, class V>
bool read_object(read_ctx& c, V& v, T& out) {
  od::object obj;
  if (auto e = v.get_object().get(obj)) return type_mismatch(c, v, e, "object");
  if (!c.enter()) return false;
  constexpr std::size_t N = reflect::field_count_v<T>;
  static constexpr auto names = std::apply(
      [](const auto&... fd) { return std::array<std::string_view, N>{fd.name()...}; }, reflect::fields_v<T>);
  std::bitset<N> seen;     // present and parsed without errors
  std::bitset<N> present;  // present in the input
  std::size_t hint = 0;
  for (auto fres : obj) {
    od::field f;
    if (auto e = std::move(fres).get(f)) return c.syntax(e);
    // Inputs usually follow declaration order: start looking after the last
    // hit, comparing the raw key bytes (our names never need escaping).
    std::size_t idx = N;
    simdjson::ondemand::raw_json_string raw = f.key();
    for (std::size_t k = 0; k < N; ++k) {
      std::size_t j = hint + k < N ? hint + k : hint + k - N;
      if (raw.unsafe_is_equal(names[j])) {
        idx = j;
        break;
      }
    }
    std::string_view key;
    if (idx == N) {
      // Not found verbatim: unescape (which also validates the key) and retry.
      if (auto e = f.unescaped_key().get(key)) return c.syntax(e);
      for (std::size_t j = 0; j < N; ++j)
        if (names[j] == key) {
          idx = j;
          break;
        }
    }
    od::value fv = f.value();
    if (idx == N) {
      if (c.strict_all || reflect::is_strict_v<T>) c.shape("unknown field", key);
      if (!walk(c, fv)) return false;
      continue;
    }
    hint = idx + 1 == N ? 0 : idx + 1;
    seen.set(idx);
    present.set(idx);
    bool ok = true;
    std::size_t errors_before = c.errors.size();
    path_push pp(c, names[idx]);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((idx == I ? (ok = read_value(c, fv, out.*(std::get<I>(reflect::fields_v<T>).ptr)), true) : false) || ...);
    }(std::make_index_sequence<N>{});
    if (!ok) return false;
    // A field that failed to parse is not checked against its constraints.
    if (c.errors.size() != errors_before) seen.reset(idx);
  }
  // Required fields: everything that is not std::optional nor not_required.
  std::apply(
      [&](const auto&... fd) {
        std::size_t i = 0;
        (
            [&] {
              using M = typename std::remove_cvref_t<decltype(fd)>::member_type;
              if (!seen.test(i) && !present.test(i) && !is_opt<M>::value && !fd.has(reflect::options::not_required))
                c.shape("missing required field", fd.name());
              ++i;
            }(),
            ...);
      },
      reflect::fields_v<T>);
  if constexpr (reflect::detail::has_constraints<T>) {
    constexpr auto rules = fastjson_reflect_constraints(static_cast<T*>(nullptr));
    std::apply([&](const auto&... fr) { (check_field_rules(c, out, fr, seen), ...); }, rules);
  }
  c.leave();
  return true;
}

template <class T, class FR, class Seen>
void check_field_rules(read_ctx& c, const T& obj, const FR& fr, const Seen& seen) {
  // Rules apply to fields present in the input (a missing one is reported
  // as missing, or keeps its default).
  std::string_view name;
  bool present = false;
  std::apply(
      [&](const auto&... fd) {
        std::size_t i = 0;
        (
            [&] {
              if constexpr (std::is_same_v<decltype(fd.ptr), decltype(fr.ptr)>)
                if (fd.ptr == fr.ptr) {
                  name = fd.name();
                  present = seen.test(i);
                }
              ++i;
            }(),
            ...);
      },
      reflect::fields_v<T>);
  if (!present) return;
  auto check = [&](const auto& m) {
    using M = std::remove_cvref_t<decltype(m)>;
    for (const auto& r : fr.rules) {
      if constexpr (std::is_same_v<M, std::string>) {
        std::int64_t cps = 0;  // length in Unicode code points
        for (unsigned char ch : m) cps += (ch & 0xC0) != 0x80;
        check_rule(c, name, r, cps, 0, true);
      } else if constexpr (std::is_arithmetic_v<M> && !std::is_same_v<M, bool>) {
        if constexpr (std::is_integral_v<M>)
          check_rule(c, name, r, static_cast<std::int64_t>(m), static_cast<double>(m), false);
        else
          check_rule(c, name, r, 0, static_cast<double>(m), false);
      } else if constexpr (requires { m.size(); }) {
        check_rule(c, name, r, static_cast<std::int64_t>(m.size()), 0, true);
      }
    }
  };
  const auto& m = obj.*(fr.ptr);
  if constexpr (is_opt<std::remove_cvref_t<decltype(m)>>::value) {
    if (m) check(*m);
  } else {
    check(m);
  }
}

template <class Int, class V>
bool read_int(read_ctx& c, V& v, Int& out) {
  if constexpr (std::is_signed_v<Int>) {
    std::int64_t x;
    if (auto e = v.get_int64().get(x)) return type_mismatch(c, v, e, "integer");
    if (x < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||
        x > static_cast<std::int64_t>(std::numeric_limits<Int>::max())) {
      c.shape("integer out of range");
      return true;
    }
    out = static_cast<Int>(x);
  } else {
    std::uint64_t x;
    if (auto e = v.get_uint64().get(x)) return type_mismatch(c, v, e, "unsigned integer");
    if (x > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
      c.shape("integer out of range");
      return true;
    }
    out = static_cast<Int>(x);
  }
  return true;
}

template <class T, class V>
bool read_value(read_ctx& c, V& v, T& out) {
  if constexpr (is_opt<T>::value) {
    bool null = false;
    if (auto e = v.is_null().get(null)) return c.syntax(e);
    if (null) {
      out.reset();
      return true;
    }
    if (!out) out.emplace();
    return read_value(c, v, *out);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (auto e = v.get_bool().get(out)) return type_mismatch(c, v, e, "boolean");
    return true;
  } else if constexpr (std::is_same_v<T, char>) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return type_mismatch(c, v, e, "string");
    if (s.size() != 1) c.shape("expected a one-character string");
    else out = s[0];
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    return read_int(c, v, out);
  } else if constexpr (std::is_floating_point_v<T>) {
    double d;
    if (auto e = v.get_double().get(d)) return type_mismatch(c, v, e, "number");
    if constexpr (std::is_same_v<T, float>) {
      if (d > std::numeric_limits<float>::max() || d < -std::numeric_limits<float>::max()) {
        c.shape("number out of range");
        return true;
      }
    }
    out = static_cast<T>(d);
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return type_mismatch(c, v, e, "string");
    out.assign(s.data(), s.size());
    return true;
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    static_assert(sizeof(T) == 0, "fastjson::json::read: std::string_view members are serialize-only; use std::string");
  } else if constexpr (reflect::is_reflected_enum_v<T>) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return type_mismatch(c, v, e, "string");
    if (!reflect::enum_from_name(s, out)) c.shape("unknown enum value");
    return true;
  } else if constexpr (std::is_enum_v<T>) {
    std::underlying_type_t<T> u{};
    if (!read_int(c, v, u)) return false;
    out = static_cast<T>(u);
    return true;
  } else if constexpr (std::is_same_v<T, std::chrono::system_clock::time_point>) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return type_mismatch(c, v, e, "date-time string");
    if (!parse_rfc3339(s, out)) c.shape("expected RFC 3339 date-time");
    return true;
  } else if constexpr (reflect::is_reflected_v<T>) {
    return read_object(c, v, out);
  } else if constexpr (is_std_array<T>::value) {
    od::array arr;
    if (auto e = v.get_array().get(arr)) return type_mismatch(c, v, e, "array");
    if (!c.enter()) return false;
    std::size_t i = 0;
    for (auto eres : arr) {
      od::value ev;
      if (auto e = eres.get(ev)) return c.syntax(e);
      path_push pp(c, i);
      if (i < out.size()) {
        if (!read_value(c, ev, out[i])) return false;
      } else if (!walk(c, ev)) {
        return false;
      }
      ++i;
    }
    if (i != out.size()) c.shape("expected an array of " + std::to_string(out.size()) + " elements");
    c.leave();
    return true;
  } else if constexpr (read_map_like<T>) {
    od::object obj;
    if (auto e = v.get_object().get(obj)) return type_mismatch(c, v, e, "object");
    if (!c.enter()) return false;
    out.clear();
    for (auto fres : obj) {
      od::field f;
      if (auto e = std::move(fres).get(f)) return c.syntax(e);
      std::string_view key;
      if (auto e = f.unescaped_key().get(key)) return c.syntax(e);
      // The key view lives in the parser's string buffer until the parse ends.
      path_push pp(c, key);
      od::value fv = f.value();
      if (!read_value(c, fv, out[typename T::key_type(key)])) return false;
    }
    c.leave();
    return true;
  } else if constexpr (read_seq_like<T>) {
    od::array arr;
    if (auto e = v.get_array().get(arr)) return type_mismatch(c, v, e, "array");
    if (!c.enter()) return false;
    out.clear();
    std::size_t i = 0;
    for (auto eres : arr) {
      od::value ev;
      if (auto e = eres.get(ev)) return c.syntax(e);
      path_push pp(c, i++);
      if (!read_value(c, ev, out.emplace_back())) return false;
    }
    c.leave();
    return true;
  } else {
    static_assert(sizeof(T) == 0, "fastjson::json::read: unsupported type (declare it with FASTJSON_REFLECT?)");
  }
}

/// Shared driver: iterates the document, reads the root, checks the end.
/// `read_root` is called with an od::value& for the root.
struct read_session {
  std::vector<field_error>& errors;
  const read_options& opt;
  std::vector<path_segment>& path;
  static std::vector<path_segment>& thread_path();
  /// Iterates `in`; returns the error kind of a failure before reading.
  error_kind begin(simdjson::padded_string_view in, od::document& doc, read_ctx& c);
  /// Checks nothing follows the root value.
  error_kind finish(od::document& doc, read_ctx& c);
};

}  // namespace detail

/// Parses `in` (which must carry SIMDJSON_PADDING readable bytes after its
/// end, like the request body buffer) into a T.
template <class T>
result<T> read(simdjson::padded_string_view in, const read_options& opt = {}) {
  result<T> r;
  auto& path = detail::read_session::thread_path();
  path.clear();
  detail::read_session s{r.errors, opt, path};
  detail::read_ctx c{r.errors, path, opt.max_depth, opt.strict};
  detail::od::document doc;
  if (error_kind k = s.begin(in, doc, c); k != error_kind::none) {
    r.kind_ = k;
    return r;
  }
  bool ok = detail::read_value(c, doc, r.value_);
  if (ok) {
    if (error_kind k = s.finish(doc, c); k != error_kind::none) ok = false;
  }
  if (!ok) r.kind_ = c.fatal;
  else if (!r.errors.empty()) r.kind_ = error_kind::shape;
  return r;
}

/// Copies `in` into a reused thread-local padded buffer, then parses it.
template <class T>
result<T> read(std::string_view in, const read_options& opt = {}) {
  return read<T>(detail::pad(in), opt);
}
template <class T>
result<T> read(const simdjson::padded_string& in, const read_options& opt = {}) {
  return read<T>(simdjson::padded_string_view(in), opt);
}
template <class T>
result<T> read(const std::string& in, const read_options& opt = {}) {
  return read<T>(std::string_view(in), opt);
}
template <class T>
result<T> read(const char* in, const read_options& opt = {}) {
  return read<T>(std::string_view(in), opt);
}

/// Fully walks and validates any JSON document (RFC 8259) with On-Demand,
/// within the depth and size limits. Returns error_kind::none if valid.
error_kind validate(simdjson::padded_string_view in, const read_options& opt = {});
error_kind validate(std::string_view in, const read_options& opt = {});

}  // namespace fastjson::json
