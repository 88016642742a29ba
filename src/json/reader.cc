// The out-of-line parts of the typed JSON reader: the thread-local DOM
// parsers (one per depth limit), the validating parse shared by read() and
// validate(), error reporting with JSON Pointers, and RFC 3339 parsing.

#include "fastjson/json/reader.h"

#include <array>
#include <charconv>
#include <cstring>
#include <memory>

namespace fastjson::json {
namespace detail {

namespace dom = simdjson::dom;

namespace {

// The typed walk recurses once per nesting level of the accepted document;
// never let options push the parser's limit past this, whatever max_depth
// says, so hostile input cannot exhaust the stack.
constexpr std::size_t kHardDepthCap = 1024;
constexpr std::size_t kMaxErrors = 64;

void append_pointer_token(std::string& out, std::string_view key) {
  for (char ch : key) {
    if (ch == '~') out += "~0";
    else if (ch == '/') out += "~1";
    else out += ch;
  }
}

std::string format_number(std::int64_t i, double d, bool is_int) {
  if (is_int) return std::to_string(i);
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string read_ctx::pointer() const {
  const path_segment* steps[kHardDepthCap + 2];
  std::size_t n = 0;
  for (const path_segment* s = top; s != nullptr && n < std::size(steps); s = s->parent) steps[n++] = s;
  std::string p;
  while (n > 0) {
    const path_segment& s = *steps[--n];
    p += '/';
    if (s.is_index) p += std::to_string(s.index);
    else append_pointer_token(p, s.name);
  }
  return p;
}

void read_ctx::shape(std::string_view message, std::string_view extra_key) {
  if (errors.size() >= kMaxErrors) return;
  std::string p = pointer();
  if (extra_key.data() != nullptr) {
    p += '/';
    append_pointer_token(p, extra_key);
  }
  errors.push_back({std::move(p), std::string(message)});
}

namespace {

/// The thread's DOM parser for a depth limit. A few limits are kept (the
/// HTTP layer uses one; tests and fuzzers a second), each with the capacity
/// of the largest document it parsed.
dom::parser* thread_parser(std::size_t max_depth) {
  struct slot {
    std::size_t depth = 0;
    std::unique_ptr<dom::parser> parser;
  };
  thread_local std::array<slot, 4> slots;
  thread_local std::size_t next = 0;
  for (auto& s : slots)
    if (s.parser && s.depth == max_depth) return s.parser.get();
  auto& s = slots[next];
  next = (next + 1) % slots.size();
  auto p = std::make_unique<dom::parser>();
  if (p->allocate(4096, max_depth) != simdjson::SUCCESS) return nullptr;
  s.parser = std::move(p);
  s.depth = max_depth;
  return s.parser.get();
}

}  // namespace

simdjson::padded_string_view pad(std::string_view in) {
  thread_local std::unique_ptr<char[]> buf;
  thread_local std::size_t cap = 0;
  std::size_t need = in.size() + simdjson::SIMDJSON_PADDING;
  if (cap < need) {
    std::size_t c = cap ? cap : 4096;
    while (c < need) c *= 2;
    buf.reset(new char[c]);
    cap = c;
  }
  if (!in.empty()) std::memcpy(buf.get(), in.data(), in.size());
  std::memset(buf.get() + in.size(), 0, simdjson::SIMDJSON_PADDING);
  return simdjson::padded_string_view(buf.get(), in.size(), cap);
}

void type_mismatch(read_ctx& c, std::size_t v, std::string_view what) {
  const bool want_int = what == "integer" || what == "unsigned integer";
  switch (c.tape.type(v)) {
    case 'l':
    case 'u':
      // An integer where an integer was wanted: it does not fit.
      if (want_int) return c.shape("integer out of range");
      break;
    case 'd': {
      // Integer literals beyond 64 bits are read as doubles (see
      // widen_big_integers): report them as out of range, like 2^63.
      double d = c.tape.number<double>(v);
      if (what == "integer" ? (d >= 0x1p63 || d < -0x1p63) : what == "unsigned integer" && d >= 0x1p64)
        return c.shape("integer out of range");
      break;
    }
    default:
      break;
  }
  c.shape(std::string("expected ") + std::string(what));
}

void check_rule(read_ctx& c, std::string_view field, const reflect::constraints::rule& r, std::int64_t ilen,
                double dval, bool is_length) {
  using reflect::constraints::rule_kind;
  auto num_lt = [&](bool want_less) {  // value < bound (want_less) or value > bound
    if (r.is_int && !is_length && dval == dval && static_cast<double>(ilen) == dval) {
      return want_less ? ilen < r.i : ilen > r.i;
    }
    double bound = r.is_int ? static_cast<double>(r.i) : r.d;
    double x = is_length ? static_cast<double>(ilen) : dval;
    return want_less ? x < bound : x > bound;
  };
  std::string bound = format_number(r.i, r.d, r.is_int);
  switch (r.kind) {
    case rule_kind::min_length:
      if (is_length && ilen < r.i) c.shape("length must be at least " + bound, field);
      break;
    case rule_kind::max_length:
      if (is_length && ilen > r.i) c.shape("length must be at most " + bound, field);
      break;
    case rule_kind::non_empty:
      if (is_length && ilen == 0) c.shape("must not be empty", field);
      break;
    case rule_kind::min_value:
      if (!is_length && num_lt(true)) c.shape("must be >= " + bound, field);
      break;
    case rule_kind::max_value:
      if (!is_length && num_lt(false)) c.shape("must be <= " + bound, field);
      break;
  }
}

namespace {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  auto yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char ch = s[pos + i];
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<unsigned>(ch - '0');
  }
  out = v;
  return true;
}

}  // namespace

bool parse_rfc3339(std::string_view s, std::chrono::system_clock::time_point& out) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 't', 'z' and ' ' allowed.
  unsigned y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return false;
  static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 ||
      se > 60)
    return false;
  std::size_t pos = 19;
  std::int64_t ns = 0;
  if (s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    int scale = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale < 9) {
        ns = ns * 10 + (s[pos] - '0');
        ++scale;
      }
      ++pos;
    }
    if (pos == start) return false;
    for (; scale < 9; ++scale) ns *= 10;
  }
  if (pos >= s.size()) return false;
  std::int64_t offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    unsigned oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59)
      return false;
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  using namespace std::chrono;
  out = system_clock::time_point(duration_cast<system_clock::duration>(seconds(secs) + nanoseconds(ns)));
  return true;
}

