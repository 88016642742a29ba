#pragma once
// Internal to src/db: one SQLite connection with its prepared-statement
// cache. Each connection is used by exactly one db thread, so nothing here
// locks (the connection is opened with SQLITE_OPEN_NOMUTEX).

#include <sqlite3.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fastjson/db/sqlite.h"

namespace fastjson::db::detail {

/// What sqlite::executed() counts a statement as; the index into
/// connection_impl::executed.
enum class statement_kind : std::uint8_t { select, insert, update, del, other };
inline constexpr std::size_t statement_kinds = 5;

/// The kind of `sql` by its leading keyword, after whitespace and comments:
/// SELECT/VALUES, INSERT/REPLACE, UPDATE, DELETE; for WITH, the first of
/// those after the common table expressions; anything else is `other`.
statement_kind kind_of(std::string_view sql) noexcept;

/// One more execution on `counter`. Only the connection's own db thread
/// writes its counters, so a relaxed load and store is enough (no locked
/// read-modify-write); other threads only load them.
inline void count_execution(std::atomic<std::uint64_t>& counter) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

/// A prepared statement owned by a connection's cache.
class statement {
 public:
  statement(sqlite3_stmt* s, std::string sql, std::atomic<std::uint64_t>& executions)
      : stmt(s), sql(std::move(sql)), executions(&executions) {}
  ~statement() { sqlite3_finalize(stmt); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  sqlite3_stmt* stmt;
  std::string sql;  // for error messages
  // The owning connection's counter for this statement's kind (classified
  // once, at prepare); step() bumps it once per execution.
  std::atomic<std::uint64_t>* executions;
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
  // Statements executed on this connection, by statement_kind, read by
  // sqlite::executed() from other threads. Written only by this
  // connection's db thread (see count_execution).
  std::array<std::atomic<std::uint64_t>, statement_kinds> executed{};

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
  /// Runs a script of several statements (no parameters, not cached),
  /// counting each one.
  void exec(std::string_view sql);
  /// ROLLBACK through sqlite3_exec, errors ignored, counted as `other`: the
  /// recovery path, which must pass even after the job's deadline (prepare()
  /// would refuse it).
  void rollback_quietly() noexcept;
};

/// A db::error from a SQLite result code and the connection's message.
error make_error(sqlite3* db, int rc, std::string_view context = {});
/// Throws make_error(...) unless rc is SQLITE_OK.
void check(sqlite3* db, int rc, std::string_view context = {});

/// Parses RFC 3339 ("2024-05-01T12:30:00.250Z", "+02:00" offsets) and
/// SQLite's own "YYYY-MM-DD HH:MM:SS[.fff]" (taken as UTC).
std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s);

}  // namespace fastjson::db::detail
