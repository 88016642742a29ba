#pragma once
/// \file reader.h
/// Typed JSON parsing into reflected structs, with validation errors that carry
/// JSON Pointer paths (RFC 6901).
///
/// The text is first parsed and fully validated by simdjson's DOM parser
/// (libsimdjson, which picks the best CPU kernel at run time: AVX-512, AVX2,
/// SSE4.2 or portable), straight from the (padded) request buffer into a tape
/// the thread reuses; the typed walk then reads that tape into T. Nothing in
/// this header depends on the compiler flags of the including code.
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
/// - Syntax (RFC 8259) and UTF-8 of the whole input, including values of
///   unknown fields, before any of it is read into T. A syntax error gives
///   one error with an empty pointer.
/// - Depth: more than `read_options::max_depth` (default 64, capped at 1024)
///   nested arrays or objects is `too_deep`; the parser is iterative and the
///   typed walk only follows accepted nesting, so hostile input cannot
///   overflow the stack.
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
/// reused so steady-state parsing does not allocate parser memory; it keeps
/// the capacity of the largest document the thread has read).

#include <array>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <cstring>
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

#if defined(__GNUC__)
#define FASTJSON_JSON_COLD [[gnu::cold, gnu::noinline]]
#else
#define FASTJSON_JSON_COLD
#endif

/// One step of the current JSON Pointer, kept unformatted until an error
/// needs it (so the happy path never formats indices). The steps live on the
/// walk's stack frames, each pointing to its parent.
struct path_segment {
  const path_segment* parent;
  std::string_view name;  // key (valid during the parse), unless is_index
  std::size_t index;
  bool is_index;
};

/// A parsed document: simdjson's DOM tape, read directly (the layout is
/// simdjson's documented tape format, doc/tape.md, unchanged since 0.3).
/// Each value is one 64-bit word (type in the top byte, payload below), two
/// for numbers (the value in the next word). `[`/`{` carry the index just
/// past their closing word and the element count; strings an offset into
/// `strings`, where a 32-bit length precedes the bytes. Index 1 is the root.
struct tape_view {
  const std::uint64_t* words;
  const std::uint8_t* strings;

  char type(std::size_t i) const noexcept { return static_cast<char>(words[i] >> 56); }
  /// For `[` and `{`: the index just past the matching `]` / `}`.
  std::size_t end_of(std::size_t i) const noexcept { return static_cast<std::uint32_t>(words[i]); }
  /// For `[` and `{`: the number of elements (saturates at 0xFFFFFF).
  std::size_t count(std::size_t i) const noexcept { return (words[i] >> 32) & 0xFFFFFF; }
  /// The index of the value after the one at i.
  std::size_t after(std::size_t i) const noexcept {
    const char ty = type(i);
    if (ty == '[' || ty == '{') return end_of(i);
    return i + 1 + static_cast<std::size_t>((ty == 'l') | (ty == 'u') | (ty == 'd'));
  }
  std::string_view str(std::size_t i) const noexcept {
    const std::uint8_t* p = strings + (words[i] & 0x00FFFFFFFFFFFFFFull);
    std::uint32_t n;
    std::memcpy(&n, p, sizeof n);
    return {reinterpret_cast<const char*>(p + sizeof n), n};
  }
  template <class N>
  N number(std::size_t i) const noexcept {
    N x;
    std::memcpy(&x, &words[i + 1], sizeof x);
    return x;
  }
};

/// State of one typed walk. Syntax, depth and size were checked when the
/// document was parsed, so the walk itself can only find shape errors.
struct read_ctx {
  std::vector<field_error>& errors;
  tape_view tape;
  bool strict_all;
  const path_segment* top = nullptr;  // innermost step of the current path

  std::string pointer() const;
  /// Records a shape error at the current path (+ optional extra key).
  FASTJSON_JSON_COLD void shape(std::string_view message, std::string_view extra_key = {});
};

