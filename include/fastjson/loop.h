#pragma once
/// \file loop.h
/// A worker's event loop, as seen by user code.
///
/// Every worker thread runs one loop; a connection, its requests and the
/// coroutines of its handlers live on one loop for their whole life. User
/// code reaches its loop with `request::loop()` or `fastjson::loop::current()`
/// and uses it to hop back onto the loop thread from elsewhere (`post`) or to
/// wait (`fastjson::sleep`). The libuv loop itself stays private.

#include <chrono>
#include <cstdint>
#include <functional>

namespace fastjson {

namespace detail {
struct loop_impl;
}

class loop {
 public:
  /// The loop running on the calling thread, or nullptr on a thread that
  /// runs no fastjson loop.
  static loop* current() noexcept;

  /// Runs `fn` on this loop's thread, soon. Thread-safe; the only way other
  /// threads hand work to a loop. Callbacks run in the order posted.
  void post(std::function<void()> fn);

  /// Runs `fn` once, `delay` from now, on this loop's thread. Loop thread
  /// only. Timers are cancelled (never run) if the loop stops first. The
  /// clock has millisecond resolution: a timer fires after at least
  /// `delay` - 1 ms of wall time.
  void set_timeout(std::chrono::milliseconds delay, std::function<void()> fn);

  /// Milliseconds of the loop's cached clock (monotonic; updated once per
  /// loop iteration).
  std::uint64_t now_ms() const noexcept;

  detail::loop_impl& impl() noexcept { return *impl_; }

  explicit loop(detail::loop_impl* impl) noexcept : impl_(impl) {}

 private:
  detail::loop_impl* impl_;
};

}  // namespace fastjson
