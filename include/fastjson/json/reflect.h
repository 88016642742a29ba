#pragma once
/// \file reflect.h
/// Compile-time reflection for plain structs and enums, with no code generator.
///
/// One declaration makes a struct serializable (json/writer.h), parseable with
/// validation (json/reader.h) and visible to any other layer (database row
/// mapping, schema) through `fastjson::reflect::for_each_field`.
///
/// \code
/// namespace app {
/// struct todo {
///   int64_t id;
///   std::string title;
///   bool done = false;
///   std::optional<std::string> due;
///   std::chrono::system_clock::time_point created;
/// };
/// // Plain names use the member name; `(member, "json_name", options...)`
/// // renames a field and/or sets per-field options (see fastjson::reflect::options).
/// FASTJSON_REFLECT(todo, id, title, (done, "done", not_required),
///                  (due, "due", emit_null), (created, "created_at"))
/// FASTJSON_STRICT(todo)   // unknown fields in input -> 422 (default: ignored)
/// FASTJSON_CONSTRAINTS(todo, (title, min_length(1), max_length(200)),
///                            (id, min_value(1)))
///
/// enum class color { red, green, dark_blue };
/// FASTJSON_ENUM(color, red, green, (dark_blue, "dark-blue"))   // as JSON strings
/// }  // namespace app
/// \endcode
///
/// Every macro must appear at namespace scope in the namespace of the type
/// (right after the struct is fine): it defines `constexpr` functions that the
/// library finds by argument-dependent lookup. Nested classes work too
/// (`FASTJSON_REFLECT(outer::inner, ...)` in outer's namespace). Members must
/// be accessible (public). JSON names must not need escaping.
///
/// Field rules:
/// - A non-optional field is *required* when parsing unless marked
///   `not_required` (then a missing key keeps the member's default value).
/// - A `std::optional` field may be missing (or `null`) in input. When it is
///   empty it is *omitted* from output by default, or written as `null` when
///   the field is marked `emit_null`.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace fastjson::reflect {

/// Per-field options, usable by their bare names in the `(member, "name",
/// options...)` form of FASTJSON_REFLECT; combine several with `|`.
namespace options {
inline constexpr unsigned none = 0;
/// An empty std::optional is written as `null` instead of being omitted.
inline constexpr unsigned emit_null = 1u << 0;
/// A missing key is not an error: the member keeps its default value.
inline constexpr unsigned not_required = 1u << 1;
}  // namespace options

/// Declarative constraints for FASTJSON_CONSTRAINTS; checked by json::read and
/// reported as 422 errors with the field's JSON Pointer.
namespace constraints {
enum class rule_kind : unsigned char { min_length, max_length, min_value, max_value, non_empty };
struct rule {
  rule_kind kind;
  bool is_int;          // value compared as int64 (true) or double (false)
  std::int64_t i = 0;
  double d = 0;
};
/// Strings (Unicode code points, as JSON Schema's minLength: "é" is 1) and
/// containers (element count): length >= n.
constexpr rule min_length(std::size_t n) { return {rule_kind::min_length, true, static_cast<std::int64_t>(n), 0}; }
/// Strings (Unicode code points, as JSON Schema's maxLength) and containers
/// (element count): length <= n.
constexpr rule max_length(std::size_t n) { return {rule_kind::max_length, true, static_cast<std::int64_t>(n), 0}; }
/// Numbers: value >= v.
template <class V> requires std::is_arithmetic_v<V>
constexpr rule min_value(V v) {
  if constexpr (std::is_integral_v<V>) return {rule_kind::min_value, true, static_cast<std::int64_t>(v), 0};
  else return {rule_kind::min_value, false, 0, static_cast<double>(v)};
}
/// Numbers: value <= v.
template <class V> requires std::is_arithmetic_v<V>
constexpr rule max_value(V v) {
  if constexpr (std::is_integral_v<V>) return {rule_kind::max_value, true, static_cast<std::int64_t>(v), 0};
  else return {rule_kind::max_value, false, 0, static_cast<double>(v)};
}
/// Strings and containers: not empty.
constexpr rule non_empty() { return {rule_kind::non_empty, true, 0, 0}; }
}  // namespace constraints

namespace detail {

/// One reflected field. `key` is the pre-quoted output text `,"name":` so the
/// writer emits a key with one copy; `name()` is the bare JSON name.
template <class T, class M>
struct field {
  using class_type = T;
  using member_type = M;
  M T::*ptr;
  std::string_view key;
  unsigned flags;
  constexpr std::string_view name() const { return key.substr(2, key.size() - 4); }
  constexpr bool has(unsigned f) const { return (flags & f) != 0; }
};

template <class T, class M, std::size_t N>
constexpr field<T, M> make_field(const char (&key)[N], M T::*p, unsigned flags = 0) {
  return {p, std::string_view(key, N - 1), flags};
}

template <class T, class M, std::size_t N>
struct field_rules {
  using class_type = T;
  using member_type = M;
  M T::*ptr;
  std::array<constraints::rule, N> rules;
};
template <class T, class M, class... R>
constexpr field_rules<T, M, sizeof...(R)> make_rules(M T::*p, R... r) {
  return {p, {r...}};
}

template <class E>
struct enum_entry {
  std::string_view name;
  E value;
};

template <class T>
concept has_fields = requires(T* p) { fastjson_reflect_fields(p); };
template <class T>
concept has_strict = requires(T* p) { fastjson_reflect_strict(p); };
template <class T>
concept has_constraints = requires(T* p) { fastjson_reflect_constraints(p); };
template <class T>
concept has_enum = requires(T* p) { fastjson_reflect_enum(p); };

}  // namespace detail

