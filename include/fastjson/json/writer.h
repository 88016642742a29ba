#pragma once
/// \file writer.h
/// A streaming JSON writer that appends straight into a fastjson::buffer (the
/// connection's output buffer or any user buffer): no intermediate string, no DOM.
///
/// \code
/// fastjson::buffer buf;
/// fastjson::json::write(buf, todo{1, "buy milk"});     // any supported type
///
/// fastjson::json::writer w(buf);                         // or stream by hand
/// w.begin_object();
/// w.key("items"); w.begin_array(); w.value(1); w.value("two"); w.end_array();
/// w.key("ok");    w.value(true);
/// w.end_object();                                        // {"items":[1,"two"],"ok":true}
/// \endcode
///
/// Output rules (RFC 8259):
/// - Strings are escaped: `"` and `\` with a backslash; \b \f \n \r \t short
///   escapes; other bytes below 0x20 as \u00XX. Valid UTF-8 is copied as is;
///   every byte that is not part of a valid UTF-8 sequence (including
///   overlongs, surrogates, code points above U+10FFFF) is replaced by U+FFFD,
///   so the writer never emits invalid UTF-8.
/// - Integers of every width are exact. Floating-point values are written as the
///   shortest text that round-trips (std::to_chars); NaN and ±Inf, which JSON
///   cannot represent, are written as `null`.
/// - std::optional: an empty optional is `null` inside arrays and maps; as a
///   field of a reflected struct it is omitted, unless the field is marked
///   `emit_null` (see reflect.h).
/// - Enums declared with FASTJSON_ENUM are strings (undeclared values: `null`);
///   other enums are their underlying integer.
/// - std::chrono::system_clock::time_point is RFC 3339 UTC text, e.g.
///   "2024-05-01T12:30:00Z", with a fraction of 3, 6 or 9 digits when the value
///   is not a whole second.
/// - Map keys (std::map / std::unordered_map with string keys) are escaped.
///
/// Supported types: bool, all integer types, float/double/long double,
/// std::string, std::string_view, const char*, char (a 1-char string),
/// std::nullptr_t / std::nullopt_t, std::optional, ranges (std::vector,
/// std::array, std::list, std::set, ...), maps with string keys, enums, time
/// points, reflected structs, and fastjson::json::raw_json (pre-serialized text).
///
/// Lifetime: a `writer` holds a reference to its buffer; it must not outlive it.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "fastjson/buffer.h"
#include "fastjson/json/reflect.h"

