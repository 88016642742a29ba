// mw::access_log, mw::request_id, mw::recover.

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

#include "fastjson/loop.h"
#include "fastjson/mw/builtin.h"

namespace fastjson::mw {
namespace {

std::uint64_t mono_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Appends `v` with every byte outside printable ASCII, and space, '"' and
// '\\', written as \\xHH (nginx's escape=default, plus space so that fields
// split on spaces): a request can never add a line or a terminal escape to
// the log, one request is one line.
void append_escaped(fmt::memory_buffer& out, std::string_view v) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::size_t plain = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c > 0x20 && c < 0x7f && c != '"' && c != '\\') continue;
    out.append(v.data() + plain, v.data() + i);
    const char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
    out.append(esc, esc + 4);
    plain = i + 1;
  }
  out.append(v.data() + plain, v.data() + v.size());
}

class access_log_mw final : public middleware_with_state<std::uint64_t> {
 public:
  explicit access_log_mw(std::FILE* out) : out_(out) {}

  bool before(request&, response&, std::uint64_t& t0) override {
    t0 = mono_ns();
    return true;
  }
  void after(request& req, response& res, std::uint64_t& t0) override {
    // Each worker collects lines in its own buffer; one write per batch.
    thread_local batch b;
    std::uint64_t now = mono_ns();
    fastjson::loop* l = &req.loop();
    if (b.out != out_ || b.loop != l) {
      // Another log (another file) or another loop used this thread's batch
      // last: its lines go to its own file now, and its timer may be gone
      // (a loop cancels its timers when it stops).
      b.write();
      b.out = out_;
      b.loop = l;
      b.scheduled = false;
    }
    // A flush timer that never fired belonged to a loop that stopped.
    if (b.scheduled && now - b.scheduled_ns > 1'000'000'000) b.scheduled = false;
    std::uint64_t us = (now - t0) / 1000;
    append_escaped(b.text, req.method_name());
    b.text.push_back(' ');
    append_escaped(b.text, req.path());
    fmt::format_to(std::back_inserter(b.text), " {} {} {}us", res.status(), res.body_size(), us);
    if (!req.id().empty()) {
      b.text.push_back(' ');
      append_escaped(b.text, req.id());
    }
    b.text.push_back('\n');
    if (b.text.size() > 16 * 1024) {
      b.write();
    } else if (!b.scheduled) {
      b.scheduled = true;
      b.scheduled_ns = now;
      l->set_timeout(std::chrono::milliseconds(50), [] {
        b.scheduled = false;
        b.write();
      });
    }
  }

 private:
  struct batch {
    fmt::memory_buffer text;
    std::FILE* out = nullptr;  // the file the collected lines belong to
    fastjson::loop* loop = nullptr;
    bool scheduled = false;
    std::uint64_t scheduled_ns = 0;
    void write() {
      if (text.size() == 0 || !out) return;
      std::fwrite(text.data(), 1, text.size(), out);
      std::fflush(out);
      text.clear();
    }
    ~batch() { write(); }
  };
  std::FILE* out_;
};

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return false;
  return true;
}

class request_id_mw final : public middleware {
 public:
  bool before(request& req, response& res, void*) override {
    auto incoming = req.header("x-request-id");
    if (incoming && valid_request_id(*incoming)) {
      req.set_id(*incoming);
    } else {
      // 64 random bits per worker, then a counter: unique and cheap.
      thread_local std::uint64_t seed = std::random_device{}() * 0x9E3779B97F4A7C15ull ^ std::random_device{}();
      thread_local std::uint64_t counter = 0;
      char buf[33];
      auto r = fmt::format_to_n(buf, sizeof buf, "{:016x}{:08x}", seed, ++counter & 0xffffffffu);
      req.set_id(std::string_view(buf, r.size));
    }
    res.header("X-Request-Id", req.id());
    return true;
  }
};

class recover_mw final : public middleware {
 public:
  bool before(request&, response&, void*) override { return true; }
  void after(request& req, response& res, void*) override {
    if (!res.error()) return;
    std::string what = "non-standard exception";
    try {
      std::rethrow_exception(res.error());
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "fastjson: request %.*s %.*s %.*s failed: %s (answered 500)\n",
                 static_cast<int>(req.id().size()), req.id().data(), static_cast<int>(req.method_name().size()),
                 req.method_name().data(), static_cast<int>(req.target().size()), req.target().data(), what.c_str());
    res.set_error(nullptr);
  }
};

}  // namespace

middleware_ptr access_log(std::FILE* out) { return std::make_shared<access_log_mw>(out); }
middleware_ptr request_id() { return std::make_shared<request_id_mw>(); }
middleware_ptr recover() { return std::make_shared<recover_mw>(); }

}  // namespace fastjson::mw
