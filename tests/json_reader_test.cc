// Tests for the typed JSON reader (include/fastjson/json/reader.h).

#include <catch2/catch.hpp>

#include <map>
#include <unordered_map>

#include "fastjson/json/reader.h"
#include "fastjson/json/writer.h"

namespace rt {

enum class status { open, done };
FASTJSON_ENUM(status, open, done)

struct item {
  std::string name;
  std::int32_t price = 0;
  std::optional<std::uint8_t> qty;
};
FASTJSON_REFLECT(item, name, price, qty)

struct todo {
  std::int64_t id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> due;
  std::vector<item> items;
  status state = status::open;
};
FASTJSON_REFLECT(todo, id, title, (done, "done", not_required), due, (items, "items", not_required),
                 (state, "state", not_required))
FASTJSON_CONSTRAINTS(todo, (title, min_length(1), max_length(10)), (id, min_value(1), max_value(1000)),
                     (items, max_length(5)))

struct strict_point {
  int x = 0;
  int y = 0;
};
FASTJSON_REFLECT(strict_point, x, y)
FASTJSON_STRICT(strict_point)

struct tagged {
  std::vector<std::string> tags;
  double score = 0;
};
FASTJSON_REFLECT(tagged, (tags, "tags", not_required), (score, "score", not_required))
FASTJSON_CONSTRAINTS(tagged, (tags, non_empty()), (score, min_value(0.5), max_value(2.5)))

struct misc {
  std::map<std::string, int> counts;
  std::unordered_map<std::string, std::vector<double>> series;
  std::array<int, 2> pair{};
  std::chrono::system_clock::time_point at;
};
FASTJSON_REFLECT(misc, counts, series, pair, at)

}  // namespace rt

namespace {
using fastjson::json::error_kind;
using fastjson::json::field_error;
using fastjson::json::read;

bool has_error(const std::vector<field_error>& errors, std::string_view pointer, std::string_view message) {
  for (const auto& e : errors)
    if (e.pointer == pointer && e.message.find(message) != std::string::npos) return true;
  return false;
}

std::string dump(const std::vector<field_error>& errors) {
  std::string s;
  for (const auto& e : errors) s += e.pointer + ": " + e.message + "\n";
  return s;
}
}  // namespace

TEST_CASE("read: field order does not matter", "[json]") {
  auto a = read<rt::todo>(R"({"id":7,"title":"milk","done":true,"items":[{"name":"x","price":3}]})");
  auto b = read<rt::todo>(R"({"items":[{"price":3,"name":"x"}],"done":true,"title":"milk","id":7})");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.value().id == 7);
  CHECK(a.value().title == "milk");
  CHECK(a.value().done);
  CHECK(!a.value().due);
  CHECK(fastjson::json::to_string(a.value()) == fastjson::json::to_string(b.value()));
  CHECK(b.value().items.at(0).price == 3);
}

TEST_CASE("read: padded input parses in place; escapes in keys and values", "[json]") {
  simdjson::padded_string in(std::string_view(R"({"id":1,"t\u0069tle":"a\"\u00e9\n"})"));
  auto r = read<rt::todo>(in);
  REQUIRE(r.ok());
  CHECK(r.value().title == "a\"\xC3\xA9\n");
}

TEST_CASE("read: missing required field is reported with its pointer", "[json]") {
  auto r = read<rt::todo>(R"({"id":1,"items":[{"price":1}]})");
  REQUIRE(!r.ok());
  CHECK(r.kind() == error_kind::shape);
  CHECK(r.http_status() == 422);
  INFO(dump(r.errors));
  CHECK(has_error(r.errors, "/title", "missing required field"));
  CHECK(has_error(r.errors, "/items/0/name", "missing required field"));
  CHECK(r.errors.size() == 2);
}

TEST_CASE("read: wrong types and out-of-range integers", "[json]") {
  auto r = read<rt::todo>(
      R"({"id":"7","title":5,"done":null,"due":[],"state":"lost","items":[)"
      R"({"name":"a","price":1},{"name":"b","price":2.5},{"name":"c","price":3,"qty":256},)"
      R"({"name":"d","price":99999999999},{"name":"e","price":1,"qty":-1}]})");
  REQUIRE(!r.ok());
  CHECK(r.kind() == error_kind::shape);
  INFO(dump(r.errors));
  CHECK(has_error(r.errors, "/id", "expected integer"));
  CHECK(has_error(r.errors, "/title", "expected string"));
  CHECK(has_error(r.errors, "/done", "expected boolean"));
  CHECK(has_error(r.errors, "/due", "expected string"));
  CHECK(has_error(r.errors, "/state", "unknown enum value"));
  CHECK(has_error(r.errors, "/items/1/price", "expected integer"));
  CHECK(has_error(r.errors, "/items/2/qty", "integer out of range"));
  CHECK(has_error(r.errors, "/items/3/price", "integer out of range"));
  CHECK(has_error(r.errors, "/items/4/qty", "out of range"));
  CHECK(r.errors.size() == 9);
}

