#pragma once
// An HTTP/1.1 session: the transport-independent half of a connection.
//
// It feeds bytes to llhttp, enforces the strictness rules and limits,
// dispatches complete requests through the app, keeps responses in request
// order (pipelining), and appends them to an output buffer. The transport
// (a libuv TCP connection in net/, or the in-process testing client)
// supplies bytes, flushes output and runs timers. This is the only file
// pair that knows llhttp.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "fastjson/buffer.h"

namespace fastjson {
class loop;
}

namespace fastjson::detail {

class app_core;
struct request_slot;
class slot_pool;

/// Which timeout applies to a connection now.
enum class wait_state : std::uint8_t { none, idle, header, body };

class session {
 public:
  session(app_core& app, fastjson::loop& loop, slot_pool& pool);
  virtual ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Feeds newly read bytes. `data` must be followed by request::body_padding
  /// readable bytes. When `data` is not the session's own pending buffer the
  /// bytes are only borrowed for the duration of the call.
  void on_read(const char* data, std::size_t len);
  /// Where the transport should read into when this session holds a partial
  /// request (nullptr otherwise: use a shared buffer): `cap` bytes are free.
  char* partial_space(std::size_t want, std::size_t& cap);
  /// The peer closed its side (EOF) or the connection broke.
  void on_peer_gone();
  /// Graceful shutdown: close once idle; answer in-flight requests with
  /// Connection: close.
  void begin_shutdown();
  /// A request finished (possibly long after on_read returned).
  void on_slot_complete(request_slot& slot);

  bool has_partial() const noexcept { return !partial_.empty(); }
  bool idle() const noexcept { return inflight_ == 0 && partial_.empty() && !in_message_; }
  std::size_t inflight() const noexcept { return inflight_; }
  fastjson::loop& get_loop() noexcept { return loop_; }
  /// Makes the session forget its transport: in-flight handlers finish,
  /// their responses are dropped, their slots return to the pool.
  void detach_all() noexcept;

  // Transport hooks -----------------------------------------------------
  /// Buffer to append responses to (flushed by flush()).
  virtual buffer& output() = 0;
  /// Writes whatever output() holds.
  virtual void flush() = 0;
  /// Closes after pending output is written; `lingering` = shut down the
  /// write side and drain input briefly so the peer sees the response.
  virtual void close_after_flush(bool lingering) = 0;
  virtual void set_wait_state(wait_state s) = 0;
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  /// "Date: ...\r\n" for now.
  virtual std::string_view date_line() = 0;
  virtual std::string_view peer_address() = 0;

 protected:
  friend struct callbacks;

 public:
  struct parser_state;

 protected:
  void write_ready_responses();
  void resume_if_room();
  void finalize(request_slot& slot);
  void fail(int status, std::string_view detail);
  void update_wait_state();
  void parse(const char* data, std::size_t len, bool own);
  void dispatch_current();
  void pin(request_slot& slot);

  app_core& app_;
  fastjson::loop& loop_;
  slot_pool& pool_;
  std::unique_ptr<parser_state> ps_;
  buffer partial_;                   // bytes of an incomplete request (or unparsed pipeline tail)
  std::size_t need_bytes_ = 0;       // don't re-parse the partial request before this many bytes
  request_slot* current_ = nullptr;  // the request being parsed
  request_slot* head_ = nullptr;     // in-flight requests, oldest first
  request_slot* tail_ = nullptr;
  std::size_t inflight_ = 0;
  bool in_message_ = false;
  bool in_batch_ = false;
  bool closing_ = false;  // no more requests will be read
  bool shutting_down_ = false;
  bool continue_sent_ = false;
  bool paused_ = false;
  bool detached_ = false;
};

/// Per-loop pool of request slots.
class slot_pool {
 public:
  slot_pool(app_core& app, fastjson::loop& loop);
  ~slot_pool();
  /// Destroys every slot, with the frames of handlers that never finished.
  /// Called by the loop's destructor while cross-thread posts are still
  /// safe (dropped); the destructor calls it again (a no-op).
  void clear() noexcept;
  request_slot* acquire();
  void release(request_slot* s) noexcept;

 private:
  app_core& app_;
  fastjson::loop& loop_;
  request_slot* free_ = nullptr;
  std::vector<request_slot*> all_;  // every slot made (grows only; freed with the pool)
};

}  // namespace fastjson::detail