/// True for types declared with FASTJSON_REFLECT.
template <class T>
inline constexpr bool is_reflected_v = detail::has_fields<std::remove_cv_t<T>>;

/// The field descriptors of a reflected type, as a std::tuple of detail::field.
template <class T>
  requires is_reflected_v<T>
inline constexpr auto fields_v = fastjson_reflect_fields(static_cast<std::remove_cv_t<T>*>(nullptr));

/// Number of reflected fields.
template <class T>
  requires is_reflected_v<T>
inline constexpr std::size_t field_count_v = std::tuple_size_v<std::remove_cv_t<decltype(fields_v<T>)>>;

/// True for types declared strict with FASTJSON_STRICT (unknown keys -> 422).
template <class T>
inline constexpr bool is_strict_v = [] {
  if constexpr (detail::has_strict<T>) return fastjson_reflect_strict(static_cast<T*>(nullptr));
  else return false;
}();

/// True for enums declared with FASTJSON_ENUM.
template <class T>
inline constexpr bool is_reflected_enum_v = detail::has_enum<std::remove_cv_t<T>>;

/// The (name, value) table of a FASTJSON_ENUM type, as a std::array.
template <class E>
  requires is_reflected_enum_v<E>
inline constexpr auto enum_entries_v = fastjson_reflect_enum(static_cast<E*>(nullptr));

/// The name of an enumerator, or an empty view if it was not declared.
template <class E>
  requires is_reflected_enum_v<E>
constexpr std::string_view enum_name(E v) {
  for (const auto& e : enum_entries_v<E>)
    if (e.value == v) return e.name;
  return {};
}

/// Looks an enumerator up by its JSON name; returns false if unknown.
template <class E>
  requires is_reflected_enum_v<E>
constexpr bool enum_from_name(std::string_view name, E& out) {
  for (const auto& e : enum_entries_v<E>)
    if (e.name == name) {
      out = e.value;
      return true;
    }
  return false;
}

/// Calls `f(name, member_pointer)` for each field in declaration order; `name`
/// is the JSON (possibly renamed) name as std::string_view.
template <class T, class F>
  requires is_reflected_v<T>
constexpr void for_each_field(F&& f) {
  std::apply([&](const auto&... fd) { (f(fd.name(), fd.ptr), ...); }, fields_v<T>);
}

/// Calls `f(name, obj.*member)` (a reference to the member) for each field.
template <class T, class F>
  requires is_reflected_v<std::remove_cv_t<T>>
constexpr void for_each_field(T& obj, F&& f) {
  std::apply([&](const auto&... fd) { (f(fd.name(), obj.*(fd.ptr)), ...); }, fields_v<std::remove_cv_t<T>>);
}

/// Calls `f(field_descriptor)` for each field (name(), ptr, flags, has()).
template <class T, class F>
  requires is_reflected_v<T>
constexpr void for_each_descriptor(F&& f) {
  std::apply([&](const auto&... fd) { (f(fd), ...); }, fields_v<T>);
}

}  // namespace fastjson::reflect

// ---------------------------------------------------------------------------
// Preprocessor machinery (internal).

#define FASTJSON_PP_CAT(a, b) FASTJSON_PP_CAT_I(a, b)
#define FASTJSON_PP_CAT_I(a, b) a##b
#define FASTJSON_PP_REM(...) __VA_ARGS__
// 1 if the argument is parenthesised, else 0.
#define FASTJSON_PP_IS_PAREN(x) FASTJSON_PP_IS_PAREN_CHECK(FASTJSON_PP_IS_PAREN_PROBE x)
#define FASTJSON_PP_IS_PAREN_PROBE(...) ~, 1
#define FASTJSON_PP_IS_PAREN_CHECK(...) FASTJSON_PP_IS_PAREN_N(__VA_ARGS__, 0, )
#define FASTJSON_PP_IS_PAREN_N(a, n, ...) n