struct path_push {
  read_ctx& c;
  path_segment seg;
  path_push(read_ctx& ctx, std::string_view key) : c(ctx), seg{ctx.top, key, 0, false} { c.top = &seg; }
  path_push(read_ctx& ctx, std::size_t i) : c(ctx), seg{ctx.top, {}, i, true} { c.top = &seg; }
  path_push(const path_push&) = delete;
  path_push& operator=(const path_push&) = delete;
  ~path_push() { c.top = seg.parent; }
};

simdjson::padded_string_view pad(std::string_view in);
/// Parses and fully validates `in` (syntax, UTF-8, depth, size) with the
/// thread's DOM parser for `opt.max_depth`. On failure records the error and
/// returns its kind; on success `tape` shows the parsed document, valid until
/// the next parse on this thread.
error_kind parse_document(simdjson::padded_string_view in, const read_options& opt, tape_view& tape,
                          std::vector<field_error>& errors);
/// Called when the value at tape index `v` has the wrong JSON type for its
/// C++ type: records "expected <what>", or "integer out of range" for an
/// integer that does not fit.
FASTJSON_JSON_COLD void type_mismatch(read_ctx& c, std::size_t v, std::string_view what);
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

template <class T>
void read_value(read_ctx& c, std::size_t v, T& out);
template <class T, class FR, class Seen>
void check_field_rules(read_ctx& c, const T& obj, const FR& fr, const Seen& seen);

/// The JSON names of T's fields, in declaration order.
template <class T>
inline constexpr auto field_names_v = std::apply(
    [](const auto&... fd) { return std::array<std::string_view, sizeof...(fd)>{fd.name()...}; }, reflect::fields_v<T>);

/// True if `key` is the name of T's field I (a compare of known length,
/// which the compiler expands inline).
template <class T, std::size_t I>
inline bool key_is(std::string_view key) noexcept {
  constexpr std::string_view name = field_names_v<T>[I];
  return key.size() == name.size() && std::memcmp(key.data(), name.data(), name.size()) == 0;
}

/// Index of the field of T named `key` (field_count_v<T> if none). Inputs
/// usually follow declaration order, so field `hint` (the one after the
/// previous hit) is tried first.
template <class T>
inline std::size_t find_field(std::string_view key, std::size_t hint) noexcept {
  constexpr std::size_t N = reflect::field_count_v<T>;
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    std::size_t idx = N;
    if (((hint == I && key_is<T, I>(key)) || ...)) return hint;
    ((key_is<T, I>(key) ? (idx = I, true) : false) || ...);
    return idx;
  }(std::make_index_sequence<N>{});
}

