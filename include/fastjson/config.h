#pragma once
/// \file config.h
/// Server configuration from command-line flags and `FASTJSON_*`
/// environment variables.
///
/// Every field has a flag and an environment variable: `max_body_bytes` is
/// `--max-body-bytes N` and `FASTJSON_MAX_BODY_BYTES=N`; a flag beats the
/// environment, which beats the default. Programs add their own flags:
/// \code
///   std::string db_path = "./todos.db";
///   fastjson::flags flags("fastjson-todos", "A todo-list CRUD service");
///   flags.add("db", db_path, "SQLite database file");
///   fastjson::config cfg = flags.parse(argc, argv);   // --help prints all flags and exits 0
/// \endcode

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fastjson {

/// What to do with a path that differs from a route only by a trailing slash.
enum class trailing_slash { strict, redirect };

struct config {
  std::string host = "127.0.0.1";         ///< --host: address to listen on
  std::uint16_t port = 8080;              ///< --port: 0 picks a free port
  unsigned threads = 0;                   ///< --threads: worker loops; 0 = one per core
  std::size_t max_body_bytes = 1 << 20;   ///< --max-body-bytes: larger bodies get 413
  std::size_t max_url_bytes = 8 << 10;    ///< --max-url-bytes: longer request lines get 414
  std::size_t max_header_bytes = 16 << 10;///< --max-header-bytes: larger header sections get 431
  std::size_t max_headers = 100;          ///< --max-headers: more header fields get 431
  std::uint32_t header_timeout_ms = 10000;   ///< --header-timeout-ms: time to receive a request's headers
  std::uint32_t body_timeout_ms = 30000;     ///< --body-timeout-ms: time to receive a request's body
  std::uint32_t idle_timeout_ms = 60000;     ///< --idle-timeout-ms: idle keep-alive connection lifetime
  std::uint32_t shutdown_timeout_ms = 10000; ///< --shutdown-timeout-ms: drain deadline on SIGINT/SIGTERM
  std::size_t max_connections = 10000;    ///< --max-connections: per process; beyond it new connections get 503 and close
  std::size_t max_pipeline = 64;          ///< --max-pipeline: requests in flight per connection before reading pauses
  std::size_t write_high_water = 1 << 20; ///< --write-high-water: unsent bytes per connection before reading pauses
  std::string server_name = "fastjson";   ///< --server-name: the Server header ("" omits it)
  bool access_log = false;                ///< --access-log: built-in access log middleware on
  fastjson::trailing_slash trailing_slash = fastjson::trailing_slash::strict;  ///< --trailing-slash strict|redirect

  /// Parses the standard flags (and environment); `--help` prints usage and
  /// exits 0; an unknown flag or a bad value prints the problem and exits 2.
  static config from_args(int argc, char** argv);

  /// Checks every field against its range, throwing std::invalid_argument
  /// with a message that names the flag (and its variable): a zero limit,
  /// pipeline depth or timeout, more than 1024 threads, a `host` that is not
  /// an IP address (or "localhost"), a `server_name` that is not a valid
  /// header value. flags::parse and app::run call it, so a bad setting stops
  /// the program (exit status 2) before anything listens.
  ///
  /// | field | range |
  /// |---|---|
  /// | threads | 0..1024 (0 = one per core) |
  /// | max_body_bytes | 1..2^40 |
  /// | max_url_bytes, max_header_bytes | 1..16 MiB |
  /// | max_headers | 1..10000 |
  /// | header/body/idle_timeout_ms | >= 1 |
  /// | shutdown_timeout_ms | >= 0 |
  /// | max_connections, write_high_water | >= 1 |
  /// | max_pipeline | 1..65536 |
  /// | server_name | printable ASCII, at most 256 bytes, no leading/trailing space ("" omits the header) |
  void validate() const;
  /// Reads only the environment (`FASTJSON_PORT`, ...).
  static config from_env();
};

/// A command-line parser for the standard flags plus a program's own.
class flags {
 public:
  explicit flags(std::string program, std::string description = {});
  /// Adds `--name VALUE` (and `FASTJSON_NAME` from the environment) bound to
  /// `target`; its current value is the default shown by --help.
  flags& add(std::string name, std::string& target, std::string help);
  flags& add(std::string name, std::int64_t& target, std::string help);
  flags& add(std::string name, bool& target, std::string help);
  /// Parses argv into a config and the program's own flags. Exits the
  /// process on --help (0) and on errors (2), as command-line tools do.
  config parse(int argc, char** argv);
  /// Like parse, but throws std::invalid_argument instead of exiting, and
  /// returns help text through `help_out` when --help is given.
  config parse_or_throw(int argc, const char* const* argv, std::string* help_out = nullptr);
  std::string usage() const;

 private:
  struct option {
    std::string name, help, default_text;
    std::function<void(std::string_view)> set;
    bool is_bool = false;
  };
  void add_option(option o);
  std::string program_, description_;
  std::vector<option> options_;
  config cfg_;
};

}  // namespace fastjson
