// response: validated headers, bodies, problem documents.

#include "fastjson/response.h"

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <stdexcept>

#include "app_core.h"
#include "fastjson/request.h"

namespace fastjson {

namespace {

// RFC 9110 5.6.2 tchar, as a table so a name is checked without branches.
constexpr auto token_chars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = true;
  for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) t[c] = true;
  return t;
}();

// Not allowed in a header value: control bytes other than TAB, and DEL.
constexpr bool is_control_byte(unsigned char c) noexcept { return (c < 0x20 && c != '\t') || c == 0x7f; }

// No early exit, so the loop vectorizes; runs for every content type and
// header value a handler sets.
bool has_control_byte(std::string_view v) noexcept {
  unsigned bad = 0;
  for (unsigned char c : v) bad |= static_cast<unsigned>(is_control_byte(c));
  return bad != 0;
}

void validate_header(std::string_view name, std::string_view value) {
  if (name.empty()) throw std::invalid_argument("response header name is empty");
  bool token = true;
  for (unsigned char c : name) token &= token_chars[c];
  if (!token) throw std::invalid_argument(fmt::format("response header name '{}' is not an HTTP token", name));
  if (has_control_byte(value))
    for (unsigned char c : value)
      if (is_control_byte(c))
        throw std::invalid_argument(
            fmt::format("response header '{}' has a control byte (0x{:02x}) in its value", name, c));
  // Names the server writes itself (by length first: most names match none).
  const std::size_t n = name.size();
  if ((n == 14 && iequals(name, "content-length")) || (n == 4 && iequals(name, "date")) ||
      (n == 10 && iequals(name, "connection")) || (n == 17 && iequals(name, "transfer-encoding")))
    throw std::invalid_argument(fmt::format("response header '{}' is managed by the server", name));
}

}  // namespace

response& response::header(std::string_view name, std::string_view value) {
  validate_header(name, value);
  append_header(name, value);
  return *this;
}

void response::append_header(std::string_view name, std::string_view value) {
  headers_.append(name);
  headers_.append(": ", 2);
  headers_.append(value);
  headers_.append("\r\n", 2);
}

response& response::set_header(std::string_view name, std::string_view value) {
  validate_header(name, value);
  remove_header(name);
  append_header(name, value);
  return *this;
}

void response::remove_header(std::string_view name) noexcept {
  std::size_t pos = 0;
  while (pos < headers_.size()) {
    std::string_view rest(headers_.data() + pos, headers_.size() - pos);
    std::size_t eol = rest.find("\r\n");
    std::size_t colon = rest.find(':');
    std::size_t line_len = eol + 2;
    if (colon < eol && iequals(rest.substr(0, colon), name)) {
      std::memmove(headers_.data() + pos, headers_.data() + pos + line_len, headers_.size() - pos - line_len);
      headers_.resize(headers_.size() - line_len);
      if (pos < kept_) kept_ -= line_len;  // the kept block shrinks with it
    } else {
      pos += line_len;
    }
  }
}

std::optional<std::string_view> response::header(std::string_view name) const noexcept {
  std::string_view all = headers_.view();
  while (!all.empty()) {
    std::size_t eol = all.find("\r\n");
    std::string_view line = all.substr(0, eol);
    all.remove_prefix(eol + 2);
    std::size_t colon = line.find(':');
    if (iequals(line.substr(0, colon), name)) return line.substr(colon + 2);
  }
  return std::nullopt;
}

void response::report_twice() const {
  std::fprintf(stderr,
               "fastjson: a response was already %s for this request (status %d, path %.*s); the second one is "
               "ignored\n",
               sent_ ? "sent" : "completed", status_, static_cast<int>(instance_.size()), instance_.data());
}

bool response::begin_body(std::string_view content_type, bool check) {
  if (done_ || sent_) {
    report_twice();
    return false;
  }
  body_.clear();
  begun_ = true;
  if (!content_type.empty()) {
    // The name is ours; only the value needs checking (no CR/LF/controls).
    if (check && has_control_byte(content_type))
      throw std::invalid_argument("the content type has a control byte");
    headers_.append("Content-Type: ", 14);
    headers_.append(content_type);
    headers_.append("\r\n", 2);
  }
  return true;
}

void response::send_checked(std::string_view body, std::string_view content_type, bool check) {
  if (!begin_body(content_type, check)) return;
  body_.append(body);
  done_ = true;
}

buffer& response::begin(std::string_view content_type) {
  if (!begin_body(content_type)) {
    // The caller writes anyway; give it a scratch area that is discarded.
    static thread_local buffer discard;
    discard.clear();
    return discard;
  }
  return body_;
}

void response::no_content(int code) {
  if (!begin_body({})) return;
  status_ = code;
  done_ = true;
}

void response::problem(int code, std::string_view detail, const std::vector<problem_field_error>& errors) {
  if (done_ || sent_) {
    report_twice();
    return;
  }
  detail::write_problem(*this, code, detail, errors);
}

void response::redirect(std::string_view location, int code) {
  if (done_ || sent_) {
    report_twice();
    return;
  }
  status_ = code;
  header("Location", location);
  done_ = true;
}

void response::reset() noexcept {
  status_ = 200;
  done_ = false;
  begun_ = false;
  headers_.resize(kept_);
  body_.clear();
}

void response::recycle() noexcept {
  kept_ = 0;
  reset();
  sent_ = false;
  close_ = false;
  error_ = nullptr;
  instance_ = {};
}

std::string_view status_reason(int s) noexcept {
  switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

namespace detail {

void write_problem(response& res, int status, std::string_view detail,
                   const std::vector<problem_field_error>& errors) {
  // Replacing a response that had begun drops what the handler set with it
  // (its content type, ETag, ...); filling an empty one keeps every header
  // set before the error.
  if (res.begun()) res.reset();
  res.status(status);
  buffer& b = res.begin("application/problem+json");
  b.append(R"({"type":"about:blank","title":)");
  json::write_escaped(b, status_reason(status));
  b.append(R"(,"status":)");
  b.append(fmt::format_int(status).str());
  b.append(R"(,"detail":)");
  json::write_escaped(b, detail);
  if (auto inst = res.instance(); !inst.empty()) {
    b.append(R"(,"instance":)");
    json::write_escaped(b, inst);
  }
  if (!errors.empty()) {
    b.append(R"(,"errors":[)");
    for (std::size_t i = 0; i < errors.size(); ++i) {
      const problem_field_error& e = errors[i];
      if (i) b.push_back(',');
      if (e.parameter.empty()) {
        b.append(R"({"pointer":)");
        json::write_escaped(b, e.pointer);
      } else {
        b.append(R"({"parameter":)");
        json::write_escaped(b, e.parameter);
        b.append(R"(,"in":)");
        json::write_escaped(b, e.in);
      }
      b.append(R"(,"message":)");
      json::write_escaped(b, e.message);
      b.push_back('}');
    }
    b.push_back(']');
  }
  b.push_back('}');
  res.end();
}

}  // namespace detail
}  // namespace fastjson
