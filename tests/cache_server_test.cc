// examples/cache_server (fastjson-cache) as a black box: the built binary is
// spawned with --port 0, its "listening on" line read from a pipe, and the
// HTTP contract exercised over loopback sockets. Also checks that memory
// stays bounded after writing 4x --max-bytes, and that SIGTERM exits 0.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fastjson/testing.h"
#include "support/net.h"

extern char** environ;

using namespace std::chrono_literals;

namespace {

const char* const cache_binary = FASTJSON_BINARY_DIR "/examples/cache_server/fastjson-cache";

// A spawned fastjson-cache; SIGKILLed on scope exit if still running.
class server_process {
 public:
  explicit server_process(std::vector<std::string> extra, bool wait_listening = true) {
    std::vector<std::string> args = {cache_binary, "--port", "0", "--host", "127.0.0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    int rc = posix_spawn(&pid_, cache_binary, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    out_ = p[0];
    if (rc != 0) {
      pid_ = -1;
      ::close(out_);
      FAIL("posix_spawn " << cache_binary << ": " << std::strerror(rc));
    }
    if (!wait_listening) return;
    // A failed REQUIRE in a constructor skips the destructor: clean up here.
    try {
      read_port();
    } catch (...) {
      cleanup();
      throw;
    }
  }
  ~server_process() { cleanup(); }

  void read_port() {
    // The pipe is not a socket: read(2), not test_net (recv).
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd pf{out_, POLLIN, 0};
      if (::poll(&pf, 1, 100) <= 0) continue;
      char buf[512];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    const std::string prefix = "listening on http://127.0.0.1:";
    auto at = text.find(prefix);
    INFO("server stdout: " << text);
    REQUIRE(at != std::string::npos);
    port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + prefix.size())));
    REQUIRE(port_ != 0);
  }
  void cleanup() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
    }
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  /// Waits up to `timeout` for the process to exit; its exit code, or -1.
  int wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  int terminate() {
    ::kill(pid_, SIGTERM);
    return wait_exit(15s);
  }

  /// VmRSS of the process in bytes.
  std::size_t rss_bytes() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    return 0;
  }

  /// One request on its own connection (Connection: close).
  fastjson::testing::response request(std::string_view method, std::string_view target,
                                      std::string_view body = {},
                                      std::vector<std::string> headers = {}) const {
    std::string req = std::string(method) + " " + std::string(target) +
                      " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n";
    for (auto& h : headers) req += h + "\r\n";
    if (!body.empty() || method == "PUT")
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n";
    req += body;
    int fd = test_net::connect_to(port_);
    REQUIRE(fd >= 0);
    REQUIRE(test_net::send_all(fd, req));
    std::string raw = test_net::read_until_close(fd, 10s);
    ::close(fd);
    auto rs = fastjson::testing::parse_responses(raw, {method == "HEAD"});
    INFO(method << " " << target << " -> " << raw.substr(0, 300));
    REQUIRE(rs.size() == 1);
    return rs[0];
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::uint16_t port_ = 0;
  bool reaped_ = false;
};

// The value of a numeric field of a flat JSON object ("items":3).
long long json_number(const std::string& json, const std::string& name) {
  auto at = json.find("\"" + name + "\":");
  if (at == std::string::npos) return -1;
  return std::stoll(json.substr(at + name.size() + 3));
}

// The keys of a flat JSON object, in order.
std::vector<std::string> json_keys(const std::string& json) {
  std::vector<std::string> keys;
  std::size_t pos = 0;
  bool in_value = false;
  while (pos < json.size()) {
    char c = json[pos];
    if (c == '"') {
      auto end = json.find('"', pos + 1);
      if (!in_value) keys.push_back(json.substr(pos + 1, end - pos - 1));
      pos = end + 1;
      continue;
    }
    if (c == ':') in_value = true;
    if (c == ',' || c == '{') in_value = false;
    ++pos;
  }
  return keys;
}

}  // namespace

