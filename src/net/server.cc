// app::run: listening sockets, worker threads, signals, graceful shutdown.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "app_core.h"
#include "net/worker.h"

namespace fastjson {
namespace detail {
namespace {

// Creates a listening socket with SO_REUSEPORT set before bind, so every
// worker gets its own accept queue and the kernel spreads connections.
int make_listener(const std::string& host, std::uint16_t port, std::uint16_t* bound_port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (host.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) != 1)
      throw std::runtime_error(fmt::format("--host '{}' is not an IP address", host));
    len = sizeof(sockaddr_in6);
    family = AF_INET6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    std::string h = host == "localhost" ? "127.0.0.1" : host;
    if (inet_pton(AF_INET, h.c_str(), &a4->sin_addr) != 1)
      throw std::runtime_error(fmt::format("--host '{}' is not an IPv4 address", host));
    len = sizeof(sockaddr_in);
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("socket(): {}", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    ::close(fd);
    throw std::runtime_error(fmt::format("SO_REUSEPORT: {}", std::strerror(errno)));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("bind {}:{}: {}", host, port, std::strerror(e)));
  }
  if (::listen(fd, 4096) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("listen: {}", std::strerror(e)));
  }
  sockaddr_storage got{};
  socklen_t gl = sizeof got;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &gl);
  *bound_port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);
  return fd;
}

struct server {
  uv_loop_t main{};
  uv_async_t wake{};
  uv_signal_t sigint{}, sigterm{};
  std::vector<std::unique_ptr<worker>> workers;
  std::atomic<std::size_t> open{0};
  std::atomic<std::size_t> exited{0};
  std::atomic<bool> stop_requested{false};
  int signals_seen = 0;
  bool draining = false;
  std::uint32_t shutdown_ms = 10000;

  void begin_drain() {
    if (draining) return;
    draining = true;
    for (auto& w : workers) w->shutdown(shutdown_ms);
  }
};

}  // namespace
}  // namespace detail

int app::run(const fastjson::config& cfg) {
  using namespace detail;
  try {
    cfg.validate();
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "fastjson: %s\n", e.what());
    return 2;
  }
  core_->cfg = cfg;
  core_->freeze();
  unsigned n = cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  ::signal(SIGPIPE, SIG_IGN);

  server srv;
  srv.shutdown_ms = cfg.shutdown_timeout_ms;
  std::vector<int> fds;
  std::uint16_t port = cfg.port;
  try {
    for (unsigned i = 0; i < n; ++i) {
      std::uint16_t bound = 0;
      fds.push_back(make_listener(cfg.host, port, &bound));
      port = bound;  // --port 0: the first socket picks, the others share it
    }
  } catch (const std::exception& e) {
    for (int fd : fds) ::close(fd);
    std::fprintf(stderr, "fastjson: %s\n", e.what());
    return 1;
  }

  uv_loop_init(&srv.main);
  srv.main.data = &srv;
  uv_async_init(&srv.main, &srv.wake, [](uv_async_t* a) {
    auto* s = static_cast<server*>(a->loop->data);
    if (s->stop_requested.load()) s->begin_drain();
    if (s->exited.load() == s->workers.size()) uv_stop(a->loop);
  });
  auto on_signal = [](uv_signal_t* h, int signum) {
    auto* s = static_cast<server*>(h->loop->data);
    if (++s->signals_seen >= 2) {
      std::fprintf(stderr, "fastjson: second signal (%d), exiting now\n", signum);
      std::_Exit(1);
    }
    std::fprintf(stderr, "fastjson: signal %d, draining (up to %u ms)\n", signum, s->shutdown_ms);
    s->begin_drain();
  };
  uv_signal_init(&srv.main, &srv.sigint);
  uv_signal_init(&srv.main, &srv.sigterm);
  uv_signal_start(&srv.sigint, on_signal, SIGINT);
  uv_signal_start(&srv.sigterm, on_signal, SIGTERM);

  for (unsigned i = 0; i < n; ++i)
    srv.workers.push_back(std::make_unique<worker>(*core_, i, fds[i], srv.open, [&srv] {
      srv.exited.fetch_add(1);
      uv_async_send(&srv.wake);
    }));
  core_->running_server = &srv;
  core_->bound_port = port;
  if (core_->stop_requested.exchange(false)) srv.stop_requested = true;
  std::vector<std::thread> threads;
  for (auto& w : srv.workers) threads.emplace_back([&w] { w->run(); });

  std::printf("listening on http://%s:%u\n",
              cfg.host.find(':') != std::string::npos ? fmt::format("[{}]", cfg.host).c_str() : cfg.host.c_str(),
              port);
  std::fflush(stdout);

  if (srv.stop_requested) uv_async_send(&srv.wake);
  uv_run(&srv.main, UV_RUN_DEFAULT);
  for (auto& t : threads) t.join();
  core_->running_server = nullptr;
  core_->bound_port = 0;
  uv_walk(&srv.main, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); }, nullptr);
  uv_run(&srv.main, UV_RUN_DEFAULT);
  uv_loop_close(&srv.main);
  srv.workers.clear();
  return 0;
}

std::uint16_t app::port() const noexcept { return core_->bound_port.load(); }

void app::stop() {
  auto* srv = static_cast<detail::server*>(core_->running_server.load());
  if (!srv) {
    core_->stop_requested = true;
    return;
  }
  srv->stop_requested = true;
  uv_async_send(&srv->wake);
}

}  // namespace fastjson
