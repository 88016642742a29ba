#pragma once
// Blocking loopback sockets for integration tests (127.0.0.1 only, every
// call bounded by a timeout).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "fastjson/app.h"

namespace test_net {

inline int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// Reads until the peer closes or `timeout` passes; `closed` tells which.
inline std::string read_until_close(int fd, std::chrono::milliseconds timeout, bool* closed = nullptr) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (closed) *closed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      if (closed) *closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

/// Non-overlapping occurrences of `needle` in `s`.
inline std::size_t count_of(std::string_view s, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = s.find(needle); at != std::string_view::npos; at = s.find(needle, at + needle.size())) ++n;
  return n;
}

/// Reads until `out` holds `needle` `count` times (or the timeout / a close):
/// with count > 1, e.g. the ends of that many pipelined response heads.
inline std::string read_until(int fd, std::string_view needle, std::chrono::milliseconds timeout,
                              std::size_t count = 1) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (count == 1 ? out.find(needle) == std::string::npos : count_of(out, needle) < count) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

/// Runs app.run(cfg) on a thread; stops it (gracefully) and joins on scope exit.
class running_app {
 public:
  running_app(fastjson::app& a, fastjson::config cfg) : app_(a) {
    cfg.port = 0;
    cfg.host = "127.0.0.1";
    thread_ = std::thread([this, cfg] { exit_code_ = app_.run(cfg); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (app_.port() == 0) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("server did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    port_ = app_.port();
  }
  ~running_app() { stop(); }
  int stop() {
    if (thread_.joinable()) {
      app_.stop();
      thread_.join();
    }
    return exit_code_;
  }
  std::uint16_t port() const { return port_; }

 private:
  fastjson::app& app_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  int exit_code_ = -1;
};

}  // namespace test_net
