// Tests for the JSON writer (include/fastjson/json/writer.h) and reflection.

#include <catch2/catch.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <list>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "fastjson/json/reader.h"
#include "fastjson/json/writer.h"

namespace wt {

enum class color { red, green, dark_blue };
FASTJSON_ENUM(color, red, green, (dark_blue, "dark-blue"))

enum class plain_enum : int { a = 3, b = 7 };

struct point {
  int x = 0;
  int y = 0;
};
FASTJSON_REFLECT(point, x, y)

struct shape {
  std::string name;
  std::vector<point> points;
  std::optional<std::string> note;           // omitted when empty
  std::optional<int> size;                   // written as null when empty
  color fill = color::red;
  std::chrono::system_clock::time_point created;
  std::map<std::string, double> attrs;
};
FASTJSON_REFLECT(shape, name, points, note, (size, "size", emit_null), fill, (created, "created_at"), attrs)

struct all_ints {
  std::int8_t i8;
  std::uint8_t u8;
  std::int16_t i16;
  std::uint16_t u16;
  std::int32_t i32;
  std::uint32_t u32;
  std::int64_t i64;
  std::uint64_t u64;
};
FASTJSON_REFLECT(all_ints, i8, u8, i16, u16, i32, u32, i64, u64)

struct with_view {
  std::string_view text;
  const char* c_str;
};
FASTJSON_REFLECT(with_view, text, c_str)

}  // namespace wt

namespace {

using fastjson::buffer;
using fastjson::json::to_string;

std::string esc(std::string_view s) {
  buffer b;
  fastjson::json::write_escaped(b, s);
  return b.str();
}

// A deliberately naive reference escaper: one byte at a time.
std::string reference_escape(std::string_view s) {
  std::string out = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\b') out += "\\b";
    else if (c == '\f') out += "\\f";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // Decode one code point strictly; on failure emit U+FFFD for this byte.
      int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
      std::uint32_t cp = len == 4 ? c & 7 : len == 3 ? c & 15 : c & 31;
      bool ok = len != 0 && i + len <= n;
      for (int k = 1; ok && k < len; ++k) {
        if ((p[i + k] & 0xC0) != 0x80) ok = false;
        else cp = (cp << 6) | (p[i + k] & 0x3F);
      }
      if (ok) {
        std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        ok = cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
      }
      if (ok) {
        out.append(s.substr(i, len));
        i += len;
        continue;
      }
      out += "\xEF\xBF\xBD";
    }
    ++i;
  }
  return out + "\"";
}

}  // namespace

TEST_CASE("write_escaped escapes every control byte, quote and backslash", "[json]") {
  for (int c = 0; c < 0x20; ++c) {
    std::string in(1, static_cast<char>(c));
    std::string expect;
    switch (c) {
      case '\b': expect = "\"\\b\""; break;
      case '\f': expect = "\"\\f\""; break;
      case '\n': expect = "\"\\n\""; break;
      case '\r': expect = "\"\\r\""; break;
      case '\t': expect = "\"\\t\""; break;
      default: {
        char buf[16];
        std::snprintf(buf, sizeof buf, "\"\\u%04x\"", c);
        expect = buf;
      }
    }
    INFO("byte " << c);
    CHECK(esc(in) == expect);
    // Same byte inside a long run, to exercise the 16-byte fast path.
    std::string longer = std::string(21, 'a') + in + std::string(20, 'b');
    CHECK(esc(longer) == "\"" + std::string(21, 'a') + expect.substr(1, expect.size() - 2) + std::string(20, 'b') + "\"");
  }
  CHECK(esc("a\"b\\c") == R"("a\"b\\c")");
  CHECK(esc("") == "\"\"");
  CHECK(esc("/") == "\"/\"");
  CHECK(esc("\x7f") == "\"\x7f\"");
}

TEST_CASE("write_escaped keeps valid UTF-8 and replaces invalid bytes with U+FFFD", "[json]") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(esc("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E") == "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E\"");
  CHECK(esc("\xFF") == "\"" + fffd + "\"");
  CHECK(esc("\xC0\xAF") == "\"" + fffd + fffd + "\"");                 // overlong '/'
  CHECK(esc("\xED\xA0\x80") == "\"" + fffd + fffd + fffd + "\"");      // UTF-16 surrogate
  CHECK(esc("ab\xE2\x82") == "\"ab" + fffd + fffd + "\"");             // truncated at the end
  CHECK(esc("\xF4\x90\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");  // > U+10FFFF
  CHECK(esc("\x80x") == "\"" + fffd + "x\"");                           // lone continuation
}