template <class T>
void read_object(read_ctx& c, std::size_t v, T& out) {
  const tape_view t = c.tape;
  if (t.type(v) != '{') [[unlikely]]
    return type_mismatch(c, v, "object");
  constexpr std::size_t N = reflect::field_count_v<T>;
  constexpr const auto& names = field_names_v<T>;
  std::bitset<N> seen;     // present and parsed without errors
  std::bitset<N> present;  // present in the input
  std::size_t hint = 0;
  const std::size_t end = t.end_of(v) - 1;  // the closing '}'
  {
    path_push pp(c, std::string_view{});  // one step for the object, renamed per field
    for (std::size_t k = v + 1; k < end;) {
      std::string_view key = t.str(k);
      const std::size_t fv = k + 1;
      k = t.after(fv);
      std::size_t idx = find_field<T>(key, hint);
      if (idx == N) [[unlikely]] {
        // Unknown: its value was validated by the parse; nothing to read.
        if (c.strict_all || reflect::is_strict_v<T>) {
          pp.seg.name = key;
          c.shape("unknown field");
        }
        continue;
      }
      hint = idx + 1 == N ? 0 : idx + 1;
      seen.set(idx);
      present.set(idx);
      std::size_t errors_before = c.errors.size();
      pp.seg.name = names[idx];
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((idx == I ? (read_value(c, fv, out.*(std::get<I>(reflect::fields_v<T>).ptr)), true) : false) || ...);
      }(std::make_index_sequence<N>{});
      // A field that failed to parse is not checked against its constraints.
      if (c.errors.size() != errors_before) [[unlikely]]
        seen.reset(idx);
    }
  }
  // Required fields: everything that is not std::optional nor not_required.
  std::apply(
      [&](const auto&... fd) {
        std::size_t i = 0;
        (
            [&] {
              using M = typename std::remove_cvref_t<decltype(fd)>::member_type;
              if (!present.test(i) && !is_opt<M>::value && !fd.has(reflect::options::not_required)) [[unlikely]]
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

template <class Int>
void read_int(read_ctx& c, std::size_t v, Int& out) {
  const tape_view t = c.tape;
  const char ty = t.type(v);
  // The tape holds integers as int64 ('l'), or as uint64 ('u') only above
  // INT64_MAX.
  if constexpr (std::is_signed_v<Int>) {
    if (ty != 'l') [[unlikely]]
      return type_mismatch(c, v, "integer");
    std::int64_t x = t.number<std::int64_t>(v);
    if constexpr (sizeof(Int) < sizeof(std::int64_t)) {
      if (x < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||
          x > static_cast<std::int64_t>(std::numeric_limits<Int>::max())) [[unlikely]]
        return c.shape("integer out of range");
    }
    out = static_cast<Int>(x);
  } else {
    std::uint64_t x;
    if (ty == 'l') [[likely]] {
      std::int64_t y = t.number<std::int64_t>(v);
      if (y < 0) [[unlikely]]
        return c.shape("integer out of range");
      x = static_cast<std::uint64_t>(y);
    } else if (ty == 'u') {
      x = t.number<std::uint64_t>(v);
    } else [[unlikely]] {
      return type_mismatch(c, v, "unsigned integer");
    }
    if constexpr (sizeof(Int) < sizeof(std::uint64_t)) {
      if (x > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) [[unlikely]]
        return c.shape("integer out of range");
    }
    out = static_cast<Int>(x);
  }
}

/// The string at `v`, or false (after recording "expected <what>").
inline bool read_string(read_ctx& c, std::size_t v, std::string_view& s, std::string_view what) {
  if (c.tape.type(v) != '"') [[unlikely]] {
    type_mismatch(c, v, what);
    return false;
  }
  s = c.tape.str(v);
  return true;
}

template <class T>
void read_value(read_ctx& c, std::size_t v, T& out) {
  const tape_view t = c.tape;
  if constexpr (is_opt<T>::value) {
    if (t.type(v) == 'n') {
      out.reset();
      return;
    }
    if (!out) out.emplace();
    read_value(c, v, *out);
  } else if constexpr (std::is_same_v<T, bool>) {
    const char ty = t.type(v);
    if (ty == 't') out = true;
    else if (ty == 'f') out = false;
    else [[unlikely]] type_mismatch(c, v, "boolean");
  } else if constexpr (std::is_same_v<T, char>) {
    std::string_view s;
    if (!read_string(c, v, s, "string")) return;
    if (s.size() != 1) c.shape("expected a one-character string");
    else out = s[0];
  } else if constexpr (std::is_integral_v<T>) {
    read_int(c, v, out);
  } else if constexpr (std::is_floating_point_v<T>) {
    double d;
    switch (t.type(v)) {
      case 'd': d = t.number<double>(v); break;
      case 'l': d = static_cast<double>(t.number<std::int64_t>(v)); break;
      case 'u': d = static_cast<double>(t.number<std::uint64_t>(v)); break;
      default: [[unlikely]] return type_mismatch(c, v, "number");
    }
    if constexpr (std::is_same_v<T, float>) {
      if (d > std::numeric_limits<float>::max() || d < -std::numeric_limits<float>::max())
        return c.shape("number out of range");
    }
    out = static_cast<T>(d);
  } else if constexpr (std::is_same_v<T, std::string>) {
    std::string_view s;
    if (read_string(c, v, s, "string")) out.assign(s.data(), s.size());
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    static_assert(sizeof(T) == 0, "fastjson::json::read: std::string_view members are serialize-only; use std::string");
  } else if constexpr (reflect::is_reflected_enum_v<T>) {
    std::string_view s;
    if (!read_string(c, v, s, "string")) return;
    if (!reflect::enum_from_name(s, out)) c.shape("unknown enum value");
  } else if constexpr (std::is_enum_v<T>) {
    std::underlying_type_t<T> u{};
    std::size_t errors_before = c.errors.size();
    read_int(c, v, u);
    if (c.errors.size() == errors_before) out = static_cast<T>(u);
  } else if constexpr (std::is_same_v<T, std::chrono::system_clock::time_point>) {
    std::string_view s;
    if (!read_string(c, v, s, "date-time string")) return;
    if (!parse_rfc3339(s, out)) c.shape("expected RFC 3339 date-time");
  } else if constexpr (reflect::is_reflected_v<T>) {
    read_object(c, v, out);
  } else if constexpr (is_std_array<T>::value) {
    if (t.type(v) != '[') [[unlikely]]
      return type_mismatch(c, v, "array");
    const std::size_t end = t.end_of(v) - 1;
    std::size_t i = 0;
    {
      path_push pp(c, std::size_t{0});
      for (std::size_t k = v + 1; k < end; k = t.after(k), ++i) {
        pp.seg.index = i;
        if (i < out.size()) read_value(c, k, out[i]);
      }
    }
    if (i != out.size()) c.shape("expected an array of " + std::to_string(out.size()) + " elements");
  } else if constexpr (read_map_like<T>) {
    if (t.type(v) != '{') [[unlikely]]
      return type_mismatch(c, v, "object");
    out.clear();
    if constexpr (requires(std::size_t n) { out.reserve(n); }) out.reserve(t.count(v));
    const std::size_t end = t.end_of(v) - 1;
    for (std::size_t k = v + 1; k < end;) {
      // The key view lives in the parser's string buffer until the next parse.
      std::string_view key = t.str(k);
      const std::size_t fv = k + 1;
      k = t.after(fv);
      path_push pp(c, key);
      if constexpr (requires { typename T::key_compare; out.try_emplace(out.end(), typename T::key_type(key)); }) {
        // Ordered map: keys often arrive sorted, so try the end first (the
        // hint is only a hint: any order is inserted correctly).
        read_value(c, fv, out.try_emplace(out.end(), typename T::key_type(key))->second);
      } else {
        read_value(c, fv, out[typename T::key_type(key)]);
      }
    }
  } else if constexpr (read_seq_like<T>) {
    if (t.type(v) != '[') [[unlikely]]
      return type_mismatch(c, v, "array");
    out.clear();
    if constexpr (requires(std::size_t n) { out.reserve(n); }) out.reserve(t.count(v));
    const std::size_t end = t.end_of(v) - 1;
    path_push pp(c, std::size_t{0});  // one step for the array, its index updated per element
    for (std::size_t k = v + 1; k < end; k = t.after(k), ++pp.seg.index) read_value(c, k, out.emplace_back());
  } else {
    static_assert(sizeof(T) == 0, "fastjson::json::read: unsupported type (declare it with FASTJSON_REFLECT?)");
  }
}

}  // namespace detail

/// Parses `in` (which must carry SIMDJSON_PADDING readable bytes after its
/// end, like the request body buffer) into a T.
template <class T>
result<T> read(simdjson::padded_string_view in, const read_options& opt = {}) {
  result<T> r;
  detail::tape_view tape;
  if (error_kind k = detail::parse_document(in, opt, tape, r.errors); k != error_kind::none) {
    r.kind_ = k;
    return r;
  }
  detail::read_ctx c{r.errors, tape, opt.strict};
  detail::read_value(c, 1, r.value_);  // the root value
  if (!r.errors.empty()) r.kind_ = error_kind::shape;
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

/// Fully validates any JSON document (RFC 8259) with the same parse as read(),
/// within the depth and size limits. Returns error_kind::none if valid.
error_kind validate(simdjson::padded_string_view in, const read_options& opt = {});
error_kind validate(std::string_view in, const read_options& opt = {});

}  // namespace fastjson::json
