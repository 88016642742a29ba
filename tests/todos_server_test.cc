// examples/todos as a real process over real sockets: smoke test, 200
// concurrent writers, and kill -9 durability. Everything is bounded in time,
// talks to 127.0.0.1 only, and signals the child by its PID.
#include <catch2/catch.hpp>

#include <fastjson/fastjson.h>
#include <fastjson/testing.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/net.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;

const std::string todos_binary = FASTJSON_BINARY_DIR "/examples/todos/fastjson-todos";

struct srv_todo {
  std::int64_t id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> due;
  std::string created_at;
  std::string updated_at;
};
FASTJSON_REFLECT(srv_todo, id, title, done, due, created_at, updated_at)
struct srv_page {
  std::vector<srv_todo> items;
  std::int64_t total = 0;
  std::int64_t limit = 0;
  std::int64_t offset = 0;
};
FASTJSON_REFLECT(srv_page, items, total, limit, offset)

struct temp_db_path {
  std::string path;
  temp_db_path() {
    char tmpl[] = "/tmp/fastjson-todos-srv-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    ::unlink(tmpl);
    path = std::string(tmpl) + ".db";
  }
  ~temp_db_path() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
  }
};

/// The service as a child process; SIGKILLed on scope exit if still running.
class server_process {
 public:
  explicit server_process(const std::string& db, const char* threads = "2") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args = {todos_binary, "--port", "0", "--host", "127.0.0.1", "--threads", threads,
                                     "--db", db};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, todos_binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out_ = fds[0];
    REQUIRE(rc == 0);
    // "listening on http://127.0.0.1:PORT\n"
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    INFO(line);
    auto colon = line.rfind(':');
    REQUIRE(line.starts_with("listening on http://127.0.0.1:"));
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
    REQUIRE(port_ != 0);
  }
  ~server_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  std::uint16_t port() const { return port_; }

  /// Sends `sig` and waits (bounded) for the exit; returns the wait status.
  int signal_and_wait(int sig, std::chrono::milliseconds limit = 15s) {
    ::kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(5ms);
    }
    FAIL("the server did not exit in time");
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::uint16_t port_ = 0;
};

/// One request on its own connection (Connection: close); status 0 when no
/// complete response arrived.
fastjson::testing::response http(std::uint16_t port, std::string_view method, const std::string& target,
                                 const std::string& body = {}, std::chrono::milliseconds timeout = 10s) {
  int fd = test_net::connect_to(port);
  if (fd < 0) return {};
  std::string req = std::string(method) + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  std::string bytes;
  if (test_net::send_all(fd, req)) bytes = test_net::read_until_close(fd, timeout);
  ::close(fd);
  try {
    auto rs = fastjson::testing::parse_responses(bytes, {method == "HEAD"});
    if (rs.size() == 1) return rs[0];
  } catch (...) {
  }
  return {};
}

template <class T>
std::optional<T> parse(const std::string& body) {
  auto r = fastjson::json::read<T>(body);
  if (!r.ok()) return std::nullopt;
  return std::move(r.value());
}

bool have_binary() {
  struct stat st {};
  if (::stat(todos_binary.c_str(), &st) == 0) return true;
  WARN("skipped: " << todos_binary << " is not built (FASTJSON_EXAMPLES=OFF?)");
  return false;
}

}  // namespace