namespace {

/// True if the digits [d, d + n) of an integer literal (sign excluded) are
/// beyond what simdjson's DOM stores as an integer (uint64, or int64 when
/// negative).
bool integer_overflows(const char* d, std::size_t n, bool negative) {
  std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
  if (n != limit.size()) return n > limit.size();
  return std::string_view(d, n) > limit;
}

/// simdjson's DOM parser (3.x) rejects integer literals beyond 64 bits,
/// which RFC 8259 allows (On-Demand reads them as doubles). Copies `in`
/// into `out` with ".0" appended to each such literal outside strings, so
/// they parse as the doubles they denote; returns false if there were none.
bool widen_big_integers(std::string_view in, std::string& out) {
  out.clear();
  bool changed = false;
  std::size_t i = 0, n = in.size(), copied = 0;
  while (i < n) {
    char ch = in[i];
    if (ch == '"') {
      for (++i; i < n; ++i) {
        if (in[i] == '\\') ++i;
        else if (in[i] == '"') break;
      }
      ++i;
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
      bool negative = ch == '-';
      std::size_t d = negative ? i + 1 : i, e = d;
      while (e < n && in[e] >= '0' && in[e] <= '9') ++e;
      std::size_t end = e;
      while (end < n && ((in[end] >= '0' && in[end] <= '9') || in[end] == '.' || in[end] == 'e' || in[end] == 'E' ||
                         in[end] == '+' || in[end] == '-'))
        ++end;
      if (end == e && integer_overflows(in.data() + d, e - d, negative)) {
        out.append(in.data() + copied, e - copied);
        out += ".0";
        copied = e;
        changed = true;
      }
      i = end;
    } else {
      ++i;
    }
  }
  if (changed) out.append(in.data() + copied, n - copied);
  return changed;
}

}  // namespace

error_kind parse_document(simdjson::padded_string_view in, const read_options& opt, tape_view& tape,
                          std::vector<field_error>& errors) {
  if (in.size() > opt.max_size) {
    errors.push_back({"", "JSON text larger than " + std::to_string(opt.max_size) + " bytes"});
    return error_kind::too_large;
  }
  std::size_t max_depth = opt.max_depth < kHardDepthCap ? opt.max_depth : kHardDepthCap;
  auto too_deep = [&] {
    errors.push_back({"", "JSON nested deeper than " + std::to_string(max_depth) + " levels"});
    return error_kind::too_deep;
  };
  // simdjson needs room for one level; with max_depth 0 only a scalar root passes.
  dom::parser* parser = thread_parser(max_depth == 0 ? 1 : max_depth);
  if (parser == nullptr) {
    errors.push_back({"", "out of memory"});
    return error_kind::too_large;
  }
  // In place when the caller's buffer carries simdjson's padding (request
  // bodies and padded_string do); otherwise simdjson copies it.
  bool copy = in.padding() < simdjson::SIMDJSON_PADDING;
  dom::element root;
  auto e = parser->parse(in.data(), in.size(), copy).get(root);
  if (e == simdjson::NUMBER_ERROR) [[unlikely]] {
    // Maybe only integers beyond 64 bits: parse them as doubles and retry.
    thread_local std::string widened;
    if (widen_big_integers(std::string_view(in.data(), in.size()), widened)) {
      e = parser->parse(widened.data(), widened.size(), true).get(root);
      if (widened.capacity() > (1u << 20)) std::string().swap(widened);
    }
  }
  if (e == simdjson::SUCCESS) {
    if (max_depth == 0 && (root.is_array() || root.is_object())) return too_deep();
    tape = {parser->doc.tape.get(), parser->doc.string_buf.get()};
    return error_kind::none;
  }
  if (e == simdjson::DEPTH_ERROR) return too_deep();
  if (e == simdjson::MEMALLOC || e == simdjson::CAPACITY) {
    errors.push_back({"", std::string("cannot parse JSON: ") + simdjson::error_message(e)});
    return error_kind::too_large;
  }
  errors.push_back({"", std::string("malformed JSON: ") + simdjson::error_message(e)});
  return error_kind::syntax;
}

}  // namespace detail

error_kind validate(simdjson::padded_string_view in, const read_options& opt) {
  std::vector<field_error> errors;
  detail::tape_view tape;
  return detail::parse_document(in, opt, tape, errors);
}

error_kind validate(std::string_view in, const read_options& opt) { return validate(detail::pad(in), opt); }

}  // namespace fastjson::json