namespace fastjson::json {

/// Appends `s` as a JSON string, quotes included, escaping as described above
/// and replacing invalid UTF-8 with U+FFFD. Runs of safe bytes are copied 16
/// bytes at a time (SSE2, or 8 bytes SWAR elsewhere).
void write_escaped(buffer& out, std::string_view s);

/// Already-serialized JSON, copied verbatim (the caller guarantees validity).
struct raw_json {
  std::string_view text;
};

namespace detail {

void write_double(buffer& out, double v);
void write_float(buffer& out, float v);
void write_time(buffer& out, std::chrono::system_clock::time_point tp);
char* write_u64(char* p, std::uint64_t v) noexcept;

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> inline constexpr bool is_optional_v = is_optional<T>::value;

template <class T>
concept string_like = std::is_convertible_v<const T&, std::string_view> && !std::is_same_v<T, std::nullptr_t>;

template <class T>
concept map_like = requires {
  typename T::key_type;
  typename T::mapped_type;
} && std::is_convertible_v<const typename T::key_type&, std::string_view> && std::ranges::range<T>;

template <class T>
concept range_like = std::ranges::range<const T> && !string_like<T> && !map_like<T>;

template <class Int>
inline void write_int(buffer& out, Int v) {
  char* p = out.prepare(24);
  char* s = p;
  std::uint64_t u;
  if constexpr (std::is_signed_v<Int>) {
    if (v < 0) {
      *p++ = '-';
      u = 0 - static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
    } else {
      u = static_cast<std::uint64_t>(v);
    }
  } else {
    u = static_cast<std::uint64_t>(v);
  }
  p = write_u64(p, u);
  out.commit(static_cast<std::size_t>(p - s));
}

template <class T>
void write_value(buffer& out, const T& v);

template <class T>
inline void write_object(buffer& out, const T& obj) {
  out.push_back('{');
  bool first = true;
  std::apply(
      [&](const auto&... fd) {
        (
            [&] {
              const auto& m = obj.*(fd.ptr);
              using M = std::remove_cvref_t<decltype(m)>;
              if constexpr (is_optional_v<M>) {
                if (!m.has_value() && !fd.has(reflect::options::emit_null)) return;
              }
              if (first) {
                out.append(fd.key.substr(1));
                first = false;
              } else {
                out.append(fd.key);
              }
              write_value(out, m);
            }(),
            ...);
      },
      reflect::fields_v<T>);
  out.push_back('}');
}

template <class T>
inline void write_value(buffer& out, const T& v) {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    if (v) out.append("true", 4);
    else out.append("false", 5);
  } else if constexpr (std::is_same_v<U, char>) {
    write_escaped(out, std::string_view(&v, 1));
  } else if constexpr (std::is_integral_v<U>) {
    write_int(out, v);
  } else if constexpr (std::is_same_v<U, float>) {
    write_float(out, v);
  } else if constexpr (std::is_floating_point_v<U>) {
    write_double(out, static_cast<double>(v));
  } else if constexpr (std::is_same_v<U, std::nullptr_t> || std::is_same_v<U, std::nullopt_t>) {
    out.append("null", 4);
  } else if constexpr (std::is_same_v<U, raw_json>) {
    out.append(v.text);
  } else if constexpr (reflect::is_reflected_enum_v<U>) {
    std::string_view n = reflect::enum_name(v);
    if (n.empty()) {
      out.append("null", 4);
    } else {
      // Enumerator names are identifiers or literals chosen by the programmer;
      // escape anyway so that a renamed value can never break the output.
      write_escaped(out, n);
    }
  } else if constexpr (std::is_enum_v<U>) {
    write_int(out, static_cast<std::underlying_type_t<U>>(v));
  } else if constexpr (std::is_same_v<U, std::chrono::system_clock::time_point>) {
    write_time(out, v);
  } else if constexpr (is_optional_v<U>) {
    if (v.has_value()) write_value(out, *v);
    else out.append("null", 4);
  } else if constexpr (reflect::is_reflected_v<U>) {
    write_object(out, v);
  } else if constexpr (string_like<U>) {
    write_escaped(out, std::string_view(v));
  } else if constexpr (map_like<U>) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, val] : v) {
      if (!first) out.push_back(',');
      first = false;
      write_escaped(out, std::string_view(k));
      out.push_back(':');
      write_value(out, val);
    }
    out.push_back('}');
  } else if constexpr (range_like<U>) {
    out.push_back('[');
    bool first = true;
    for (const auto& e : v) {
      if (!first) out.push_back(',');
      first = false;
      write_value(out, e);
    }
    out.push_back(']');
  } else {
    static_assert(sizeof(U) == 0,
                  "fastjson::json: type is not serializable (declare it with FASTJSON_REFLECT or FASTJSON_ENUM)");
  }
}

}  // namespace detail

/// True if `T` can be given to write() / writer::value().
template <class T>
concept writable = requires(buffer& b, const T& v) { detail::write_value(b, v); };

/// Appends the JSON text of `value` to `out`.
template <class T>
inline void write(buffer& out, const T& value) {
  detail::write_value(out, value);
}

/// The JSON text of `value` as a std::string (convenience; allocates).
template <class T>
inline std::string to_string(const T& value) {
  buffer b;
  detail::write_value(b, value);
  return b.str();
}

/// Streaming writer. Commas between members and elements are inserted
/// automatically; the caller is responsible for balancing begin/end and for
/// calling key() before each value inside an object.
class writer {
 public:
  explicit writer(buffer& out) noexcept : out_(out) {}

  void begin_object() {
    before_value();
    out_.push_back('{');
    comma_ = false;
  }
  void end_object() {
    out_.push_back('}');
    comma_ = true;
  }
  void begin_array() {
    before_value();
    out_.push_back('[');
    comma_ = false;
  }
  void end_array() {
    out_.push_back(']');
    comma_ = true;
  }
  /// Writes an (escaped) object key and the colon.
  void key(std::string_view k) {
    before_value();
    write_escaped(out_, k);
    out_.push_back(':');
    comma_ = false;
  }
  /// Writes any supported value (see the file comment).
  template <class T>
  void value(const T& v) {
    before_value();
    detail::write_value(out_, v);
    comma_ = true;
  }
  void value(const char* s) { value(std::string_view(s)); }
  void null() { value(nullptr); }
  /// Writes a key and a value; an empty std::optional is skipped entirely.
  template <class T>
  void member(std::string_view k, const T& v) {
    if constexpr (detail::is_optional_v<T>) {
      if (!v) return;
    }
    key(k);
    value(v);
  }
  /// Appends pre-serialized JSON as one value.
  void raw(std::string_view json) { value(raw_json{json}); }

  buffer& out() noexcept { return out_; }

 private:
  void before_value() {
    if (comma_) out_.push_back(',');
  }
  buffer& out_;
  bool comma_ = false;
};

}  // namespace fastjson::json