TEST_CASE("fastjson-cache: the HTTP contract", "[cache][server]") {
  server_process s({"--threads", "2", "--max-bytes", "4194304", "--max-value-bytes", "100000"});

  // PUT new -> 201, again -> 204; GET returns bytes + content type + ETag.
  REQUIRE(s.request("PUT", "/v1/cache/k1", "hello", {"Content-Type: text/plain"}).status == 201);
  auto g = s.request("GET", "/v1/cache/k1");
  REQUIRE(g.status == 200);
  REQUIRE(g.body == "hello");
  REQUIRE(g.header("content-type") == "text/plain");
  REQUIRE(g.header("etag"));
  std::string binary("\0\x01\xff\r\n", 5);
  REQUIRE(s.request("PUT", "/v1/cache/k1", binary).status == 204);
  g = s.request("GET", "/v1/cache/k1");
  REQUIRE(g.body == binary);
  REQUIRE(g.header("content-type") == "application/octet-stream");
  auto etag = *g.header("etag");

  // If-None-Match -> 304, no body.
  auto nm = s.request("GET", "/v1/cache/k1", {}, {"If-None-Match: " + etag});
  REQUIRE(nm.status == 304);
  REQUIRE(nm.body.empty());
  REQUIRE(s.request("GET", "/v1/cache/k1", {}, {"If-None-Match: \"nope\""}).status == 200);

  // HEAD: headers, no body.
  auto h = s.request("HEAD", "/v1/cache/k1");
  REQUIRE(h.status == 200);
  REQUIRE(h.body.empty());
  REQUIRE(h.header("content-length") == "5");
  REQUIRE(h.header("etag") == etag);
  REQUIRE(s.request("HEAD", "/v1/cache/nokey").status == 404);

  // Missing keys: 404 problem+json.
  auto miss = s.request("GET", "/v1/cache/nokey");
  REQUIRE(miss.status == 404);
  REQUIRE(miss.header("content-type") == "application/problem+json");

  // DELETE: 204, then 404.
  REQUIRE(s.request("DELETE", "/v1/cache/k1").status == 204);
  REQUIRE(s.request("DELETE", "/v1/cache/k1").status == 404);
  REQUIRE(s.request("GET", "/v1/cache/k1").status == 404);

  // Keys: URL-safe text, 1..250 bytes (checked after percent-decoding).
  REQUIRE(s.request("PUT", "/v1/cache/A-z.0_9~", "v").status == 201);
  REQUIRE(s.request("GET", "/v1/cache/A%2Dz.0_9~").status == 200);  // %2D is '-'
  REQUIRE(s.request("PUT", "/v1/cache/" + std::string(250, 'k'), "v").status == 201);
  for (const std::string& bad : std::vector<std::string>{
           "/v1/cache/", "/v1/cache/" + std::string(251, 'k'), "/v1/cache/a%20b", "/v1/cache/a%2Fb",
           "/v1/cache/a/b", "/v1/cache/%C3%A9", "/v1/cache/a:b"}) {
    auto r = s.request("PUT", bad, "v");
    INFO(bad);
    REQUIRE(r.status == 400);
    REQUIRE(r.header("content-type") == "application/problem+json");
    REQUIRE(s.request("GET", bad).status == 400);
  }

  // ttl: non-negative integer, else 400.
  for (const std::string& bad : std::vector<std::string>{"-1", "x", "", "1.5", "1e3"})
    REQUIRE(s.request("PUT", "/v1/cache/t?ttl=" + bad, "v").status == 400);

  // Values above --max-value-bytes: 413 with a problem body.
  REQUIRE(s.request("PUT", "/v1/cache/big", std::string(100000, 'b')).status == 201);
  auto big = s.request("PUT", "/v1/cache/big2", std::string(100001, 'b'));
  REQUIRE(big.status == 413);
  REQUIRE(big.header("content-type") == "application/problem+json");

  // Stats: exactly the documented keys.
  auto st = s.request("GET", "/v1/stats");
  REQUIRE(st.status == 200);
  REQUIRE(st.header("content-type") == "application/json");
  REQUIRE(json_keys(st.body) == std::vector<std::string>{"items", "bytes", "max_bytes", "hits",
                                                         "misses", "evictions", "expired",
                                                         "policy"});
  REQUIRE(json_number(st.body, "max_bytes") == 4194304);
  REQUIRE(json_number(st.body, "items") == 3);
  REQUIRE(json_number(st.body, "hits") >= 4);
  REQUIRE(json_number(st.body, "misses") >= 3);
  REQUIRE(st.body.find(R"("policy":"s3fifo")") != std::string::npos);

  // TTL expiry.
  REQUIRE(s.request("PUT", "/v1/cache/short?ttl=1", "v").status == 201);
  REQUIRE(s.request("PUT", "/v1/cache/long?ttl=100", "v").status == 201);
  REQUIRE(s.request("GET", "/v1/cache/short").status == 200);
  std::this_thread::sleep_for(1200ms);
  REQUIRE(s.request("GET", "/v1/cache/short").status == 404);
  REQUIRE(s.request("GET", "/v1/cache/long").status == 200);
  REQUIRE(json_number(s.request("GET", "/v1/stats").body, "expired") >= 1);

  REQUIRE(s.terminate() == 0);
}

