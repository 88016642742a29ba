// mw::body_limit, mw::timeout, mw::rate_limit.

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <string>
#include <unordered_map>

#include "app_core.h"
#include "fastjson/mw/builtin.h"
#include "http/slot.h"
#include "net/loop_impl.h"

namespace fastjson::mw {
namespace {

class body_limit_mw final : public middleware {
 public:
  explicit body_limit_mw(std::size_t n) : max_(n) {}
  bool before(request& req, response& res, void*) override {
    if (req.body().size() <= max_) return true;
    res.problem(413, fmt::format("the request body is larger than this route accepts ({} bytes)", max_));
    res.close_connection();
    return false;
  }

 private:
  std::size_t max_;
};

struct timeout_state {
  detail::deadline_node node;
  detail::request_slot* slot = nullptr;
  int status = 504;
};

class timeout_mw final : public middleware_with_state<timeout_state> {
 public:
  timeout_mw(std::chrono::milliseconds limit, int status) : limit_(limit), status_(status) {}

  bool before(request& req, response&, timeout_state& st) override {
    auto& l = req.loop().impl();
    st.slot = &req.slot();
    st.status = status_;
    st.node.fire = &fire;
    int id = l.list_for(static_cast<std::uint64_t>(limit_.count()));
    l.lists[static_cast<std::size_t>(id)].push(&st.node, id, uv_now(&l.uv));
    return true;
  }
  void after(request& req, response&, timeout_state& st) override {
    if (st.node.list >= 0) req.loop().impl().lists[static_cast<std::size_t>(st.node.list)].remove(&st.node);
  }

 private:
  static void fire(detail::deadline_node* n) {
    auto* st = reinterpret_cast<timeout_state*>(reinterpret_cast<char*>(n) - offsetof(timeout_state, node));
    detail::request_slot& slot = *st->slot;
    if (slot.finished || !slot.handler_running) return;
    slot.res.reset();  // the handler is still running: nothing it set goes out
    detail::write_problem(slot.res, st->status,
                          st->status == 503 ? "the server could not answer in time" : "the handler timed out", {});
    // Answer now (running the `after`s, which destroy this state); the
    // handler's own result will be discarded when it finishes.
    slot.route_core->finish(slot);
  }

  std::chrono::milliseconds limit_;
  int status_;
};

class rate_limit_mw final : public middleware {
 public:
  explicit rate_limit_mw(rate_limit_options o) : opts_(o), self_id_(this) {}
  bool before(request& req, response& res, void*) override {
    struct bucket {
      double tokens;
      std::uint64_t last_ms;
    };
    // Buckets live per worker thread: no lock on the request path.
    thread_local std::unordered_map<std::string, bucket> buckets;
    std::uint64_t now = req.loop().now_ms();
    std::string_view addr = req.client_address();
    thread_local std::string key;
    // One bucket per (middleware instance, client): routes keep separate limits.
    key.assign(reinterpret_cast<const char*>(&self_id_), sizeof self_id_);
    key.append(addr.data(), addr.size());
    auto it = buckets.find(key);
    if (it == buckets.end()) {
      if (buckets.size() >= opts_.max_clients) {
        // Forget clients whose buckets have refilled: they are at rest.
        for (auto i = buckets.begin(); i != buckets.end();)
          i = (now - i->second.last_ms) / 1000.0 * opts_.per_second >= opts_.burst ? buckets.erase(i) : std::next(i);
        if (buckets.size() >= opts_.max_clients) buckets.clear();
      }
      it = buckets.emplace(key, bucket{opts_.burst, now}).first;
    }
    bucket& b = it->second;
    b.tokens = std::min(opts_.burst, b.tokens + static_cast<double>(now - b.last_ms) / 1000.0 * opts_.per_second);
    b.last_ms = now;
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return true;
    }
    double wait_s = (1.0 - b.tokens) / opts_.per_second;
    res.problem(429, "too many requests from this client; retry later");
    res.header("Retry-After", std::to_string(static_cast<long>(std::ceil(wait_s))));
    return false;
  }

 private:
  rate_limit_options opts_;
  const void* self_id_;
};

}  // namespace

middleware_ptr body_limit(std::size_t max_bytes) { return std::make_shared<body_limit_mw>(max_bytes); }
middleware_ptr timeout(std::chrono::milliseconds limit, int status) {
  return std::make_shared<timeout_mw>(limit, status);
}
middleware_ptr rate_limit(rate_limit_options opts) { return std::make_shared<rate_limit_mw>(opts); }

}  // namespace fastjson::mw
