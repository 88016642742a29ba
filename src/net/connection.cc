// TCP connections: reading into the loop's shared buffer, one write per
// batch (uv_try_write first), backpressure, timeouts, lingering close.

#include "net/connection.h"

#include <cstddef>
#include <cstring>

#include "app_core.h"
#include "net/worker.h"

namespace fastjson::detail {

connection::connection(loop_impl& l, worker& w) : session(w.app(), l.handle, l.pool), loop_(l), worker_(w) {
  uv_tcp_init(&l.uv, &tcp_);
  tcp_.data = this;
}

connection::~connection() {
  if (loop_.scratch_owner == this) {
    loop_.scratch_owner = nullptr;
    loop_.out_scratch.clear();
  }
}

connection* connection::from_node(deadline_node* n) {
  return reinterpret_cast<connection*>(reinterpret_cast<char*>(n) - offsetof(connection, timer_));
}

bool connection::accept(uv_stream_t* server) {
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    close_now();
    return false;
  }
  uv_tcp_nodelay(&tcp_, 1);
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET)
      uv_ip4_name(reinterpret_cast<sockaddr_in*>(&ss), peer_, sizeof peer_);
    else
      uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&ss), peer_, sizeof peer_);
    peer_len_ = static_cast<std::uint8_t>(std::strlen(peer_));
  }
  reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read_cb);
  set_wait_state(wait_state::idle);
  return true;
}

void connection::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  auto* c = static_cast<connection*>(h->data);
  std::size_t cap = 0;
  if (char* p = c->partial_space(c->loop_.read_cap, cap)) {
    *buf = uv_buf_init(p, static_cast<unsigned>(cap));
  } else {
    *buf = uv_buf_init(c->loop_.read_buf.get(), static_cast<unsigned>(c->loop_.read_cap));
  }
}

void connection::on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<connection*>(s->data);
  if (nread > 0) {
    if (c->linger_started_) return;  // draining after an error response
    // Padding after the data is readable (both buffers reserve it); the
    // JSON reader may look at it, never at anything beyond.
    c->on_read(buf->base, static_cast<std::size_t>(nread));
    return;
  }
  if (nread == 0) return;  // EAGAIN
  // EOF or error: the peer is gone (or half-closed; we answer nothing more
  // to a client that will not read a response it did not wait for).
  if (c->linger_started_ || nread != UV_EOF || c->inflight() == 0) {
    c->on_peer_gone();
    c->close_now();
    return;
  }
  // Half-close with requests in flight: finish them, then close.
  uv_read_stop(s);
  c->reading_ = false;
  c->close_after_flush(false);
}

buffer& connection::output() {
  if (!write_in_flight_ && pending_.empty() &&
      (loop_.scratch_owner == nullptr || loop_.scratch_owner == this)) {
    loop_.scratch_owner = this;
    return loop_.out_scratch;
  }
  return pending_;
}

void connection::flush() {
  if (closed_) return;
  if (loop_.scratch_owner == this) {
    buffer& out = loop_.out_scratch;
    loop_.scratch_owner = nullptr;
    if (!out.empty()) {
      uv_buf_t b = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
      int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
      std::size_t written = n > 0 ? static_cast<std::size_t>(n) : 0;
      if (n < 0 && n != UV_EAGAIN) {
        out.clear();
        on_peer_gone();
        close_now();
        return;
      }
      if (written < out.size()) pending_.append(out.data() + written, out.size() - written);
      out.clear();
    }
  }
  if (!write_in_flight_ && !pending_.empty()) start_write();
  if (!write_in_flight_ && pending_.empty() && close_requested_ && inflight() == 0) finish_close();
  update_reading();
}

void connection::start_write() {
  std::swap(writing_, pending_);
  write_in_flight_ = true;
  wreq_.data = this;
  uv_buf_t b = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  if (uv_write(&wreq_, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, on_write_cb) != 0) {
    write_in_flight_ = false;
    on_peer_gone();
    close_now();
  }
}

void connection::on_write_cb(uv_write_t* req, int status) {
  auto* c = static_cast<connection*>(req->data);
  c->write_in_flight_ = false;
  if (c->closed_) return;
  // Give back big buffers once a slow client has caught up.
  if (c->writing_.capacity() > (256u << 10))
    c->writing_.release();
  else
    c->writing_.clear();
  if (status < 0) {
    c->on_peer_gone();
    c->close_now();
    return;
  }
  c->flush();
}

void connection::update_reading() {
  if (closed_ || linger_started_) return;
  std::size_t queued = pending_.size() + (write_in_flight_ ? writing_.size() : 0);
  paused_by_write_ = queued > worker_.app().cfg.write_high_water;
  bool want = !paused_by_session_ && !paused_by_write_ && !close_requested_;
  if (want && !reading_) {
    reading_ = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read_cb);
  } else if (!want && reading_) {
    reading_ = false;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
}

void connection::pause_reading() {
  paused_by_session_ = true;
  update_reading();
}

void connection::resume_reading() {
  paused_by_session_ = false;
  update_reading();
}

void connection::close_after_flush(bool lingering) {
  close_requested_ = true;
  lingering_ = lingering_ || lingering;
  if (!write_in_flight_ && pending_.empty() && loop_.scratch_owner != this && inflight() == 0) finish_close();
}

void connection::finish_close() {
  if (closed_ || linger_started_) return;
  if (!lingering_) {
    on_peer_gone();
    close_now();
    return;
  }
  // Lingering close: send FIN after the response, keep reading (and
  // discarding) briefly so unread request bytes do not turn into a reset
  // that destroys the response before the client reads it.
  linger_started_ = true;
  on_peer_gone();
  set_wait_state(wait_state::none);
  if (timer_.list >= 0) loop_.lists[timer_.list].remove(&timer_);
  loop_.lists[loop_impl::list_linger].push(&timer_, loop_impl::list_linger, uv_now(&loop_.uv));
  sreq_.data = this;
  if (uv_shutdown(&sreq_, reinterpret_cast<uv_stream_t*>(&tcp_), [](uv_shutdown_t*, int) {}) != 0) {
    close_now();
    return;
  }
  if (!reading_) {
    reading_ = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read_cb);
  }
}

void connection::close_now() {
  if (closed_) return;
  closed_ = true;
  detach_all();
  if (timer_.list >= 0) loop_.lists[timer_.list].remove(&timer_);
  worker_.unlink(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close_cb);
}

void connection::on_close_cb(uv_handle_t* h) {
  auto* c = static_cast<connection*>(h->data);
  c->worker_.on_connection_closed();
  delete c;
}

void connection::set_wait_state(wait_state s) {
  if (closed_ || linger_started_ || s == wait_) return;
  wait_ = s;
  if (timer_.list >= 0) loop_.lists[timer_.list].remove(&timer_);
  int id = -1;
  switch (s) {
    case wait_state::idle: id = loop_impl::list_idle; break;
    case wait_state::header: id = loop_impl::list_header; break;
    case wait_state::body: id = loop_impl::list_body; break;
    case wait_state::none: break;
  }
  if (id >= 0) loop_.lists[id].push(&timer_, id, uv_now(&loop_.uv));
}

void connection::on_timeout() {
  // Header/body/idle timeouts and the end of a lingering close all end the
  // connection; nothing is owed to a client that stalled.
  on_peer_gone();
  close_now();
}

std::string_view connection::date_line() { return {loop_.date, loop_.date_len}; }

std::string_view connection::peer_address() { return {peer_, peer_len_}; }

}  // namespace fastjson::detail
