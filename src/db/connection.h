#pragma once
// Internal to src/db: one SQLite connection with its prepared-statement
// cache. Each connection is used by exactly one db thread, so nothing here
// locks (the connection is opened with SQLITE_OPEN_NOMUTEX).

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fastjson/db/sqlite.h"

namespace fastjson::db::detail {

/// A prepared statement owned by a connection's cache.
class statement {
 public:
  statement(sqlite3_stmt* s, std::string sql) : stmt(s), sql(std::move(sql)) {}
  ~statement() { sqlite3_finalize(stmt); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  sqlite3_stmt* stmt;
  std::string sql;  // for error messages
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct connection_impl {
  sqlite3* db = nullptr;
  bool writer = false;
  std::size_t cache_limit = 256;
  std::unordered_map<std::string, std::unique_ptr<statement>, string_hash, std::equal_to<>> cache;
  // options::job_timeout_ms: the running job's deadline (max() when none),
  // checked by the progress handler and at every prepare; `timed_out` says
  // it fired. Past it every statement of the job is refused; the db thread
  // rolls back an open transaction with sqlite3_exec, which passes neither.
  int job_timeout_ms = 0;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool timed_out = false;
  /// The error a timed-out job reports.
  error timeout_error() const;
  // Counters read by sqlite::statistics() from other threads.
  std::atomic<std::uint64_t> prepared{0};
  std::atomic<std::uint64_t> hits{0};

  connection_impl() = default;
  connection_impl(const connection_impl&) = delete;
  connection_impl& operator=(const connection_impl&) = delete;
  ~connection_impl() {
    cache.clear();  // finalize statements before closing
    if (db) sqlite3_close_v2(db);
  }

  /// The cached statement for `sql`, compiling it on a miss. `count_hit`
  /// is false for the routing peek so each execution counts once.
  statement& prepare(std::string_view sql, bool count_hit = true);
  /// Runs a script of several statements (no parameters, not cached).
  void exec(std::string_view sql);
};

/// A db::error from a SQLite result code and the connection's message.
error make_error(sqlite3* db, int rc, std::string_view context = {});
/// Throws make_error(...) unless rc is SQLITE_OK.
void check(sqlite3* db, int rc, std::string_view context = {});

/// Parses RFC 3339 ("2024-05-01T12:30:00.250Z", "+02:00" offsets) and
/// SQLite's own "YYYY-MM-DD HH:MM:SS[.fff]" (taken as UTC).
std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s);

}  // namespace fastjson::db::detail
