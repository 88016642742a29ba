#pragma once
// A worker: one thread, one loop, one SO_REUSEPORT listening socket, and
// the connections accepted on it.

#include <uv.h>

#include <atomic>
#include <functional>

#include "net/loop_impl.h"

namespace fastjson::detail {

class app_core;
class connection;

class worker {
 public:
  worker(app_core& app, unsigned index, int listen_fd, std::atomic<std::size_t>& open_connections,
         std::function<void()> on_exit);
  ~worker();

  /// Thread body: listens and serves until shut down.
  void run();
  /// Graceful shutdown (thread-safe): stop accepting, close idle
  /// connections, let in-flight requests finish until `deadline_ms`.
  void shutdown(std::uint64_t deadline_ms);

  app_core& app() noexcept { return app_; }
  void unlink(connection* c) noexcept;
  void on_connection_closed() noexcept;

 private:
  static void on_connection(uv_stream_t* server, int status);
  void maybe_finish();
  void force_close_all();

  app_core& app_;
  unsigned index_;  // 0 .. threads-1 (app::on_loop_start)
  loop_impl loop_;
  int fd_;
  uv_tcp_t listener_{};
  uv_timer_t deadline_{};
  std::atomic<std::size_t>& open_;
  std::function<void()> on_exit_;
  connection* conns_ = nullptr;
  std::size_t count_ = 0;
  bool stopping_ = false;
  bool finished_ = false;
};

}  // namespace fastjson::detail
