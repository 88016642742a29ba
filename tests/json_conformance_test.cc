// RFC 8259 conformance of fastjson::json::validate against JSONTestSuite
// (https://github.com/nst/JSONTestSuite): y_ files must be accepted, n_ files
// rejected, i_ files may go either way, and nothing may crash.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fastjson/json/reader.h"

#ifndef FASTJSON_SHARED_DATA
#define FASTJSON_SHARED_DATA "../shared/data"
#endif

TEST_CASE("JSONTestSuite test_parsing: y_ accepted, n_ rejected, i_ no crash", "[json][shared-data]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(FASTJSON_SHARED_DATA) / "JSONTestSuite" / "test_parsing";
  REQUIRE(fs::is_directory(dir));
  int y = 0, n = 0, i = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // A generous depth so that only the grammar decides (n_structure_100000_opening_arrays
    // must still be rejected, y_ files nest only a few levels).
    fastjson::json::read_options opt;
    opt.max_depth = 512;
    auto kind = fastjson::json::validate(std::string_view(text), opt);
    INFO(name);
    if (name.rfind("y_", 0) == 0) {
      CHECK(kind == fastjson::json::error_kind::none);
      ++y;
    } else if (name.rfind("n_", 0) == 0) {
      CHECK(kind != fastjson::json::error_kind::none);
      ++n;
    } else {
      ++i;
    }
  }
  CHECK(y > 90);
  CHECK(n > 180);
  CHECK(i > 20);
}
