// Fuzzes the typed JSON reader and the validator.
//
// json::read into a reflected struct with nested structs, optionals, vectors
// and arrays, plus json::validate over the same bytes. Invariants: a
// successful read or validate agrees on syntax (a document read() accepts is
// valid JSON), errors carry pointers that start with '/' or are empty, and
// whatever read() accepted serializes and reads back equal.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "fastjson/json/reader.h"
#include "fastjson/json/writer.h"

namespace fuzz {

struct point {
  double x = 0;
  double y = 0;
  friend bool operator==(const point&, const point&) = default;
};
FASTJSON_REFLECT(point, x, y)

struct item {
  std::int64_t id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> due;
  std::vector<std::string> tags;
  friend bool operator==(const item&, const item&) = default;
};
FASTJSON_REFLECT(item, id, title, done, due, tags)

struct doc {
  std::string name;
  std::optional<std::int32_t> count;
  std::vector<item> items;
  std::optional<point> where;
  std::array<std::uint8_t, 2> pair{};
  std::vector<std::vector<double>> matrix;
  std::optional<std::vector<std::optional<std::int64_t>>> sparse;
  friend bool operator==(const doc&, const doc&) = default;
};
FASTJSON_REFLECT(doc, name, count, items, where, pair, matrix, sparse)

}  // namespace fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  namespace json = fastjson::json;
  json::read_options small;
  small.max_depth = 16;
  for (const json::read_options& opt : {json::read_options{}, small}) {
    auto valid = json::validate(in, opt);
    auto r = json::read<fuzz::doc>(in, opt);
    if (r.ok()) {
      if (valid != json::error_kind::none) std::abort();  // read accepted invalid JSON
      // Round trip: what was read writes and reads back the same.
      std::string out = json::to_string(r.value());
      auto back = json::read<fuzz::doc>(out, opt);
      if (!back.ok()) std::abort();
      // NaN can't appear (JSON has none), so == is meaningful.
      if (!(back.value() == r.value())) std::abort();
    } else {
      if (r.errors.empty()) std::abort();
      for (auto& e : r.errors)
        if (!e.pointer.empty() && e.pointer[0] != '/') std::abort();
      if (r.kind() == json::error_kind::shape && valid != json::error_kind::none) std::abort();
    }
  }
  return 0;
}
