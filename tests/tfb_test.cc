// examples/tfb: the fortunes template, the count rule and the statements each
// route runs in process, then the real binary checked end to end by
// benchmarks/tfb/verify (the TechEmpower rules, including persistence of
// /updates read back from the SQLite file and the statement counts per batch
// of 512 requests).
// tfb.cc is included below (not linked), as tests/todos_test.cc does with
// todos.cc; GCC's -Wsubobject-linkage about its coroutine lambdas is harmless
// in a single test TU.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"

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

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../examples/tfb/tfb.cc"

extern char** environ;

namespace {

using namespace std::chrono_literals;

const std::string tfb_binary = FASTJSON_BINARY_DIR "/examples/tfb/fastjson-tfb";
// The verifier sits next to this file's tree (__FILE__ is absolute under CMake).
const std::string verifier =
    (std::filesystem::path(__FILE__).parent_path().parent_path() / "benchmarks/tfb/verify").string();

/// A unique path in /tmp; the file and its -wal/-shm/-journal (and any
/// `.out` log) are removed on scope exit.
struct temp_path {
  std::string path;
  explicit temp_path(const char* suffix) {
    char tmpl[] = "/tmp/fastjson-tfb-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    ::unlink(tmpl);
    path = std::string(tmpl) + suffix;
  }
  ~temp_path() {
    for (const char* s : {"", "-wal", "-shm", "-journal"}) ::unlink((path + s).c_str());
  }
};

const std::string expected_fortunes =
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>"
    "<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert "
    "box.&quot;);&lt;/script&gt;</td></tr>"
    "<tr><td>4</td><td>A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1</td></tr>"
    "<tr><td>5</td><td>A computer program does what you tell it to do, not what you want it to do.</td></tr>"
    "<tr><td>2</td><td>A computer scientist is someone who fixes things that aren&#39;t broken.</td></tr>"
    "<tr><td>8</td><td>A list is only as strong as its weakest link. \xE2\x80\x94 Donald Knuth</td></tr>"
    "<tr><td>0</td><td>Additional fortune added at request time.</td></tr>"
    "<tr><td>3</td><td>After enough decimal places, nobody gives a damn.</td></tr>"
    "<tr><td>7</td><td>Any program that runs right is obsolete.</td></tr>"
    "<tr><td>10</td><td>Computers make very fast, very accurate mistakes.</td></tr>"
    "<tr><td>6</td><td>Emacs is a nice operating system, but I prefer UNIX. \xE2\x80\x94 Tom Christaensen</td></tr>"
    "<tr><td>9</td><td>Feature: A bug with seniority.</td></tr>"
    "<tr><td>1</td><td>fortune: No such file or directory</td></tr>"
    "<tr><td>12</td><td>\xE3\x83\x95\xE3\x83\xAC\xE3\x83\xBC\xE3\x83\xA0\xE3\x83\xAF\xE3\x83\xBC\xE3\x82\xAF"
    "\xE3\x81\xAE\xE3\x83\x99\xE3\x83\xB3\xE3\x83\x81\xE3\x83\x9E\xE3\x83\xBC\xE3\x82\xAF</td></tr>"
    "</table></body></html>";

/// Spawns argv with stdout to `out_fd` (or /dev/null) and stderr to /dev/null.
pid_t spawn(const std::vector<std::string>& args, int out_fd, bool stderr_too = false) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (out_fd >= 0)
    posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
  else
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (stderr_too && out_fd >= 0)
    posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
  else
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, copy[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

/// Waits up to `limit` for `pid`; returns its wait status, or -1 (after a
/// SIGKILL) if it did not finish in time.
int wait_bounded(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

/// fastjson-tfb (with --stats, for the verifier's --count-statements) as a
/// child process; SIGKILLed on scope exit unless stopped.
class tfb_process {
 public:
  explicit tfb_process(const std::string& db) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pid_ = spawn({tfb_binary, "--port", "0", "--host", "127.0.0.1", "--threads", "2", "--db", db, "--stats"},
                 fds[1]);
    ::close(fds[1]);
    out_ = fds[0];
    REQUIRE(pid_ > 0);
    // "listening on http://127.0.0.1:PORT\n" (seeding a new database first).
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    INFO(line);
    REQUIRE(line.starts_with("listening on http://127.0.0.1:"));
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    REQUIRE(port_ != 0);
  }
  ~tfb_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  std::uint16_t port() const { return port_; }
  /// SIGTERM and a bounded wait; the wait status (or -1).
  int stop() {
    ::kill(pid_, SIGTERM);
    int st = wait_bounded(pid_, 15s);
    pid_ = -1;
    return st;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::uint16_t port_ = 0;
};

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("tfb: queries/count clamping", "[tfb]") {
  CHECK(tfb::clamp_count(std::nullopt) == 1);
  CHECK(tfb::clamp_count("") == 1);
  CHECK(tfb::clamp_count("foo") == 1);
  CHECK(tfb::clamp_count("2x") == 1);
  CHECK(tfb::clamp_count("0") == 1);
  CHECK(tfb::clamp_count("-3") == 1);
  CHECK(tfb::clamp_count("1") == 1);
  CHECK(tfb::clamp_count("2") == 2);
  CHECK(tfb::clamp_count("500") == 500);
  CHECK(tfb::clamp_count("501") == 500);
  CHECK(tfb::clamp_count("99999999999999999999999") == 500);
  CHECK(tfb::clamp_count("-99999999999999999999999") == 1);
}

TEST_CASE("tfb: HTML escaping", "[tfb]") {
  fastjson::buffer b;
  tfb::html_escape(b, R"(a&b<c>d"e'f)");
  CHECK(b.view() == "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  fastjson::buffer plain;
  tfb::html_escape(plain, "\xE3\x83\x95 no specials");
  CHECK(plain.view() == "\xE3\x83\x95 no specials");
}

TEST_CASE("tfb: endpoints through the in-process client", "[tfb]") {
  temp_path db_file(".db");
  auto db = tfb::open_database(db_file.path);
  auto cache = tfb::make_world_cache(*db);
  CHECK(cache->stats().items == 10000);

  fastjson::app app;
  tfb::install_routes(app, db, cache);
  fastjson::testing::client client(app);

  auto f = client.get("/fortunes");
  CHECK(f.status == 200);
  CHECK(f.header("content-type") == "text/html; charset=utf-8");
  CHECK(f.body == expected_fortunes);

  // /stats is not one of the benchmark's routes: only install_stats_route adds it.
  CHECK(client.get("/stats").status == 404);

  auto p = client.get("/plaintext");
  CHECK(p.header("content-type") == "text/plain");
  CHECK(p.body == "Hello, World!");
  CHECK(client.get("/json").body == R"({"message":"Hello, World!"})");

  auto q = fastjson::json::read<std::vector<tfb::world>>(client.get("/queries?queries=7").body);
  REQUIRE(q.ok());
  CHECK(q.value().size() == 7);

  // /updates: what it returns is what the database holds afterwards.
  auto u = fastjson::json::read<std::vector<tfb::world>>(client.get("/updates?queries=30").body);
  REQUIRE(u.ok());
  REQUIRE(u.value().size() == 30);
  for (const auto& w : u.value()) {
    auto stored = fastjson::sync_wait(
        db->query_value<std::int64_t>("SELECT randomNumber FROM World WHERE id = ?", w.id));
    CHECK(stored == w.randomNumber);
  }

  // A cold cache loads rows on demand and keeps them.
  auto cold = tfb::make_world_cache(*db, /*warm=*/false);
  fastjson::app app2;
  tfb::install_routes(app2, db, cold);
  fastjson::testing::client client2(app2);
  auto c = fastjson::json::read<std::vector<tfb::world>>(client2.get("/cached-worlds?count=50").body);
  REQUIRE(c.ok());
  CHECK(c.value().size() == 50);
  CHECK(cold->stats().items > 0);
}

namespace {
std::string counts_text(const fastjson::db::sqlite::statement_counts& c) {
  return "select " + std::to_string(c.selects) + " insert " + std::to_string(c.inserts) + " update " +
         std::to_string(c.updates) + " delete " + std::to_string(c.deletes) + " other " +
         std::to_string(c.others);
}
std::string counts_text(std::uint64_t s, std::uint64_t i, std::uint64_t u, std::uint64_t d, std::uint64_t o) {
  return counts_text(fastjson::db::sqlite::statement_counts{s, i, u, d, o});
}
}  // namespace

TEST_CASE("tfb: statements per route; /updates runs one SELECT and one UPDATE per row", "[tfb]") {
  temp_path db_file(".db");
  auto db = tfb::open_database(db_file.path);
  fastjson::app app;
  tfb::install_routes(app, db, tfb::make_world_cache(*db, /*warm=*/false));
  tfb::install_stats_route(app, db);
  fastjson::testing::client client(app);
  auto delta = [&db, before = db->executed()]() mutable {
    auto now = db->executed();
    auto d = now - before;
    before = now;
    return counts_text(d);
  };

  // /db and /fortunes: one SELECT per request. /queries: one per row, in one
  // read() snapshot (its BEGIN and COMMIT are the two others).
  for (int i = 0; i < 20; ++i) REQUIRE(client.get("/db").status == 200);
  CHECK(delta() == counts_text(20, 0, 0, 0, 0));
  for (int i = 0; i < 5; ++i) REQUIRE(client.get("/fortunes").status == 200);
  CHECK(delta() == counts_text(5, 0, 0, 0, 0));
  for (int i = 0; i < 10; ++i) REQUIRE(client.get("/queries?queries=20").status == 200);
  CHECK(delta() == counts_text(200, 0, 0, 0, 20));

  // /updates: 40 requests of 20 rows and 4 of 500. Drawn independently, an
  // id repeats within a request of 500 with probability 1 - 3e-6 (and within
  // one of 20 with ~2%), so merging repeats into one UPDATE, as this route
  // once did, cannot pass: every row drawn is one SELECT and one UPDATE.
  std::uint64_t drawn = 0;
  int requests = 0, repeats = 0;
  std::map<std::int64_t, std::int64_t> last_written;  // id -> the number the last response gave it
  for (int n : {20, 500}) {
    for (int i = 0; i < (n == 20 ? 40 : 4); ++i) {
      auto r = client.get("/updates?queries=" + std::to_string(n));
      REQUIRE(r.status == 200);
      auto rows = fastjson::json::read<std::vector<tfb::world>>(r.body);
      REQUIRE(rows.ok());
      REQUIRE(rows.value().size() == static_cast<std::size_t>(n));
      std::set<std::int64_t> ids;
      for (const auto& w : rows.value()) {
        if (!ids.insert(w.id).second) ++repeats;
        last_written[w.id] = w.randomNumber;
      }
      drawn += rows.value().size();
      ++requests;
    }
  }
  CHECK(repeats == 0);  // the ids of one request are distinct
  CHECK(delta() == counts_text(drawn, 0, drawn, 0, 2 * static_cast<std::uint64_t>(requests)));

  // GET /stats reports the same counts and runs no statement itself.
  auto now = db->executed();
  auto st = client.get("/stats");
  CHECK(st.status == 200);
  CHECK(st.header("content-type") == "application/json");
  auto parsed = fastjson::json::read<tfb::statement_stats>(st.body);
  REQUIRE(parsed.ok());
  CHECK(counts_text(parsed.value().select, parsed.value().insert, parsed.value().update, parsed.value().del,
                    parsed.value().other) == counts_text(now));
  CHECK(st.body.find("\"delete\":") != std::string::npos);
  CHECK(delta() == counts_text(0, 0, 0, 0, 0));

  // Each id holds the number the last response that had it gave it.
  auto stored = fastjson::sync_wait(db->query<tfb::world>("SELECT id, randomNumber FROM World"));
  std::size_t differ = 0;
  for (const auto& w : stored) {
    auto it = last_written.find(w.id);
    if (it != last_written.end() && it->second != w.randomNumber) ++differ;
  }
  CHECK(differ == 0);
}

TEST_CASE("tfb: the real binary passes benchmarks/tfb/verify", "[tfb]") {
  if (!exists(tfb_binary)) {
    WARN("skipped: " << tfb_binary << " is not built (FASTJSON_EXAMPLES=OFF?)");
    return;
  }
  if (!exists(verifier)) {
    WARN("skipped: " << verifier << " not found");
    return;
  }
  temp_path db_file(".db");
  temp_path log(".log");
  tfb_process srv(db_file.path);

  int out = ::open(log.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(out >= 0);
  pid_t v = spawn({"python3", verifier, "http://127.0.0.1:" + std::to_string(srv.port()), "--db", db_file.path,
                   "--count-statements"},
                  out, /*stderr_too=*/true);
  ::close(out);
  REQUIRE(v > 0);
  int status = wait_bounded(v, 120s);

  std::ifstream in(log.path);
  std::stringstream text;
  text << in.rdbuf();
  INFO(text.str());
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  int st = srv.stop();
  CHECK((st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0));
}