TEST_CASE("read: strict types reject unknown fields, others ignore them", "[json]") {
  auto ok = read<rt::todo>(R"({"id":1,"title":"t","extra":{"deep":[1,{"x":null}]}})");
  CHECK(ok.ok());
  auto strict = read<rt::strict_point>(R"({"x":1,"y":2,"z":3})");
  REQUIRE(!strict.ok());
  CHECK(strict.kind() == error_kind::shape);
  CHECK(has_error(strict.errors, "/z", "unknown field"));
  fastjson::json::read_options opt;
  opt.strict = true;
  auto all = read<rt::todo>(R"({"id":1,"title":"t","extra":1})", opt);
  CHECK(has_error(all.errors, "/extra", "unknown field"));
  // Unknown fields are still validated: malformed content is a syntax error.
  auto bad = read<rt::todo>(R"({"id":1,"title":"t","extra":[1,tru]})");
  CHECK(bad.kind() == error_kind::syntax);
}

TEST_CASE("read: declarative constraints", "[json]") {
  auto r = read<rt::todo>(R"({"id":0,"title":"","items":[{"name":"a","price":1},{"name":"a","price":1},)"
                          R"({"name":"a","price":1},{"name":"a","price":1},{"name":"a","price":1},)"
                          R"({"name":"a","price":1}]})");
  REQUIRE(!r.ok());
  INFO(dump(r.errors));
  CHECK(has_error(r.errors, "/title", "length must be at least 1"));
  CHECK(has_error(r.errors, "/id", "must be >= 1"));
  CHECK(has_error(r.errors, "/items", "length must be at most 5"));
  auto longer = read<rt::todo>(R"({"id":1001,"title":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"})");
  INFO(dump(longer.errors));
  CHECK(has_error(longer.errors, "/id", "must be <= 1000"));
  CHECK(longer.errors.size() == 1);  // 10 code points (20 bytes) is within max_length(10)
  auto t = read<rt::tagged>(R"({"tags":[],"score":3})");
  CHECK(has_error(t.errors, "/tags", "must not be empty"));
  CHECK(has_error(t.errors, "/score", "must be <= 2.5"));
  CHECK(read<rt::tagged>(R"({"tags":["a"],"score":2.5})").ok());
  CHECK(read<rt::tagged>(R"({})").ok());  // absent fields are not checked
}

TEST_CASE("read: syntax errors are 400, not 422", "[json]") {
  for (const char* bad : {"", "{", "{\"id\":1,}", "{\"id\":1} x", "[1]]", "{\"id\":01}", "{\"title\":\"a\tb\"}",
                          "{\"id\":1 \"title\":\"x\"}", "nul", "{\"id\":1,\"title\":\"\\x\"}"}) {
    auto r = read<rt::todo>(std::string_view(bad));
    INFO(bad << "\n" << dump(r.errors));
    CHECK(!r.ok());
    CHECK(r.kind() == error_kind::syntax);
    CHECK(r.http_status() == 400);
    CHECK(r.errors.size() == 1);
  }
}

TEST_CASE("read: depth limit protects the parser", "[json]") {
  std::string deep(100000, '[');
  auto r = read<std::vector<int>>(deep);
  CHECK(!r.ok());
  CHECK(r.http_status() == 400);
  CHECK(fastjson::json::validate(std::string_view(deep)) != error_kind::none);
  std::string deep_objects;
  for (int i = 0; i < 50000; ++i) deep_objects += "{\"a\":";
  CHECK(fastjson::json::validate(std::string_view(deep_objects)) != error_kind::none);
  auto nested = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
  CHECK(fastjson::json::validate(std::string_view(nested(64))) == error_kind::none);
  CHECK(fastjson::json::validate(std::string_view(nested(65))) == error_kind::too_deep);
  // Unknown fields are walked under the same limit.
  auto u = read<rt::todo>("{\"id\":1,\"title\":\"t\",\"x\":" + nested(70) + "}");
  CHECK(u.kind() == error_kind::too_deep);
  fastjson::json::read_options opt;
  opt.max_depth = 100;
  CHECK(fastjson::json::validate(std::string_view(nested(70)), opt) == error_kind::none);
}

TEST_CASE("read: size limit", "[json]") {
  fastjson::json::read_options opt;
  opt.max_size = 10;
  auto r = read<rt::todo>(R"({"id":1,"title":"long enough"})", opt);
  CHECK(r.kind() == error_kind::too_large);
  CHECK(r.http_status() == 413);
}