TEST_CASE("fastjson-cache: --policy", "[cache][server]") {
  {
    server_process s({"--policy", "lru", "--threads", "1"});
    REQUIRE(s.request("GET", "/v1/stats").body.find(R"("policy":"lru")") != std::string::npos);
    REQUIRE(s.terminate() == 0);
  }
  server_process bad({"--policy", "fifo"}, false);
  REQUIRE(bad.wait_exit(10s) == 2);
}

TEST_CASE("fastjson-cache: memory stays bounded under concurrent keep-alive PUTs on two threads",
          "[cache][server]") {
  // 63-64 KiB values pipelined four at a time over eight keep-alive
  // connections that land on both worker threads, so entries stored by one
  // thread are evicted by the other; 16x --max-bytes written. With glibc's
  // per-thread arenas and no trimming the RSS grew 3.4-4.6 MiB past the bound
  // here (and a 32 MiB server under wrk to ~60 MiB); one arena plus a trim per
  // max-bytes written keeps it ~2 MiB past it.
  constexpr std::size_t max_bytes = 16 << 20;
  constexpr std::size_t to_write = 16 * max_bytes;
  server_process s({"--threads", "2", "--max-bytes", std::to_string(max_bytes)});
  std::this_thread::sleep_for(100ms);
  const std::size_t baseline = s.rss_bytes();
  REQUIRE(baseline > 0);
  std::atomic<std::size_t> written{0}, answered{0}, failures{0}, peak{0};
  auto writer = [&](int id) {
    // No REQUIRE off the test's thread: failures are counted.
    int fd = test_net::connect_to(s.port());
    if (fd < 0) {
      ++failures;
      return;
    }
    std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1u);
    std::string value(64 << 10, static_cast<char>('a' + id));
    for (int i = 0; written.load() < to_write; i += 4) {
      std::string batch;
      for (int k = 0; k < 4; ++k) {
        std::size_t n = value.size() - rng() % 1024;
        batch += "PUT /v1/cache/w" + std::to_string(id) + "-" + std::to_string(i + k) +
                 " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n";
        batch.append(value.data(), n);
        written += n;
      }
      if (!test_net::send_all(fd, batch)) {
        ++failures;
        break;
      }
      // Four bodiless answers: four header terminators.
      std::string got = test_net::read_until(fd, "\r\n\r\n", 10s, 4);
      if (test_net::count_of(got, "\r\n\r\n") != 4 || test_net::count_of(got, "HTTP/1.1 201 ") != 4) {
        ++failures;
        break;
      }
      answered += 4;
      std::size_t now = s.rss_bytes(), was = peak.load();
      while (now > was && !peak.compare_exchange_weak(was, now)) {
      }
    }
    ::close(fd);
  };
  std::vector<std::thread> writers;
  for (int id = 0; id < 8; ++id) writers.emplace_back(writer, id);
  for (auto& t : writers) t.join();
  REQUIRE(failures == 0);
  const std::size_t rss = s.rss_bytes();
  const std::size_t top = std::max(peak.load(), rss);
  auto st = s.request("GET", "/v1/stats").body;
  std::printf(
      "fastjson-cache concurrent PUTs, 2 threads: wrote %.1f MiB in %zu PUTs; baseline RSS %.1f MiB, after %.1f MiB, "
      "peak %.1f MiB; bytes %lld <= %zu\n",
      written.load() / 1048576.0, answered.load(), baseline / 1048576.0, rss / 1048576.0, top / 1048576.0,
      json_number(st, "bytes"), max_bytes);
  REQUIRE(static_cast<std::size_t>(json_number(st, "bytes")) <= max_bytes);
  REQUIRE(json_number(st, "evictions") > 0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  WARN("RSS bound not checked under a sanitizer (peak " << top / 1048576.0 << " MiB)");
#else
  REQUIRE(top < baseline + max_bytes + (3 << 20));
#endif
  REQUIRE(s.terminate() == 0);
}

