// Owned values of generic rows (`query<db::row>`), converted with the same
// rules as struct mapping, and the time parser both share.

#include <charconv>
#include <chrono>

#include <fmt/format.h>

#include "db/connection.h"

namespace fastjson::db {

namespace {

const char* kind_name(value::type t) {
  switch (t) {
    case value::type::integer: return "INTEGER";
    case value::type::real: return "REAL";
    case value::type::text: return "TEXT";
    case value::type::blob: return "BLOB";
    default: return "NULL";
  }
}

[[noreturn]] void mismatch(const value& v, std::string_view column, std::string_view expected) {
  if (v.is_null()) detail::throw_value_null(column);
  throw error(SQLITE_MISMATCH,
              fmt::format("db: column '{}' holds {}, expected {}", column, kind_name(v.kind()), expected),
              constraint_kind::none, true);
}

}  // namespace

const value& row::operator[](std::size_t i) const {
  if (i >= values_.size())
    throw error(SQLITE_RANGE, fmt::format("db: column index {} out of range (row has {})", i, values_.size()),
                constraint_kind::none, true);
  return values_[i];
}

const value& row::operator[](std::string_view column) const {
  auto i = find(column);
  if (i < 0)
    throw error(SQLITE_MISMATCH, fmt::format("db: result has no column '{}'", column), constraint_kind::none,
                true);
  return values_[static_cast<std::size_t>(i)];
}

namespace detail {

void throw_value_null(std::string_view column) {
  throw error(SQLITE_MISMATCH,
              fmt::format("db: column '{}' is NULL but the requested type is not std::optional", column),
              constraint_kind::none, true);
}
void throw_value_range(std::string_view column, std::int64_t v) {
  throw error(SQLITE_MISMATCH, fmt::format("db: column '{}' value {} is out of range for the type", column, v),
              constraint_kind::none, true);
}
void throw_value_enum(std::string_view column) {
  throw error(SQLITE_MISMATCH, fmt::format("db: column '{}' does not hold a name of the enum", column),
              constraint_kind::none, true);
}

void convert(const value& v, std::string_view column, std::int64_t& out) {
  if (auto* p = std::get_if<std::int64_t>(&v.raw())) out = *p;
  else mismatch(v, column, "an integer");
}
void convert(const value& v, std::string_view column, bool& out) {
  if (auto* p = std::get_if<std::int64_t>(&v.raw())) out = *p != 0;
  else mismatch(v, column, "an integer (bool)");
}
void convert(const value& v, std::string_view column, double& out) {
  if (auto* p = std::get_if<std::int64_t>(&v.raw())) out = static_cast<double>(*p);
  else if (auto* d = std::get_if<double>(&v.raw())) out = *d;
  else mismatch(v, column, "a number");
}
void convert(const value& v, std::string_view column, std::string& out) {
  if (auto* p = std::get_if<std::string>(&v.raw())) out = *p;
  else mismatch(v, column, "TEXT");
}
void convert(const value& v, std::string_view column, blob& out) {
  if (auto* p = std::get_if<blob>(&v.raw())) out = *p;
  else mismatch(v, column, "a BLOB");
}
void convert(const value& v, std::string_view column, time_point& out) {
  if (auto* p = std::get_if<std::int64_t>(&v.raw())) {
    out = time_point(std::chrono::milliseconds(*p));
  } else if (auto* s = std::get_if<std::string>(&v.raw())) {
    auto tp = parse_time(*s);
    if (!tp) mismatch(v, column, "an RFC 3339 time");
    out = *tp;
  } else {
    mismatch(v, column, "a time (INTEGER unix ms or RFC 3339 TEXT)");
  }
}

namespace {
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  auto r = std::from_chars(s.data() + pos, s.data() + pos + n, out);
  return r.ec == std::errc() && r.ptr == s.data() + pos + n;
}
}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s) {
  using namespace std::chrono;
  // YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+HH:MM|-HH:MM]; SQLite's datetime() omits
  // the zone, which means UTC.
  int y, mo, d, h, mi, sec;
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  if (!digits(s, 0, 4, y) || !digits(s, 5, 2, mo) || !digits(s, 8, 2, d) || !digits(s, 11, 2, h) ||
      !digits(s, 14, 2, mi) || !digits(s, 17, 2, sec))
    return std::nullopt;
  year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  nanoseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::int64_t ns = 0;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) ns = ns * 10 + (s[pos] - '0'), ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    while (n < 9) ns *= 10, ++n;
    frac = nanoseconds(ns);
  }
  minutes offset{0};
  if (pos < s.size()) {
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh, om;
      if (pos + 6 > s.size() || s[pos + 3] != ':' || !digits(s, pos + 1, 2, oh) || !digits(s, pos + 4, 2, om))
        return std::nullopt;
      offset = hours(oh) + minutes(om);
      if (s[pos] == '-') offset = -offset;
      pos += 6;
    }
  }
  if (pos != s.size()) return std::nullopt;
  auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(sec) + frac - offset;
  return time_point_cast<system_clock::duration>(t);
}

}  // namespace detail
}  // namespace fastjson::db
