#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "fastjson/buffer.h"
#include "fastjson/version.h"

TEST_CASE("version matches the header constants", "[version]") {
  auto expected = fmt::format("{}.{}.{}", fastjson::version_major, fastjson::version_minor,
                              fastjson::version_patch);
  REQUIRE(fastjson::version() == expected);
}

TEST_CASE("buffer appends, prepares and consumes", "[buffer]") {
  fastjson::buffer b;
  REQUIRE(b.empty());
  b.append("hello ");
  char* p = b.prepare(5);
  std::memcpy(p, "world", 5);
  b.commit(5);
  REQUIRE(b.view() == "hello world");
  b.consume(6);
  REQUIRE(b.view() == "world");
  for (int i = 0; i < 10000; ++i) b.push_back('x');
  REQUIRE(b.size() == 10005);
  auto cap = b.capacity();
  b.clear();
  REQUIRE(b.capacity() == cap);
  fastjson::buffer moved(std::move(b));
  REQUIRE(b.data() == nullptr);
  REQUIRE(moved.capacity() == cap);
}
