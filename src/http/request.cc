// request: header lookup, query parsing, percent-decoding, typed access.

#include "fastjson/request.h"

#include <cstring>

#include <fmt/format.h>

#include "http/session.h"
#include "http/slot.h"

static_assert(fastjson::request::body_padding >= simdjson::SIMDJSON_PADDING, "request bodies must be padded for simdjson");

namespace fastjson {

namespace {
constexpr std::string_view method_names[method_count] = {"GET",   "HEAD",  "POST",    "PUT",  "PATCH",
                                                         "DELETE", "OPTIONS", "TRACE", "CONNECT", "OTHER"};
inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }
inline int hexval(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
}  // namespace

std::string_view to_string(method m) noexcept { return method_names[static_cast<std::size_t>(m)]; }

method parse_method(std::string_view name) noexcept {
  switch (name.size()) {
    case 3:
      if (name == "GET") return method::get;
      if (name == "PUT") return method::put;
      break;
    case 4:
      if (name == "POST") return method::post;
      if (name == "HEAD") return method::head;
      break;
    case 5:
      if (name == "PATCH") return method::patch;
      if (name == "TRACE") return method::trace;
      break;
    case 6:
      if (name == "DELETE") return method::del;
      break;
    case 7:
      if (name == "OPTIONS") return method::options;
      if (name == "CONNECT") return method::connect;
      break;
  }
  return method::other;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

long percent_decode(std::string_view in, char* out, bool plus_is_space) noexcept {
  std::size_t o = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return -1;
      int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
      if (h < 0 || l < 0) return -1;
      out[o++] = static_cast<char>(h * 16 + l);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out[o++] = ' ';
    } else {
      out[o++] = c;
    }
  }
  return static_cast<long>(o);
}

long decode_path(std::string_view raw, char* out) noexcept {
  std::size_t o = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '%') {
      out[o++] = c;
      continue;
    }
    char dec;
    if (percent_decode(raw.substr(i, 3), &dec, false) != 1) return -1;
    // Keep %2F so segments stay intact, and %25 so that params, decoded once
    // more by the router, are not decoded twice ("%2541" is "%41", not "A");
    // refuse NUL.
    if (dec == '\0') return -1;
    if (dec == '/' || dec == '%') {
      std::memcpy(out + o, raw.data() + i, 3);
      o += 3;
    } else {
      out[o++] = dec;
    }
    i += 2;
  }
  return static_cast<long>(o);
}

std::optional<std::string_view> request::header(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < header_count_; ++i)
    // Length first, inline: most fields differ in length from the one asked for.
    if (headers_[i].name.size() == name.size() && iequals(headers_[i].name, name)) return headers_[i].value;
  return std::nullopt;
}

std::string_view request::param(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < param_count_; ++i)
    if (params_[i].first == name) return params_[i].second;
  return {};
}

std::optional<std::string_view> request::query(std::string_view name) const {
  std::string_view q = query_;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    std::size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    bool key_plain = key.find_first_of("%+") == std::string_view::npos;
    if (key_plain) {
      if (key != name) continue;
    } else {
      char tmp[256];
      if (key.size() > sizeof tmp) continue;
      long n = percent_decode(key, tmp, true);
      if (n < 0 || std::string_view(tmp, static_cast<std::size_t>(n)) != name) continue;
    }
    if (value.find_first_of("%+") == std::string_view::npos) return value;
    char* out = slot_->scratch.allocate(value.size());
    long n = percent_decode(value, out, true);
    if (n < 0) detail::bad_param("query parameter", name, value, "valid percent-encoding");
    return std::string_view(out, static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

void request::set_id(std::string_view id) noexcept {
  id_len_ = std::min(id.size(), id_.size());
  std::memcpy(id_.data(), id.data(), id_len_);
}

std::string_view request::client_address() const {
  if (!slot_ || !slot_->owner) return {};
  return slot_->owner->peer_address();
}

void request::check_json_content_type() const {
  auto ct = header("content-type");
  if (ct) {
    std::string_view t = ct->substr(0, ct->find(';'));
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (iequals(t, "application/json")) return;
    auto slash = t.find('/');
    if (slash != std::string_view::npos && t.size() >= 5 && iequals(t.substr(t.size() - 5), "+json")) return;
  }
  throw http_error(415, "the request body must be JSON (Content-Type: application/json)");
}

void request::throw_json_error(json::error_kind kind, const std::vector<json::field_error>& errs) const {
  std::vector<problem_field_error> out;
  out.reserve(errs.size());
  for (auto& e : errs) out.push_back(problem_field_error::body(e.pointer, e.message));
  if (kind == json::error_kind::shape)
    throw http_error(422, "the JSON body does not have the expected shape", std::move(out));
  std::string detail = errs.empty() ? std::string("the body is not valid JSON")
                                    : fmt::format("the body is not valid JSON: {}", errs.front().message);
  throw http_error(400, detail, std::move(out));
}

namespace detail {
void bad_param(std::string_view kind, std::string_view name, std::string_view value, std::string_view expected) {
  std::string shown(value.substr(0, 64));
  throw http_error(400, fmt::format("{} '{}' must be {} (got '{}')", kind, name, expected, shown),
                   {problem_field_error::param(std::string(name), kind == "query parameter" ? "query" : "path",
                                               fmt::format("must be {}", expected))});
}
}  // namespace detail

}  // namespace fastjson