TEST_CASE("write_escaped matches a byte-at-a-time reference on random input", "[json]") {
  std::mt19937 rng(12345);
  const char alphabet[] = "abc \"\\\n\x01\x1f\x7f\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xFF\xED\xA0";
  for (int round = 0; round < 2000; ++round) {
    std::size_t len = rng() % 80;
    std::string s;
    for (std::size_t i = 0; i < len; ++i) s += alphabet[rng() % (sizeof alphabet - 1)];
    INFO("round " << round);
    REQUIRE(esc(s) == reference_escape(s));
    REQUIRE(fastjson::json::validate(std::string_view(esc(s))) == fastjson::json::error_kind::none);
  }
  // Larger than one 8 KiB slice, with multi-byte sequences straddling slice ends.
  std::string big;
  while (big.size() < 40000) big += "x\xE2\x82\xAC\xF0\x9F\x98\x80y\"\n";
  CHECK(esc(big) == reference_escape(big));
}

TEST_CASE("integers of every width at their limits", "[json]") {
  wt::all_ints lo{std::numeric_limits<std::int8_t>::min(),  0, std::numeric_limits<std::int16_t>::min(), 0,
                  std::numeric_limits<std::int32_t>::min(), 0, std::numeric_limits<std::int64_t>::min(), 0};
  wt::all_ints hi{std::numeric_limits<std::int8_t>::max(),   std::numeric_limits<std::uint8_t>::max(),
                  std::numeric_limits<std::int16_t>::max(),  std::numeric_limits<std::uint16_t>::max(),
                  std::numeric_limits<std::int32_t>::max(),  std::numeric_limits<std::uint32_t>::max(),
                  std::numeric_limits<std::int64_t>::max(),  std::numeric_limits<std::uint64_t>::max()};
  CHECK(to_string(lo) ==
        R"({"i8":-128,"u8":0,"i16":-32768,"u16":0,"i32":-2147483648,"u32":0,"i64":-9223372036854775808,"u64":0})");
  CHECK(to_string(hi) ==
        R"({"i8":127,"u8":255,"i16":32767,"u16":65535,"i32":2147483647,"u32":4294967295,"i64":9223372036854775807,"u64":18446744073709551615})");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    auto v = static_cast<std::int64_t>(rng()) >> (rng() % 64);
    REQUIRE(to_string(v) == std::to_string(v));
  }
  // Round trip through the reader.
  auto r = fastjson::json::read<wt::all_ints>(to_string(hi));
  REQUIRE(r.ok());
  CHECK(r.value().u64 == hi.u64);
  CHECK(r.value().i64 == hi.i64);
}

TEST_CASE("doubles are shortest round-trip text; NaN and Inf are null", "[json]") {
  std::mt19937_64 rng(99);
  std::vector<double> values = {0.0, -0.0, 1.0, 0.1, 1e-300, 5e-324, 1.7976931348623157e308, 123456789.125, -2.5e-8};
  for (int i = 0; i < 2000; ++i) {
    std::uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) values.push_back(d);
  }
  for (double d : values) {
    std::string s = to_string(d);
    double back = 0;
    auto res = std::from_chars(s.data(), s.data() + s.size(), back);
    INFO(s);
    REQUIRE(res.ec == std::errc());
    REQUIRE(res.ptr == s.data() + s.size());
    REQUIRE(std::memcmp(&back, &d, sizeof d) == 0);
    // Also through our own reader (simdjson number parsing).
    auto r = fastjson::json::read<double>(s);
    REQUIRE(r.ok());
    REQUIRE(r.value() == d);
  }
  CHECK(to_string(0.1) == "0.1");
  CHECK(to_string(1.5f) == "1.5");
  CHECK(to_string(std::nan("")) == "null");
  CHECK(to_string(std::numeric_limits<double>::infinity()) == "null");
  CHECK(to_string(-std::numeric_limits<float>::infinity()) == "null");
}

TEST_CASE("reflected structs: nesting, renaming, optionals, enums, maps, time", "[json]") {
  using namespace std::chrono;
  wt::shape s;
  s.name = "tri";
  s.points = {{1, 2}, {3, -4}};
  s.fill = wt::color::dark_blue;
  s.created = system_clock::time_point(seconds(1714566600));  // 2024-05-01T12:30:00Z
  s.attrs = {{"a", 1.5}, {"b/c", -2}};
  CHECK(to_string(s) ==
        R"({"name":"tri","points":[{"x":1,"y":2},{"x":3,"y":-4}],"size":null,"fill":"dark-blue",)"
        R"("created_at":"2024-05-01T12:30:00Z","attrs":{"a":1.5,"b/c":-2}})");
  s.note = "n";
  s.size = 3;
  std::string out = to_string(s);
  CHECK(out.find(R"("note":"n","size":3)") != std::string::npos);
  // Everything we write, we read back identically.
  auto r = fastjson::json::read<wt::shape>(out);
  REQUIRE(r.ok());
  CHECK(to_string(r.value()) == out);
}

