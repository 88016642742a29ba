// The out-of-line parts of the JSON writer: string escaping with the SIMD fast
// path, integer/floating-point formatting and RFC 3339 time stamps.

#include "fastjson/json/writer.h"

#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fastjson::json {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Escape text for bytes below 0x20 plus '"' and '\\'; 0 = copy as is.
// Entries are either a short escape letter or 'u' for \u00XX.
constexpr auto kEscape = [] {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 'u';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}();

// Length of the valid UTF-8 sequence starting at p (first byte >= 0x80), or 0
// if the bytes there are not a valid sequence (RFC 3629 table 3-7).
inline int utf8_length(const unsigned char* p, const unsigned char* end) noexcept {
  unsigned char c = *p;
  std::ptrdiff_t left = end - p;
  auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) {
    return (left >= 2 && cont(p[1])) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no UTF-16 surrogates
    return (p[1] >= lo && p[1] <= hi && cont(p[2])) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    return (p[1] >= lo && p[1] <= hi && cont(p[2]) && cont(p[3])) ? 4 : 0;
  }
  return 0;
}

// Handles the one byte at *p that is not a plain safe ASCII byte: an escape,
// a valid UTF-8 sequence, or an invalid byte (-> U+FFFD). Advances p and d.
inline void slow_byte(const unsigned char*& p, const unsigned char* end, char*& d) noexcept {
  unsigned char c = *p;
  if (c < 0x80) {
    char e = kEscape[c];
    d[0] = '\\';
    if (e != 'u') {
      d[1] = e;
      d += 2;
    } else {
      d[1] = 'u';
      d[2] = '0';
      d[3] = '0';
      d[4] = kHex[c >> 4];
      d[5] = kHex[c & 15];
      d += 6;
    }
    ++p;
    return;
  }
  // Non-ASCII: validate a whole run of multi-byte sequences here (CJK text is
  // all 3-byte sequences) instead of going back to the block test each time.
  do {
    int n = utf8_length(p, end);
    if (n == 0) {
      d[0] = static_cast<char>(0xEF);
      d[1] = static_cast<char>(0xBF);
      d[2] = static_cast<char>(0xBD);
      d += 3;
      ++p;
      continue;
    }
    d[0] = static_cast<char>(p[0]);
    d[1] = static_cast<char>(p[1]);
    if (n > 2) d[2] = static_cast<char>(p[2]);
    if (n > 3) d[3] = static_cast<char>(p[3]);
    d += n;
    p += n;
  } while (p < end && *p >= 0x80);
}

#if defined(__SSE2__)
// Bit i set if byte i needs attention: < 0x20 or >= 0x80 (one signed compare
// catches both), '"' or '\\'.
inline unsigned attention_mask(__m128i v) noexcept {
  __m128i lt = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
  __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
  __m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(lt, _mm_or_si128(q, b))));
}
#else
// SWAR: high bit of each byte set if it needs attention.
inline std::uint64_t attention_mask64(std::uint64_t x) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  std::uint64_t lt20 = (x - ones * 0x20) & ~x;         // byte < 0x20 (or >= 0x80 carries)
  std::uint64_t q = x ^ (ones * '"');
  std::uint64_t bs = x ^ (ones * '\\');
  std::uint64_t eq_q = (q - ones) & ~q;
  std::uint64_t eq_b = (bs - ones) & ~bs;
  return (lt20 | eq_q | eq_b | x) & high;              // `| x`: any byte >= 0x80
}
#endif

// Escapes [p, end) into d (which has room for 6 bytes per input byte + 16).
char* escape_into(const unsigned char* p, const unsigned char* end, char* d) noexcept {
#if defined(__SSE2__)
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), v);  // speculative copy
    unsigned m = attention_mask(v);
    if (m == 0) {
      p += 16;
      d += 16;
      continue;
    }
    unsigned i = static_cast<unsigned>(__builtin_ctz(m));
    p += i;
    d += i;
    slow_byte(p, end, d);
  }
  // Tail (< 16 bytes): test a copy padded with spaces in one go.
  while (p < end) {
    std::size_t n = static_cast<std::size_t>(end - p);
    alignas(16) unsigned char tmp[16];
    std::memset(tmp, ' ', 16);
    std::memcpy(tmp, p, n);
    __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), v);
    unsigned m = attention_mask(v) & ((1u << n) - 1);
    if (m == 0) {
      d += n;
      break;
    }
    unsigned i = static_cast<unsigned>(__builtin_ctz(m));
    p += i;
    d += i;
    slow_byte(p, end, d);
  }