// FASTJSON_PP_FOR_EACH(m, T, a, b, c) -> m(T, a) m(T, b) m(T, c)
#define FASTJSON_PP_PARENS ()
#define FASTJSON_PP_EXPAND(...) FASTJSON_PP_EXPAND4(FASTJSON_PP_EXPAND4(FASTJSON_PP_EXPAND4(FASTJSON_PP_EXPAND4(__VA_ARGS__))))
#define FASTJSON_PP_EXPAND4(...) FASTJSON_PP_EXPAND3(FASTJSON_PP_EXPAND3(FASTJSON_PP_EXPAND3(FASTJSON_PP_EXPAND3(__VA_ARGS__))))
#define FASTJSON_PP_EXPAND3(...) FASTJSON_PP_EXPAND2(FASTJSON_PP_EXPAND2(FASTJSON_PP_EXPAND2(FASTJSON_PP_EXPAND2(__VA_ARGS__))))
#define FASTJSON_PP_EXPAND2(...) FASTJSON_PP_EXPAND1(FASTJSON_PP_EXPAND1(FASTJSON_PP_EXPAND1(FASTJSON_PP_EXPAND1(__VA_ARGS__))))
#define FASTJSON_PP_EXPAND1(...) __VA_ARGS__
#define FASTJSON_PP_FOR_EACH(m, T, ...) \
  __VA_OPT__(FASTJSON_PP_EXPAND(FASTJSON_PP_FOR_EACH_H(m, T, __VA_ARGS__)))
#define FASTJSON_PP_FOR_EACH_H(m, T, a, ...) \
  m(T, a) __VA_OPT__(FASTJSON_PP_FOR_EACH_AGAIN FASTJSON_PP_PARENS(m, T, __VA_ARGS__))
#define FASTJSON_PP_FOR_EACH_AGAIN() FASTJSON_PP_FOR_EACH_H

#define FASTJSON_PP_FIELD(T, x) FASTJSON_PP_CAT(FASTJSON_PP_FIELD_, FASTJSON_PP_IS_PAREN(x))(T, x)
#define FASTJSON_PP_FIELD_0(T, x) ::fastjson::reflect::detail::make_field(",\"" #x "\":", &T::x),
#define FASTJSON_PP_FIELD_1(T, x) FASTJSON_PP_FIELD_R(T, FASTJSON_PP_REM x)
#define FASTJSON_PP_FIELD_R(...) FASTJSON_PP_FIELD_R_I(__VA_ARGS__)
#define FASTJSON_PP_FIELD_R_I(T, m, name, ...) \
  ::fastjson::reflect::detail::make_field(",\"" name "\":", &T::m __VA_OPT__(, __VA_ARGS__)),

#define FASTJSON_PP_RULES(T, x) FASTJSON_PP_RULES_I(T, FASTJSON_PP_REM x)
#define FASTJSON_PP_RULES_I(...) FASTJSON_PP_RULES_II(__VA_ARGS__)
#define FASTJSON_PP_RULES_II(T, m, ...) ::fastjson::reflect::detail::make_rules(&T::m, __VA_ARGS__),

#define FASTJSON_PP_ENUM(T, x) FASTJSON_PP_CAT(FASTJSON_PP_ENUM_, FASTJSON_PP_IS_PAREN(x))(T, x)
#define FASTJSON_PP_ENUM_0(T, x) ::fastjson::reflect::detail::enum_entry<T>{#x, T::x},
#define FASTJSON_PP_ENUM_1(T, x) FASTJSON_PP_ENUM_R(T, FASTJSON_PP_REM x)
#define FASTJSON_PP_ENUM_R(...) FASTJSON_PP_ENUM_R_I(__VA_ARGS__)
#define FASTJSON_PP_ENUM_R_I(T, v, name) ::fastjson::reflect::detail::enum_entry<T>{name, T::v},

// ---------------------------------------------------------------------------
// Public macros.

/// Declares the JSON fields of `type`: each argument is a member name, or
/// `(member, "json_name")`, or `(member, "json_name", option | option)` with
/// options from fastjson::reflect::options (emit_null, not_required).
#define FASTJSON_REFLECT(type, ...)                                                      \
  [[maybe_unused]] constexpr auto fastjson_reflect_fields(type*) {                       \
    using namespace ::fastjson::reflect::options;                                        \
    return ::std::tuple{FASTJSON_PP_FOR_EACH(FASTJSON_PP_FIELD, type, __VA_ARGS__)};     \
  }

/// Marks a reflected type strict: json::read reports unknown keys as errors.
#define FASTJSON_STRICT(type) \
  [[maybe_unused]] constexpr bool fastjson_reflect_strict(type*) { return true; }

/// Attaches constraints to fields of a reflected type: each argument is
/// `(member, rule, rule...)` with rules from fastjson::reflect::constraints:
/// min_length(n), max_length(n), min_value(v), max_value(v), non_empty().
/// For std::optional members the rules apply to the contained value.
#define FASTJSON_CONSTRAINTS(type, ...)                                                  \
  [[maybe_unused]] constexpr auto fastjson_reflect_constraints(type*) {                  \
    using namespace ::fastjson::reflect::constraints;                                    \
    return ::std::tuple{FASTJSON_PP_FOR_EACH(FASTJSON_PP_RULES, type, __VA_ARGS__)};     \
  }

/// Declares an enum serialized as a JSON string: each argument is an
/// enumerator, or `(enumerator, "json_name")`. Undeclared values are written
/// as `null`; unknown strings in input are 422 errors.
#define FASTJSON_ENUM(type, ...)                                                         \
  [[maybe_unused]] constexpr auto fastjson_reflect_enum(type*) {                         \
    return ::std::array{FASTJSON_PP_FOR_EACH(FASTJSON_PP_ENUM, type, __VA_ARGS__)};      \
  }
