// Flags and FASTJSON_* variables: every standard setting is range-checked at
// start, by flags::parse (exit 2) and by app::run (returns 2), before
// anything listens.

#include <catch2/catch.hpp>

#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastjson/fastjson.h"
#include "support/net.h"

extern char** environ;

namespace {

// parse_or_throw's message for argv (empty: it parsed).
std::string parse_error(std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  fastjson::flags f("prog");
  try {
    f.parse_or_throw(static_cast<int>(args.size()), args.data());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

struct env_var {
  const char* name;
  env_var(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
  ~env_var() { ::unsetenv(name); }
};

struct run_result {
  int exit_code = -1;
  std::string out, err;
};

// Runs a binary to completion (bounded: it is killed after 5 s).
run_result run_binary(const std::string& bin, std::vector<const char*> args) {
  int out[2], err[2];
  REQUIRE(::pipe(out) == 0);
  REQUIRE(::pipe(err) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addclose(&fa, err[0]);
  args.insert(args.begin(), bin.c_str());
  args.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, bin.c_str(), &fa, nullptr, const_cast<char**>(args.data()), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  REQUIRE(spawned == 0);
  run_result r;
  bool closed = false;
  r.err = test_net::read_until_close(err[0], std::chrono::milliseconds(5000), &closed);
  r.out = test_net::read_until_close(out[0], std::chrono::milliseconds(500));
  if (!closed) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ::close(out[0]);
  ::close(err[0]);
  return r;
}

}  // namespace

TEST_CASE("config: out-of-range flags are refused with a message naming the flag", "[config]") {
  struct bad {
    std::vector<const char*> args;
    const char* names;
  };
  const bad cases[] = {
      {{"--max-pipeline", "0"}, "--max-pipeline"},
      {{"--max-pipeline", "100000"}, "--max-pipeline"},
      {{"--max-body-bytes", "0"}, "--max-body-bytes"},
      {{"--max-url-bytes", "0"}, "--max-url-bytes"},
      {{"--max-header-bytes", "0"}, "--max-header-bytes"},
      {{"--max-headers", "0"}, "--max-headers"},
      {{"--max-headers", "1000000"}, "--max-headers"},
      {{"--header-timeout-ms", "-1"}, "--header-timeout-ms"},
      {{"--header-timeout-ms", "0"}, "--header-timeout-ms"},
      {{"--body-timeout-ms", "-5"}, "--body-timeout-ms"},
      {{"--idle-timeout-ms", "0"}, "--idle-timeout-ms"},
      {{"--shutdown-timeout-ms", "-1"}, "--shutdown-timeout-ms"},
      {{"--shutdown-timeout-ms", "99999999999"}, "--shutdown-timeout-ms"},
      {{"--max-connections", "0"}, "--max-connections"},
      {{"--write-high-water", "0"}, "--write-high-water"},
      {{"--threads", "5000"}, "--threads"},
      {{"--port", "65536"}, "--port"},
      {{"--port", "-1"}, "--port"},
      {{"--port", "80a"}, "--port"},
      {{"--host", "example.com"}, "--host"},
      {{"--host", "300.1.1.1"}, "--host"},
      {{"--server-name", "evil\r\nSet-Cookie: a=b"}, "--server-name"},
      {{"--server-name", "a\nb"}, "--server-name"},
      {{"--server-name", "tab\there"}, "--server-name"},
      {{"--server-name", "esc\x1b[31m"}, "--server-name"},
      {{"--server-name", " padded"}, "--server-name"},
      {{"--trailing-slash", "maybe"}, "--trailing-slash"},
  };
  for (const auto& c : cases) {
    std::string shown;
    for (auto* a : c.args) shown += std::string(a) + " ";
    INFO(shown);
    std::string msg = parse_error(c.args);
    CHECK_FALSE(msg.empty());
    CHECK(msg.find(c.names) != std::string::npos);
  }
  // In range: accepted.
  CHECK(parse_error({"--max-pipeline", "1", "--shutdown-timeout-ms", "0", "--threads", "0", "--server-name", "",
                     "--host", "::1", "--server-name", "my server/1.0 (linux)", "--port", "0"})
            .empty());
}

TEST_CASE("config: FASTJSON_* variables are validated the same way, naming the variable", "[config]") {
  {
    env_var v("FASTJSON_MAX_PIPELINE", "0");
    std::string msg = parse_error({});
    CHECK(msg.find("--max-pipeline") != std::string::npos);
    CHECK(msg.find("FASTJSON_MAX_PIPELINE") != std::string::npos);
  }
  {
    env_var v("FASTJSON_HEADER_TIMEOUT_MS", "-3");
    CHECK(parse_error({}).find("FASTJSON_HEADER_TIMEOUT_MS") != std::string::npos);
  }
  {
    env_var v("FASTJSON_SERVER_NAME", "x\r\ny");
    CHECK(parse_error({}).find("FASTJSON_SERVER_NAME") != std::string::npos);
  }
  {
    // Ranges are checked on the result: a flag overrides an out-of-range variable.
    env_var v("FASTJSON_MAX_BODY_BYTES", "0");
    CHECK(parse_error({"--max-body-bytes", "10"}).empty());
    CHECK(parse_error({}).find("FASTJSON_MAX_BODY_BYTES") != std::string::npos);
  }
}

TEST_CASE("config: app::run refuses an invalid config from C++ (returns 2, listens on nothing)", "[config]") {
  fastjson::app app;
  app.get("/", [](fastjson::request&, fastjson::response& res) { res.text("x"); });
  fastjson::config cfg;
  cfg.port = 0;
  cfg.max_pipeline = 0;
  CHECK(app.run(cfg) == 2);
  CHECK(app.port() == 0);
  cfg.max_pipeline = 8;
  cfg.server_name = "a\rb";
  CHECK(app.run(cfg) == 2);
  CHECK_THROWS_AS(cfg.validate(), std::invalid_argument);
  cfg.server_name = "ok";
  CHECK_NOTHROW(cfg.validate());
}

TEST_CASE("config: a server started with a bad flag exits 2 before it listens, naming the flag",
          "[config][example]") {
  std::string bin = std::string(FASTJSON_BINARY_DIR) + "/examples/hello/fastjson-hello";
  if (::access(bin.c_str(), X_OK) != 0) {
    WARN("examples not built; skipping");
    return;
  }
  for (std::vector<const char*> args : {std::vector<const char*>{"--max-pipeline", "0"},
                                        {"--max-body-bytes", "0"},
                                        {"--idle-timeout-ms", "-1"},
                                        {"--server-name", "a\r\nX-Injected: 1"},
                                        {"--no-such-flag", "1"}}) {
    INFO(args[0]);
    auto r = run_binary(bin, args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(args[0]) != std::string::npos);
    CHECK(r.out.find("listening") == std::string::npos);
  }
  env_var v("FASTJSON_MAX_HEADERS", "0");
  auto r = run_binary(bin, {"--port", "0"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("FASTJSON_MAX_HEADERS") != std::string::npos);
}