#else
  while (end - p >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    std::memcpy(d, &x, 8);
    std::uint64_t m = attention_mask64(x);
    if (m == 0) {
      p += 8;
      d += 8;
      continue;
    }
    // Little-endian: the first flagged byte is the lowest set bit. The SWAR
    // test can flag a byte after a real hit (borrow), never before one.
    unsigned i = static_cast<unsigned>(__builtin_ctzll(m)) / 8;
    p += i;
    d += i;
    if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
      *d++ = static_cast<char>(*p++);
    } else {
      slow_byte(p, end, d);
    }
  }
  while (p < end) {
    unsigned char c = *p;
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *d++ = static_cast<char>(c);
      ++p;
    } else {
      slow_byte(p, end, d);
    }
  }
#endif
  return d;
}

constexpr char kDigits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline void put2(char* d, unsigned v) noexcept { std::memcpy(d, kDigits2 + 2 * v, 2); }

}  // namespace

void write_escaped(buffer& out, std::string_view s) {
  // Large strings go in slices so the reservation stays proportional; a
  // UTF-8 sequence may run up to 3 bytes past a slice end, which the slack covers.
  constexpr std::size_t kSlice = 8192;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  if (s.size() <= kSlice) {
    char* d0 = out.prepare(s.size() * 6 + 32);
    char* d = d0;
    *d++ = '"';
    d = escape_into(p, end, d);
    *d++ = '"';
    out.commit(static_cast<std::size_t>(d - d0));
    return;
  }
  out.push_back('"');
  while (p < end) {
    const unsigned char* stop = end - p > static_cast<std::ptrdiff_t>(kSlice) ? p + kSlice : end;
    // Never cut a UTF-8 sequence: back up over (at most 3) continuation bytes.
    for (int k = 0; k < 3 && stop < end && (*stop & 0xC0) == 0x80; ++k) --stop;
    char* d0 = out.prepare(kSlice * 6 + 64);
    char* d = escape_into(p, stop, d0);
    p = stop;
    out.commit(static_cast<std::size_t>(d - d0));
  }
  out.push_back('"');
}

namespace detail {

char* write_u64(char* p, std::uint64_t v) noexcept {
  // Count digits, then fill from the right two at a time.
  unsigned n = 1;
  for (std::uint64_t t = v; t >= 10; t /= 10) ++n;
  char* e = p + n;
  char* d = e;
  while (v >= 100) {
    unsigned r = static_cast<unsigned>(v % 100);
    v /= 100;
    d -= 2;
    put2(d, r);
  }
  if (v >= 10) {
    d -= 2;
    put2(d, static_cast<unsigned>(v));
  } else {
    *--d = static_cast<char>('0' + v);
  }
  return e;
}

void write_double(buffer& out, double v) {
  if (!std::isfinite(v)) {
    out.append("null", 4);
    return;
  }
  char* p = out.prepare(32);
  auto r = std::to_chars(p, p + 32, v);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

void write_float(buffer& out, float v) {
  if (!std::isfinite(v)) {
    out.append("null", 4);
    return;
  }
  char* p = out.prepare(32);
  auto r = std::to_chars(p, p + 32, v);
  out.commit(static_cast<std::size_t>(r.ptr - p));
}

void write_time(buffer& out, std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  auto ns_total = duration_cast<nanoseconds>(tp.time_since_epoch()).count();
  std::int64_t secs = ns_total / 1'000'000'000;
  std::int64_t frac = ns_total % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  // civil_from_days (H. Hinnant's public-domain algorithm).
  std::int64_t z = days + 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  if (y < 0 || y > 9999) {  // RFC 3339 has four-digit years only
    out.append("null", 4);
    return;
  }
  char* p = out.prepare(40);
  char* s = p;
  *p++ = '"';
  put2(p, static_cast<unsigned>(y / 100));
  put2(p + 2, static_cast<unsigned>(y % 100));
  p[4] = '-';
  put2(p + 5, m);
  p[7] = '-';
  put2(p + 8, d);
  p[10] = 'T';
  put2(p + 11, static_cast<unsigned>(sod / 3600));
  p[13] = ':';
  put2(p + 14, static_cast<unsigned>(sod / 60 % 60));
  p[16] = ':';
  put2(p + 17, static_cast<unsigned>(sod % 60));
  p += 19;
  if (frac != 0) {
    int digits = frac % 1'000'000 == 0 ? 3 : frac % 1000 == 0 ? 6 : 9;
    std::int64_t f = digits == 3 ? frac / 1'000'000 : digits == 6 ? frac / 1000 : frac;
    *p++ = '.';
    for (int i = digits - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + f % 10);
      f /= 10;
    }
    p += digits;
  }
  *p++ = 'Z';
  *p++ = '"';
  out.commit(static_cast<std::size_t>(p - s));
}

}  // namespace detail
}  // namespace fastjson::json
