// Workers: accepting, the connection limit, graceful shutdown.

#include "net/worker.h"

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

#include "app_core.h"
#include "net/connection.h"

namespace fastjson::detail {

namespace {
// Sent to a connection beyond --max-connections before closing it.
const std::string& overload_response() {
  static const std::string r = [] {
    std::string body =
        R"({"type":"about:blank","title":"Service Unavailable","status":503,"detail":"too many open connections"})";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
           "Connection: close\r\nRetry-After: 1\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return r;
}
}  // namespace

worker::worker(app_core& app, unsigned index, int listen_fd, std::atomic<std::size_t>& open_connections,
               std::function<void()> on_exit)
    : app_(app),
      index_(index),
      loop_(app),
      fd_(listen_fd),
      open_(open_connections),
      on_exit_(std::move(on_exit)) {
  loop_.on_expire = [](deadline_node* n) { connection::from_node(n)->on_timeout(); };
}

worker::~worker() = default;

void worker::run() {
  uv_tcp_init(&loop_.uv, &listener_);
  listener_.data = this;
  if (uv_tcp_open(&listener_, fd_) != 0 || uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 1024, on_connection) != 0) {
    std::fprintf(stderr, "fastjson: worker could not listen\n");
  }
  uv_timer_init(&loop_.uv, &deadline_);
  deadline_.data = this;
  // app::on_loop_start hooks: on this thread, with loop::current() set,
  // before the loop runs (so before any accept is handled).
  {
    current_scope scope(loop_);
    for (auto& hook : app_.loop_start_hooks) {
      try {
        hook(loop_.handle, index_);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "fastjson: an on_loop_start hook threw: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "fastjson: an on_loop_start hook threw\n");
      }
    }
  }
  loop_.run();
  // Stopped: close whatever is left (force) and let handles finish closing.
  force_close_all();
  loop_.close_all();
  if (on_exit_) on_exit_();
}

void worker::on_connection(uv_stream_t* server, int status) {
  auto* w = static_cast<worker*>(server->data);
  if (status < 0 || w->stopping_) return;
  auto* c = new connection(w->loop_, *w);
  std::size_t open = w->open_.fetch_add(1, std::memory_order_relaxed) + 1;
  c->next_conn = w->conns_;
  if (w->conns_) w->conns_->prev_conn = c;
  w->conns_ = c;
  ++w->count_;
  if (!c->accept(server)) return;
  if (open > w->app_.cfg.max_connections) {
    // Over the limit: answer 503 and close, rather than run out of fds.
    c->output().append(overload_response());
    c->begin_shutdown();
    c->close_after_flush(true);
    c->flush();
  }
}

void worker::unlink(connection* c) noexcept {
  if (c->prev_conn)
    c->prev_conn->next_conn = c->next_conn;
  else if (conns_ == c)
    conns_ = c->next_conn;
  if (c->next_conn) c->next_conn->prev_conn = c->prev_conn;
  c->prev_conn = c->next_conn = nullptr;
}

void worker::on_connection_closed() noexcept {
  open_.fetch_sub(1, std::memory_order_relaxed);
  --count_;
  maybe_finish();
}

void worker::shutdown(std::uint64_t deadline_ms) {
  loop_.post([this, deadline_ms] {
    if (stopping_) return;
    stopping_ = true;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&listener_)))
      uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    for (connection* c = conns_; c;) {
      connection* next = c->next_conn;
      c->begin_shutdown();
      c = next;
    }
    uv_timer_start(
        &deadline_,
        [](uv_timer_t* t) {
          auto* self = static_cast<worker*>(t->data);
          self->force_close_all();
          self->finished_ = true;
          uv_stop(&self->loop_.uv);
        },
        deadline_ms, 0);
    maybe_finish();
  });
}

void worker::force_close_all() {
  for (connection* c = conns_; c;) {
    connection* next = c->next_conn;
    c->on_peer_gone();
    c->close_now();
    c = next;
  }
}

void worker::maybe_finish() {
  if (!stopping_ || finished_ || count_ > 0) return;
  finished_ = true;
  uv_timer_stop(&deadline_);
  uv_stop(&loop_.uv);
}

}  // namespace fastjson::detail