TEST_CASE("time_point RFC 3339 text and round trip", "[json]") {
  using namespace std::chrono;
  using tp = system_clock::time_point;
  CHECK(to_string(tp{}) == "\"1970-01-01T00:00:00Z\"");
  CHECK(to_string(tp(milliseconds(951782400123))) == "\"2000-02-29T00:00:00.123Z\"");
  CHECK(to_string(tp(microseconds(-1))) == "\"1969-12-31T23:59:59.999999Z\"");
  CHECK(to_string(tp(seconds(4102444799))) == "\"2099-12-31T23:59:59Z\"");
  std::mt19937_64 rng(3);
  for (int i = 0; i < 500; ++i) {
    tp t(duration_cast<system_clock::duration>(nanoseconds(static_cast<std::int64_t>(rng() % 4000000000000000000ull))));
    std::string s = to_string(t);
    auto r = fastjson::json::read<tp>(s);
    INFO(s);
    REQUIRE(r.ok());
    REQUIRE(r.value() == t);
  }
}

TEST_CASE("containers, maps, optionals in arrays, enums, views", "[json]") {
  CHECK(to_string(std::vector<int>{}) == "[]");
  CHECK(to_string(std::array<int, 3>{1, 2, 3}) == "[1,2,3]");
  CHECK(to_string(std::list<std::string>{"a", "b"}) == R"(["a","b"])");
  CHECK(to_string(std::set<int>{3, 1}) == "[1,3]");
  CHECK(to_string(std::vector<std::optional<int>>{1, std::nullopt}) == "[1,null]");
  CHECK(to_string(std::vector<bool>{true, false}) == "[true,false]");
  CHECK(to_string(std::map<std::string, int>{{"k\"", 1}, {"z", 2}}) == R"({"k\"":1,"z":2})");
  CHECK(to_string(std::unordered_map<std::string, std::vector<int>>{{"k", {1}}}) == R"({"k":[1]})");
  CHECK(to_string(std::map<std::string, int>{}) == "{}");
  CHECK(to_string(wt::color::green) == "\"green\"");
  CHECK(to_string(static_cast<wt::color>(42)) == "null");
  CHECK(to_string(wt::plain_enum::b) == "7");
  CHECK(to_string(wt::with_view{"v\n", "c"}) == R"({"text":"v\n","c_str":"c"})");
  CHECK(to_string(nullptr) == "null");
  CHECK(to_string('x') == "\"x\"");
  CHECK(to_string(fastjson::json::raw_json{"[1, 2]"}) == "[1, 2]");
}

TEST_CASE("streaming writer inserts commas and appends to an existing buffer", "[json]") {
  buffer b;
  b.append("HTTP/1.1 200 OK\r\n\r\n");
  fastjson::json::writer w(b);
  w.begin_object();
  w.key("items");
  w.begin_array();
  w.value(1);
  w.value("two");
  w.begin_object();
  w.end_object();
  w.value(wt::point{5, 6});
  w.end_array();
  w.key("ok");
  w.value(true);
  w.member("absent", std::optional<int>{});
  w.member("present", std::optional<int>{4});
  w.key("n");
  w.null();
  w.end_object();
  CHECK(b.view() ==
        "HTTP/1.1 200 OK\r\n\r\n"
        R"({"items":[1,"two",{},{"x":5,"y":6}],"ok":true,"present":4,"n":null})");
}

TEST_CASE("reflection contract: for_each_field and field_count_v", "[json]") {
  static_assert(fastjson::reflect::is_reflected_v<wt::point>);
  static_assert(!fastjson::reflect::is_reflected_v<std::string>);
  static_assert(fastjson::reflect::field_count_v<wt::shape> == 7);
  std::vector<std::string> names;
  fastjson::reflect::for_each_field<wt::shape>([&](std::string_view n, auto) { names.emplace_back(n); });
  CHECK(names == std::vector<std::string>{"name", "points", "note", "size", "fill", "created_at", "attrs"});
  wt::point p{1, 2};
  fastjson::reflect::for_each_field(p, [](std::string_view, int& v) { v *= 10; });
  CHECK(p.x == 10);
  CHECK(p.y == 20);
}
