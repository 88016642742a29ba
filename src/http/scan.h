#pragma once
// Byte scans of the HTTP glue (session.cc), unit-tested in tests/http_test.cc.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fastjson::detail {

// Whether [p, p + n) holds a CR or LF byte: eight bytes per step (SWAR
// zero-byte test on the XOR with each target), the last step overlapping
// the previous one; no read outside the span. Header values are short: a
// vectorised byte loop spent most of its time in its scalar remainder.
inline bool has_cr_or_lf(const char* p, std::size_t n) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t highs = 0x8080808080808080ull;
  auto hit = [](std::uint64_t w) {
    const std::uint64_t a = w ^ (ones * '\r');
    const std::uint64_t b = w ^ (ones * '\n');
    return (((a - ones) & ~a) | ((b - ones) & ~b)) & highs;
  };
  if (n < 8) {
    unsigned any = 0;
    for (std::size_t i = 0; i < n; ++i) any |= static_cast<unsigned>((p[i] == '\r') | (p[i] == '\n'));
    return any != 0;
  }
  std::uint64_t acc = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= hit(w);
  }
  if (i < n) {
    std::uint64_t w;
    std::memcpy(&w, p + n - 8, 8);
    acc |= hit(w);
  }
  return acc != 0;
}

}  // namespace fastjson::detail