TEST_CASE("todos server: smoke over a real socket, SIGTERM exits 0", "[todos][server]") {
  if (!have_binary()) return;
  temp_db_path db;
  server_process srv(db.path);
  CHECK(http(srv.port(), "GET", "/healthz").status == 200);
  CHECK(http(srv.port(), "GET", "/readyz").status == 200);
  auto r = http(srv.port(), "POST", "/api/todos", R"({"title":"over the wire","due":"2030-01-01"})");
  REQUIRE(r.status == 201);
  auto t = parse<srv_todo>(r.body);
  REQUIRE(t);
  CHECK(r.header("location") == "/api/todos/" + std::to_string(t->id));
  auto g = http(srv.port(), "GET", "/api/todos/" + std::to_string(t->id));
  CHECK(g.status == 200);
  CHECK(parse<srv_todo>(g.body)->title == "over the wire");
  auto bad = http(srv.port(), "POST", "/api/todos", R"({"title":""})");
  CHECK(bad.status == 422);
  CHECK(bad.header("content-type") == "application/problem+json");
  CHECK(http(srv.port(), "GET", "/api/todos/abc").status == 400);
  CHECK(http(srv.port(), "DELETE", "/api/todos/" + std::to_string(t->id)).status == 204);

  int status = srv.signal_and_wait(SIGTERM);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("todos server: 200 concurrent writers", "[todos][server]") {
  if (!have_binary()) return;
  temp_db_path db;
  server_process srv(db.path);
  constexpr int writers = 200;
  std::vector<int> statuses(writers, 0);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < writers; ++i)
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      statuses[i] = http(srv.port(), "POST", "/api/todos", R"({"title":"writer )" + std::to_string(i) + R"("})",
                         20s).status;
    });
  go = true;
  for (auto& t : threads) t.join();
  int created = 0, server_errors = 0;
  for (int s : statuses) {
    created += s == 201;
    server_errors += s >= 500;
  }
  CHECK(server_errors == 0);
  CHECK(created == writers);
  auto list = http(srv.port(), "GET", "/api/todos?limit=100");
  REQUIRE(list.status == 200);
  auto page = parse<srv_page>(list.body);
  REQUIRE(page);
  CHECK(page->total == writers);
  int status = srv.signal_and_wait(SIGTERM);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("todos server: kill -9 under write load loses no acknowledged todo", "[todos][server]") {
  if (!have_binary()) return;
  temp_db_path db;
  std::mutex mu;
  std::vector<std::pair<std::int64_t, std::string>> acked;  // id, title
  {
    server_process srv(db.path);
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int w = 0; w < 8; ++w)
      threads.emplace_back([&, w] {
        for (int i = 0; !stop.load(); ++i) {
          std::string title = "w" + std::to_string(w) + "-" + std::to_string(i);
          auto r = http(srv.port(), "POST", "/api/todos",
                        R"({"title":")" + title + R"(","done":)" + (i % 2 ? "true" : "false") +
                            R"(,"due":"2031-01-01"})",
                        3s);
          if (r.status == 0) break;  // the server is gone
          if (r.status != 201) continue;
          auto t = parse<srv_todo>(r.body);
          if (!t) continue;
          std::lock_guard lock(mu);
          acked.emplace_back(t->id, title);
        }
      });
    std::this_thread::sleep_for(1500ms);
    int status = srv.signal_and_wait(SIGKILL);  // mid-load
    stop = true;
    for (auto& t : threads) t.join();
    CHECK(WIFSIGNALED(status));
  }
  INFO("acknowledged before the kill: " << acked.size());
  REQUIRE(acked.size() > 10);

  server_process srv(db.path);  // restart on the same file
  for (auto& [id, title] : acked) {
    auto r = http(srv.port(), "GET", "/api/todos/" + std::to_string(id));
    INFO("id " << id);
    REQUIRE(r.status == 200);
    auto t = parse<srv_todo>(r.body);
    REQUIRE(t);
    CHECK(t->title == title);
    CHECK(t->due == "2031-01-01");
  }
  // Every row is whole: walk all pages.
  std::int64_t seen = 0, total = -1;
  for (std::int64_t offset = 0; total < 0 || offset < total; offset += 100) {
    auto r = http(srv.port(), "GET", "/api/todos?limit=100&offset=" + std::to_string(offset));
    REQUIRE(r.status == 200);
    auto page = parse<srv_page>(r.body);
    REQUIRE(page);
    total = page->total;
    if (page->items.empty()) break;
    for (auto& t : page->items) {
      ++seen;
      CHECK(t.title.starts_with("w"));
      CHECK(t.due == "2031-01-01");
      CHECK(t.created_at.size() == 24);
      CHECK(t.updated_at == t.created_at);
    }
  }
  CHECK(seen == total);
  CHECK(total >= static_cast<std::int64_t>(acked.size()));
  int status = srv.signal_and_wait(SIGTERM);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}