TEST_CASE("fastjson-cache: memory stays bounded after writing 4x --max-bytes", "[cache][server]") {
  constexpr std::size_t max_bytes = 4 << 20;
  constexpr std::size_t value_size = 64 << 10;
  server_process s({"--threads", "2", "--max-bytes", std::to_string(max_bytes)});
  std::this_thread::sleep_for(100ms);
  const std::size_t baseline = s.rss_bytes();
  REQUIRE(baseline > 0);

  std::string value(value_size, 'x');
  const std::size_t n = 4 * max_bytes / value_size;  // 256 values, 16 MiB
  std::size_t stored = 0, peak = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < 64; ++j) value[j * 1000] = static_cast<char>('a' + (i + j) % 26);
    auto r = s.request("PUT", "/v1/cache/key-" + std::to_string(i), value);
    REQUIRE(r.status == 201);
    ++stored;
    if (i % 32 == 31) peak = std::max(peak, s.rss_bytes());
  }
  const std::size_t rss = s.rss_bytes();
  peak = std::max(peak, rss);
  auto st = s.request("GET", "/v1/stats").body;
  const long long bytes = json_number(st, "bytes");
  const std::size_t limit = baseline + max_bytes + (8 << 20);
  std::printf(
      "fastjson-cache memory: wrote %zu x %zu B; baseline RSS %.1f MiB, after %.1f MiB (peak "
      "%.1f), "
      "limit %.1f MiB; stats bytes %lld <= %zu, items %lld, evictions %lld\n",
      stored, value_size, baseline / 1048576.0, rss / 1048576.0, peak / 1048576.0,
      limit / 1048576.0, bytes, max_bytes, json_number(st, "items"), json_number(st, "evictions"));
  REQUIRE(bytes > 0);
  REQUIRE(static_cast<std::size_t>(bytes) <= max_bytes);
  REQUIRE(json_number(st, "evictions") > 0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // ASan's quarantine and shadow memory (TSan's shadow) hold freed blocks
  // back from the OS, so RSS says nothing about the cache's bound there; the
  // byte accounting above is still checked. The plain build checks RSS.
  WARN("RSS bound not checked under a sanitizer (peak " << peak / 1048576.0 << " MiB)");
#else
  REQUIRE(peak < limit);
#endif
  REQUIRE(s.terminate() == 0);
}
