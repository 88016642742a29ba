#pragma once
// A TCP connection: a libuv stream wired to an HTTP session.

#include <uv.h>

#include "http/session.h"
#include "net/loop_impl.h"

namespace fastjson::detail {

class worker;

class connection final : public session {
 public:
  connection(loop_impl& l, worker& w);
  ~connection() override;

  /// Accepts from `server` and starts reading; false (and the connection
  /// deletes itself) on failure.
  bool accept(uv_stream_t* server);
  /// Closes now, dropping any unsent output.
  void close_now();

  buffer& output() override;
  void flush() override;
  void close_after_flush(bool lingering) override;
  void set_wait_state(wait_state s) override;
  void pause_reading() override;
  void resume_reading() override;
  std::string_view date_line() override;
  std::string_view peer_address() override;

  static connection* from_node(deadline_node* n);
  void on_timeout();

  connection* prev_conn = nullptr;  // the worker's list of connections
  connection* next_conn = nullptr;

 private:
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write_cb(uv_write_t* req, int status);
  static void on_close_cb(uv_handle_t* h);
  void start_write();
  void update_reading();
  void finish_close();

  uv_tcp_t tcp_{};
  uv_write_t wreq_{};
  uv_shutdown_t sreq_{};
  loop_impl& loop_;
  worker& worker_;
  buffer writing_;   // owned by the uv_write in flight
  buffer pending_;   // output produced while a write is in flight
  deadline_node timer_;
  wait_state wait_ = wait_state::none;
  char peer_[48]{};
  std::uint8_t peer_len_ = 0;
  bool write_in_flight_ = false;
  bool close_requested_ = false;
  bool lingering_ = false;
  bool linger_started_ = false;
  bool closed_ = false;
  bool paused_by_session_ = false;
  bool paused_by_write_ = false;
  bool reading_ = false;
};

}  // namespace fastjson::detail
