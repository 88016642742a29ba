// The out-of-line parts of the typed JSON reader: the thread-local parser,
// the validating walk used for skipped values and validate(), error
// reporting with JSON Pointers, and RFC 3339 parsing.

#include "fastjson/json/reader.h"

#include <charconv>
#include <cstring>
#include <memory>

namespace fastjson::json {
namespace detail {
namespace {

// The walk recurses once per nesting level; never let options push it past
// this, whatever max_depth says, so hostile input cannot exhaust the stack.
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

template <class V>
bool mismatch_impl(read_ctx& c, V& v, simdjson::error_code e, std::string_view what) {
  using simdjson::error_code;
  if (e != error_code::INCORRECT_TYPE && e != error_code::NUMBER_OUT_OF_RANGE && e != error_code::NUMBER_ERROR)
    return c.syntax(e);
  od::json_type t;
  if (auto e2 = v.type().get(t)) return c.syntax(e2);
  if (t == od::json_type::number) {
    // A number, but not of the wanted kind: find out which, validating it.
    od::number n;
    if (auto e3 = v.get_number().get(n)) return c.syntax(e3);
    if (n.is_double() || what == "string" || what == "boolean" || what == "object" || what == "array" ||
        what == "date-time string")
      c.shape(std::string("expected ") + std::string(what));
    else
      c.shape("integer out of range");
    return true;
  }
  if (e != error_code::INCORRECT_TYPE) return c.syntax(e);
  c.shape(std::string("expected ") + std::string(what));
  if constexpr (std::is_same_v<V, od::document>) return walk_document(c, v);
  else return walk(c, v);
}

}  // namespace

std::string read_ctx::pointer() const {
  std::string p;
  for (const auto& s : path) {
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

bool read_ctx::syntax(simdjson::error_code e) {
  if (fatal != error_kind::none) return false;
  if (e == simdjson::DEPTH_ERROR) return too_deep();
  fatal = error_kind::syntax;
  errors.clear();
  errors.push_back({pointer(), std::string("malformed JSON: ") + simdjson::error_message(e)});
  return false;
}

bool read_ctx::too_deep() {
  if (fatal != error_kind::none) return false;
  fatal = error_kind::too_deep;
  errors.clear();
  errors.push_back({pointer(), "JSON nested deeper than " + std::to_string(max_depth) + " levels"});
  return false;
}

od::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

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

bool walk(read_ctx& c, od::value& v) {
  od::json_type t;
  if (auto e = v.type().get(t)) return c.syntax(e);
  switch (t) {
    case od::json_type::array: {
      od::array a;
      if (auto e = v.get_array().get(a)) return c.syntax(e);
      if (!c.enter()) return false;
      for (auto er : a) {
        od::value ev;
        if (auto e = er.get(ev)) return c.syntax(e);
        if (!walk(c, ev)) return false;
      }
      c.leave();
      return true;
    }
    case od::json_type::object: {
      od::object o;
      if (auto e = v.get_object().get(o)) return c.syntax(e);
      if (!c.enter()) return false;
      for (auto fr : o) {
        od::field f;
        if (auto e = std::move(fr).get(f)) return c.syntax(e);
        std::string_view key;
        if (auto e = f.unescaped_key().get(key)) return c.syntax(e);
        od::value fv = f.value();
        if (!walk(c, fv)) return false;
      }
      c.leave();
      return true;
    }
    case od::json_type::number: {
      od::number n;
      if (auto e = v.get_number().get(n)) return c.syntax(e);
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return c.syntax(e);
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (auto e = v.get_bool().get(b)) return c.syntax(e);
      return true;
    }
    case od::json_type::null: {
      bool n = false;
      if (auto e = v.is_null().get(n)) return c.syntax(e);
      if (!n) return c.syntax(simdjson::INCORRECT_TYPE);
      return true;
    }
  }
  return c.syntax(simdjson::TAPE_ERROR);
}

bool walk_document(read_ctx& c, od::document& doc) {
  od::json_type t;
  if (auto e = doc.type().get(t)) return c.syntax(e);
  switch (t) {
    case od::json_type::array:
    case od::json_type::object: {
      od::value v;
      if (auto e = doc.get_value().get(v)) return c.syntax(e);
      return walk(c, v);
    }
    case od::json_type::number: {
      od::number n;
      if (auto e = doc.get_number().get(n)) return c.syntax(e);
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = doc.get_string().get(s)) return c.syntax(e);
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (auto e = doc.get_bool().get(b)) return c.syntax(e);
      return true;
    }
    case od::json_type::null: {
      bool n = false;
      if (auto e = doc.is_null().get(n)) return c.syntax(e);
      if (!n) return c.syntax(simdjson::INCORRECT_TYPE);
      return true;
    }
  }
  return c.syntax(simdjson::TAPE_ERROR);
}

bool type_mismatch(read_ctx& c, od::value& v, simdjson::error_code e, std::string_view what) {
  return mismatch_impl(c, v, e, what);
}
bool type_mismatch(read_ctx& c, od::document& v, simdjson::error_code e, std::string_view what) {
  return mismatch_impl(c, v, e, what);
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

std::vector<path_segment>& read_session::thread_path() {
  thread_local std::vector<path_segment> path = [] {
    std::vector<path_segment> p;
    p.reserve(64);
    return p;
  }();
  return path;
}

error_kind read_session::begin(simdjson::padded_string_view in, od::document& doc, read_ctx& c) {
  if (c.max_depth > kHardDepthCap) c.max_depth = kHardDepthCap;
  if (in.size() > opt.max_size) {
    errors.push_back({"", "JSON text larger than " + std::to_string(opt.max_size) + " bytes"});
    return error_kind::too_large;
  }
  if (auto e = thread_parser().iterate(in).get(doc)) {
    c.syntax(e);
    return c.fatal;
  }
  return error_kind::none;
}

error_kind read_session::finish(od::document& doc, read_ctx& c) {
  // On-Demand stops after the root value; anything but whitespace after it
  // (e.g. "[1]]" or "{} x") makes the text malformed.
  auto loc = doc.current_location();
  if (loc.error() == simdjson::SUCCESS) {
    c.syntax(simdjson::TRAILING_CONTENT);
    return c.fatal;
  }
  return error_kind::none;
}

}  // namespace detail

error_kind validate(simdjson::padded_string_view in, const read_options& opt) {
  std::vector<field_error> errors;
  auto& path = detail::read_session::thread_path();
  path.clear();
  detail::read_session s{errors, opt, path};
  detail::read_ctx c{errors, path, opt.max_depth, opt.strict};
  detail::od::document doc;
  if (error_kind k = s.begin(in, doc, c); k != error_kind::none) return k;
  if (!detail::walk_document(c, doc)) return c.fatal;
  return s.finish(doc, c);
}

error_kind validate(std::string_view in, const read_options& opt) { return validate(detail::pad(in), opt); }

}  // namespace fastjson::json
