// The in-process test client: a session whose transport is a pair of
// buffers, on a private loop that is run until responses are complete.

#include "fastjson/testing.h"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

#include "app_core.h"
#include "fastjson/app.h"
#include "fastjson/request.h"
#include "http/session.h"
#include "net/loop_impl.h"

namespace fastjson::testing {

namespace {

class memory_session final : public detail::session {
 public:
  memory_session(detail::app_core& app, detail::loop_impl& l, std::string& peer)
      : session(app, l.handle, l.pool), loop_(l), peer_(peer) {}

  buffer& output() override { return out; }
  void flush() override {}
  void close_after_flush(bool) override { closed = true; }
  void set_wait_state(detail::wait_state) override {}
  void pause_reading() override { paused = true; }
  void resume_reading() override { paused = false; }
  std::string_view date_line() override {
    loop_.update_date();
    return {loop_.date, loop_.date_len};
  }
  std::string_view peer_address() override { return peer_; }

  buffer out;
  bool closed = false;
  bool paused = false;

 private:
  detail::loop_impl& loop_;
  std::string& peer_;
};

std::size_t count_complete(std::string_view bytes, const std::vector<bool>& heads) {
  return parse_responses(bytes, heads).size();
}

}  // namespace

struct client::impl {
  explicit impl(app& a) : core(a.core()), loop((core.freeze(), core)) { reconnect(); }
  ~impl() { sess.reset(); }
  void reconnect() {
    sess.reset();
    sess = std::make_unique<memory_session>(core, loop, peer);
  }
  detail::app_core& core;
  detail::loop_impl loop;
  std::string peer = "127.0.0.1";
  std::unique_ptr<memory_session> sess;
};

client::client(app& a) : impl_(std::make_unique<impl>(a)) {}
client::~client() = default;

void client::reconnect() { impl_->reconnect(); }
void client::set_peer_address(std::string addr) { impl_->peer = std::move(addr); }
bool client::closed() const { return impl_->sess->closed; }

std::string client::take_output() {
  std::string s = impl_->sess->out.str();
  impl_->sess->out.clear();
  return s;
}

std::vector<response> client::raw_chunked(std::string_view bytes, std::size_t chunk, std::size_t expect) {
  if (chunk == 0) chunk = 1;
  auto& s = *impl_->sess;
  detail::current_scope scope(impl_->loop);
  for (std::size_t off = 0; off < bytes.size() && !s.closed; off += chunk) {
    std::string_view piece = bytes.substr(off, chunk);
    buffer padded(piece.size() + request::body_padding);
    padded.append(piece);
    std::size_t cap = 0;
    if (char* p = s.partial_space(piece.size(), cap)) {
      std::memcpy(p, piece.data(), piece.size());
      s.on_read(p, piece.size());
    } else {
      s.on_read(padded.data(), piece.size());
    }
  }
  return raw({}, expect);
}

std::vector<response> client::raw(std::string_view bytes, std::size_t expect, std::vector<bool> heads) {
  auto& s = *impl_->sess;
  auto& l = impl_->loop;
  detail::current_scope scope(l);
  if (!bytes.empty() && !s.closed) {
    std::size_t cap = 0;
    if (char* p = s.partial_space(bytes.size(), cap)) {
      std::memcpy(p, bytes.data(), bytes.size());
      s.on_read(p, bytes.size());
    } else {
      buffer padded(bytes.size() + request::body_padding);
      padded.append(bytes);
      s.on_read(padded.data(), bytes.size());
    }
  }
  // Run the loop (timers, deferred completions, offloaded work coming back)
  // until the expected responses are there, or nothing is in flight.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool enough = expect ? count_complete(s.out.view(), heads) >= expect : s.inflight() == 0;
    if (enough || s.closed) break;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("testing::client: timed out waiting for a response");
    uv_run(&l.uv, UV_RUN_NOWAIT);
    if (s.inflight() > 0 && !enough) {
      // Block briefly for timers/posts instead of spinning hot.
      uv_update_time(&l.uv);
      uv_run(&l.uv, UV_RUN_ONCE);
    }
  }
  auto out = parse_responses(s.out.view(), heads);
  s.out.clear();
  return out;
}

response client::request(std::string_view method, std::string_view target, std::string_view body,
                         const header_list& headers) {
  std::string req = fmt::format("{} {} HTTP/1.1\r\nHost: test\r\n", method, target);
  for (auto& [k, v] : headers) req += fmt::format("{}: {}\r\n", k, v);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    req += fmt::format("Content-Length: {}\r\n", body.size());
  req += "\r\n";
  req += body;
  auto rs = raw(req, 1, {method == "HEAD"});
  if (rs.empty()) throw std::runtime_error("testing::client: the server closed the connection without a response");
  return rs.front();
}

response client::get(std::string_view t, const header_list& h) { return request("GET", t, {}, h); }
response client::head(std::string_view t, const header_list& h) { return request("HEAD", t, {}, h); }
response client::del(std::string_view t, const header_list& h) { return request("DELETE", t, {}, h); }
response client::options(std::string_view t, const header_list& h) { return request("OPTIONS", t, {}, h); }
response client::post(std::string_view t, std::string_view b, const header_list& h) { return request("POST", t, b, h); }
response client::put(std::string_view t, std::string_view b, const header_list& h) { return request("PUT", t, b, h); }
response client::patch(std::string_view t, std::string_view b, const header_list& h) { return request("PATCH", t, b, h); }

std::optional<std::string> response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::size_t response::header_count(std::string_view name) const {
  std::size_t n = 0;
  for (auto& [k, v] : headers) n += iequals(k, name);
  return n;
}

std::vector<response> parse_responses(std::string_view bytes, const std::vector<bool>& heads) {
  std::vector<response> out;
  std::size_t final_index = 0;
  while (!bytes.empty()) {
    std::size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) break;
    std::string_view head = bytes.substr(0, end);
    response r;
    std::size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    if (line.size() < 12 || line.substr(0, 5) != "HTTP/") break;
    std::from_chars(line.data() + 9, line.data() + 12, r.status);
    if (line.size() > 13) r.reason = std::string(line.substr(13));
    std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    std::size_t content_length = 0;
    while (!rest.empty()) {
      std::size_t e = rest.find("\r\n");
      std::string_view h = rest.substr(0, e);
      rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
      std::size_t colon = h.find(':');
      std::string_view name = h.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? std::string_view() : h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers.emplace_back(std::string(name), std::string(value));
      if (iequals(name, "content-length")) std::from_chars(value.data(), value.data() + value.size(), content_length);
    }
    std::size_t body_start = end + 4;
    bool is_head = r.status >= 200 && final_index < heads.size() && heads[final_index];
    bool bodyless = r.status < 200 || r.status == 204 || r.status == 304 || is_head;
    std::size_t body_len = bodyless ? 0 : content_length;
    if (bytes.size() < body_start + body_len) break;
    r.body = std::string(bytes.substr(body_start, body_len));
    bytes.remove_prefix(body_start + body_len);
    if (r.status >= 200) ++final_index;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace fastjson::testing