TEST_CASE("read: maps, arrays, optionals, time points, pointer escaping", "[json]") {
  auto r = read<rt::misc>(R"({"counts":{"a":1,"b/c~d":2},"series":{"s":[1.5,2]},"pair":[3,4],)"
                          R"("at":"2024-05-01T14:30:00.5+02:00"})");
  REQUIRE(r.ok());
  CHECK(r.value().counts.at("b/c~d") == 2);
  CHECK(r.value().series.at("s").at(1) == 2.0);
  CHECK(r.value().pair[1] == 4);
  CHECK(fastjson::json::to_string(r.value().at) == "\"2024-05-01T12:30:00.500Z\"");
  auto bad = read<rt::misc>(R"({"counts":{"b/c~d":"x"},"series":{},"pair":[1,2,3],"at":"2024-02-30T00:00:00Z"})");
  INFO(dump(bad.errors));
  CHECK(has_error(bad.errors, "/counts/b~1c~0d", "expected integer"));
  CHECK(has_error(bad.errors, "/pair", "expected an array of 2 elements"));
  CHECK(has_error(bad.errors, "/at", "RFC 3339"));
  CHECK(bad.errors.size() == 3);
  auto opt = read<std::vector<std::optional<int>>>("[1,null,3]");
  REQUIRE(opt.ok());
  CHECK(!opt.value()[1]);
  auto root = read<rt::todo>("[1]");
  CHECK(root.kind() == error_kind::shape);
  CHECK(has_error(root.errors, "", "expected object"));
  auto scalar = read<rt::todo>("42");
  CHECK(scalar.kind() == error_kind::shape);
}

TEST_CASE("read: a repeated call reuses the parser and gives independent results", "[json]") {
  for (int i = 0; i < 3; ++i) {
    std::string in = R"({"id":)" + std::to_string(i + 1) + R"(,"title":"t"})";
    auto r = read<rt::todo>(in);
    REQUIRE(r.ok());
    CHECK(r.value().id == i + 1);
  }
}

TEST_CASE("read: integers beyond 64 bits are valid JSON, read as doubles", "[json]") {
  // simdjson's DOM parser rejects them; the reader re-parses them as doubles.
  auto d = read<double>("89925708033096400896");
  REQUIRE(d.ok());
  CHECK(d.value() == 89925708033096400896.0);
  auto v = read<std::vector<double>>(R"([1, "12345678901234567890123", -100000000000000000000, 18446744073709551615])");
  INFO(dump(v.errors));
  CHECK(has_error(v.errors, "/1", "expected number"));  // digits inside a string stay a string
  CHECK(v.errors.size() == 1);
  // Escaped quotes and backslashes in keys do not confuse the re-parse.
  auto ok = read<std::map<std::string, double>>(R"({"\"\\": -100000000000000000000, "k\"": 18446744073709551615})");
  INFO(dump(ok.errors));
  REQUIRE(ok.ok());
  CHECK(ok.value().at("\"\\") == -1e20);
  CHECK(ok.value().at("k\"") == 18446744073709551615.0);
  auto i = read<rt::todo>(R"({"id":100000000000000000000,"title":"t"})");
  CHECK(i.kind() == error_kind::shape);
  CHECK(has_error(i.errors, "/id", "integer out of range"));
  auto u = read<std::vector<std::uint64_t>>("[18446744073709551615, 18446744073709551616]");
  CHECK(has_error(u.errors, "/1", "integer out of range"));
  CHECK(fastjson::json::validate(std::string_view("[100000000000000000000000000000]")) == error_kind::none);
  // Still malformed: leading zeros, and numbers beyond double range.
  CHECK(fastjson::json::validate(std::string_view("[012345678901234567890123]")) == error_kind::syntax);
  CHECK(fastjson::json::validate(std::string_view("[1e400, 100000000000000000000]")) == error_kind::syntax);
}

TEST_CASE("read: pointers of nested errors and unknown fields", "[json]") {
  fastjson::json::read_options opt;
  opt.strict = true;
  auto r = read<rt::todo>(R"({"id":1,"title":"t","items":[{"name":"a","price":1},{"name":"b","price":1,"x~/":0},)"
                          R"({"price":"p"}],"more":1})",
                          opt);
  INFO(dump(r.errors));
  CHECK(has_error(r.errors, "/items/1/x~0~1", "unknown field"));
  CHECK(has_error(r.errors, "/items/2/price", "expected integer"));
  CHECK(has_error(r.errors, "/items/2/name", "missing required field"));
  CHECK(has_error(r.errors, "/more", "unknown field"));
  CHECK(r.errors.size() == 4);
  auto m = read<std::map<std::string, std::vector<int>>>(R"({"a":[1,2],"b":[3,"x"]})");
  CHECK(has_error(m.errors, "/b/1", "expected integer"));
  // max_depth 0 accepts only a scalar root.
  fastjson::json::read_options flat;
  flat.max_depth = 0;
  CHECK(read<int>("1", flat).ok());
  CHECK(read<std::vector<int>>("[]", flat).kind() == error_kind::too_deep);
}

TEST_CASE("read: text without simdjson padding is copied, not read past its end", "[json]") {
  std::string body = R"({"id":3,"title":"abc"})";
  simdjson::padded_string_view unpadded(body.data(), body.size(), body.size());
  auto r = read<rt::todo>(unpadded);
  REQUIRE(r.ok());
  CHECK(r.value().title == "abc");
}
