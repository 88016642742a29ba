// Prepared statements: the per-connection cache, parameter binding, and the
// typed column reads behind struct mapping. Every read checks the column's
// storage class, so a schema that drifted from the struct fails with a
// message naming the column instead of yielding a silently wrong value.

#include <cstring>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "db/connection.h"

namespace fastjson::db::detail {

namespace {

constraint_kind constraint_of(int extended) {
  switch (extended) {
    case SQLITE_CONSTRAINT_UNIQUE: return constraint_kind::unique;
    case SQLITE_CONSTRAINT_PRIMARYKEY: return constraint_kind::primary_key;
    case SQLITE_CONSTRAINT_CHECK: return constraint_kind::check;
    case SQLITE_CONSTRAINT_FOREIGNKEY: return constraint_kind::foreign_key;
    case SQLITE_CONSTRAINT_NOTNULL: return constraint_kind::not_null;
    default: return (extended & 0xff) == SQLITE_CONSTRAINT ? constraint_kind::other : constraint_kind::none;
  }
}

const char* type_name(int t) {
  switch (t) {
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT: return "REAL";
    case SQLITE_TEXT: return "TEXT";
    case SQLITE_BLOB: return "BLOB";
    default: return "NULL";
  }
}

[[noreturn]] void throw_mapping(statement& st, int i, std::string_view expected) {
  int t = sqlite3_column_type(st.stmt, i);
  throw error(SQLITE_MISMATCH,
              fmt::format("db: column '{}' holds {}, expected {} (in: {})",
                          sqlite3_column_name(st.stmt, i), type_name(t), expected, st.sql),
              constraint_kind::none, true);
}

// Checks the storage class of column i; NULL gets its own message because
// the fix (make the member std::optional) differs from a type mismatch.
void expect(statement& st, int i, int type, std::string_view expected) {
  int t = sqlite3_column_type(st.stmt, i);
  if (t == type) return;
  if (t == SQLITE_NULL) throw_null_column(st, i);
  throw_mapping(st, i, expected);
}

}  // namespace

error make_error(sqlite3* db, int rc, std::string_view context) {
  int ext = db ? sqlite3_extended_errcode(db) : rc;
  // The connection's code can be stale for errors that SQLite reports only
  // through the return value; prefer the return value's primary code.
  if ((ext & 0xff) != (rc & 0xff)) ext = rc;
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = context.empty() ? fmt::format("db: {} ({})", msg, sqlite3_errstr(ext))
                                     : fmt::format("db: {} ({}) in: {}", msg, sqlite3_errstr(ext), context);
  return error(ext, text, constraint_of(ext));
}

void check(sqlite3* db, int rc, std::string_view context) {
  if (rc != SQLITE_OK) throw make_error(db, rc, context);
}

error connection_impl::timeout_error() const {
  return error(SQLITE_INTERRUPT,
               fmt::format("db: the job ran longer than job_timeout_ms ({} ms) and was interrupted", job_timeout_ms),
               constraint_kind::none, false, true);
}

statement& connection_impl::prepare(std::string_view sql, bool count_hit) {
  // A job of many short statements never trips the progress handler (it
  // counts steps within one statement): check the deadline here too.
  if (deadline != std::chrono::steady_clock::time_point::max() && std::chrono::steady_clock::now() >= deadline) {
    timed_out = true;
    throw timeout_error();
  }
  if (auto it = cache.find(sql); it != cache.end()) {
    if (count_hit) hits.fetch_add(1, std::memory_order_relaxed);
    return *it->second;
  }
  sqlite3_stmt* s = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s,
                              &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    throw make_error(db, rc, sql);
  }
  if (!s) throw error(SQLITE_MISUSE, fmt::format("db: empty statement: '{}'", sql));
  // Only one statement per call: silently ignoring the rest would be a trap.
  for (const char* p = tail; p && p < sql.data() + sql.size(); ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';') {
      sqlite3_finalize(s);
      throw error(SQLITE_MISUSE,
                  fmt::format("db: more than one statement (use execute_script or a transaction): {}", sql));
    }
  }
  prepared.fetch_add(1, std::memory_order_relaxed);
  if (cache.size() >= cache_limit) cache.clear();  // rare: the SQL set of an app is small and fixed
  auto st = std::make_unique<statement>(s, std::string(sql), executed[static_cast<std::size_t>(kind_of(sql))]);
  auto& ref = *st;
  cache.emplace(std::string(sql), std::move(st));
  return ref;
}

void connection_impl::exec(std::string_view sql) {
  // sqlite3_exec's loop, written out so that each statement of the script
  // is counted by its kind like a prepared one.
  const char* p = sql.data();
  const char* end = p + sql.size();
  while (p < end) {
    sqlite3_stmt* s = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db, p, static_cast<int>(end - p), &s, &tail);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      throw make_error(db, rc);
    }
    std::string_view text(p, static_cast<std::size_t>(tail - p));
    p = tail;
    if (!s) continue;  // only whitespace or a comment was left
    count_execution(executed[static_cast<std::size_t>(kind_of(text))]);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
      error e = make_error(db, rc);  // before finalize, which may reset the message
      sqlite3_finalize(s);
      throw e;
    }
    sqlite3_finalize(s);
  }
}

void connection_impl::rollback_quietly() noexcept {
  count_execution(executed[static_cast<std::size_t>(statement_kind::other)]);
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
}

// ---- statement kinds -------------------------------------------------------

namespace {

bool is_word_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool equals_keyword(std::string_view word, std::string_view upper) noexcept {
  if (word.size() != upper.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != upper[i]) return false;
  }
  return true;
}

/// Skips whitespace and `--` / `/* */` comments from `i`.
std::size_t skip_space(std::string_view s, std::size_t i) noexcept {
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      i = s.find('\n', i);
      if (i == std::string_view::npos) return s.size();
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      i = s.find("*/", i + 2);
      if (i == std::string_view::npos) return s.size();
      i += 2;
    } else {
      break;
    }
  }
  return i;
}

/// The kind a keyword starts, or nullopt for any other word.
std::optional<statement_kind> kind_of_keyword(std::string_view w) noexcept {
  if (equals_keyword(w, "SELECT") || equals_keyword(w, "VALUES")) return statement_kind::select;
  if (equals_keyword(w, "INSERT") || equals_keyword(w, "REPLACE")) return statement_kind::insert;
  if (equals_keyword(w, "UPDATE")) return statement_kind::update;
  if (equals_keyword(w, "DELETE")) return statement_kind::del;
  return std::nullopt;
}

}  // namespace

statement_kind kind_of(std::string_view sql) noexcept {
  std::size_t i = skip_space(sql, 0);
  std::size_t j = i;
  while (j < sql.size() && is_word_char(sql[j])) ++j;
  std::string_view first = sql.substr(i, j - i);
  if (auto k = kind_of_keyword(first)) return *k;
  if (!equals_keyword(first, "WITH")) return statement_kind::other;
  // WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (body), ...
  // then the statement proper. Every CTE body and column list is in
  // parentheses, so the first of the keywords above outside parentheses
  // (and outside quotes and comments) is the statement's.
  int depth = 0;
  for (i = j; i < sql.size();) {
    i = skip_space(sql, i);
    if (i >= sql.size()) break;
    char c = sql[i];
    if (c == '\'' || c == '"' || c == '`' || c == '[') {
      char close = c == '[' ? ']' : c;
      std::size_t e = sql.find(close, i + 1);  // a doubled quote is two quoted runs: same result
      if (e == std::string_view::npos) break;
      i = e + 1;
    } else if (c == '(') {
      ++depth;
      ++i;
    } else if (c == ')') {
      --depth;
      ++i;
    } else if (is_word_char(c)) {
      j = i;
      while (j < sql.size() && is_word_char(sql[j])) ++j;
      if (depth == 0) {
        if (auto k = kind_of_keyword(sql.substr(i, j - i))) return *k;
      }
      i = j;
    } else {
      ++i;
    }
  }
  return statement_kind::other;
}

// ---- binding ---------------------------------------------------------------

static void check_bind(statement& st, int rc) {
  if (rc != SQLITE_OK) throw make_error(sqlite3_db_handle(st.stmt), rc, st.sql);
}

void bind_null(statement& st, int i) { check_bind(st, sqlite3_bind_null(st.stmt, i)); }
void bind_int(statement& st, int i, std::int64_t v) { check_bind(st, sqlite3_bind_int64(st.stmt, i, v)); }
void bind_double(statement& st, int i, double v) { check_bind(st, sqlite3_bind_double(st.stmt, i, v)); }
void bind_text(statement& st, int i, std::string_view v) {
  // SQLITE_STATIC: the caller's string outlives the statement's use (the
  // connection resets and clears bindings before returning). A null data
  // pointer would bind NULL, so an empty view binds "" explicitly.
  check_bind(st, sqlite3_bind_text64(st.stmt, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC, SQLITE_UTF8));
}
void bind_blob(statement& st, int i, std::span<const std::byte> v) {
  if (v.empty())
    check_bind(st, sqlite3_bind_zeroblob(st.stmt, i, 0));
  else
    check_bind(st, sqlite3_bind_blob64(st.stmt, i, v.data(), v.size(), SQLITE_STATIC));
}
int parameter_count(statement& st) noexcept { return sqlite3_bind_parameter_count(st.stmt); }
void throw_param_count(statement& st, int given) {
  throw error(SQLITE_RANGE, fmt::format("db: statement expects {} parameter(s), {} given: {}",
                                        sqlite3_bind_parameter_count(st.stmt), given, st.sql));
}
void throw_param_range(statement& st, int i) {
  throw error(SQLITE_RANGE, fmt::format("db: parameter {} does not fit a signed 64-bit integer: {}", i, st.sql));
}

// ---- reading ---------------------------------------------------------------

bool step(statement& st) {
  // A step on a statement that is not running (just prepared, reset, or
  // run to completion) starts an execution: count it there, once, however
  // many rows follow and whether or not it then fails.
  if (!sqlite3_stmt_busy(st.stmt)) count_execution(*st.executions);
  int rc = sqlite3_step(st.stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw make_error(sqlite3_db_handle(st.stmt), rc, st.sql);
}

int column_count(statement& st) noexcept { return sqlite3_column_count(st.stmt); }
std::string_view column_name(statement& st, int i) {
  const char* n = sqlite3_column_name(st.stmt, i);
  if (!n) throw std::bad_alloc();
  return n;
}
int find_column(statement& st, std::string_view name) noexcept {
  int n = sqlite3_column_count(st.stmt);
  for (int i = 0; i < n; ++i) {
    const char* c = sqlite3_column_name(st.stmt, i);
    if (c && name == c) return i;
  }
  return -1;
}
void throw_missing_column(statement& st, std::string_view name) {
  throw error(SQLITE_MISMATCH, fmt::format("db: result has no column '{}' (in: {})", name, st.sql),
              constraint_kind::none, true);
}
bool column_is_null(statement& st, int i) noexcept { return sqlite3_column_type(st.stmt, i) == SQLITE_NULL; }
void throw_null_column(statement& st, int i) {
  throw error(SQLITE_MISMATCH,
              fmt::format("db: column '{}' is NULL but the field is not std::optional (in: {})",
                          sqlite3_column_name(st.stmt, i), st.sql),
              constraint_kind::none, true);
}
void throw_out_of_range(statement& st, int i, std::int64_t v) {
  throw error(SQLITE_MISMATCH,
              fmt::format("db: column '{}' value {} is out of range for the field (in: {})",
                          sqlite3_column_name(st.stmt, i), v, st.sql),
              constraint_kind::none, true);
}
void throw_bad_enum(statement& st, int i) {
  throw error(SQLITE_MISMATCH,
              fmt::format("db: column '{}' holds '{}', not a name of the enum (in: {})",
                          sqlite3_column_name(st.stmt, i),
                          reinterpret_cast<const char*>(sqlite3_column_text(st.stmt, i)), st.sql),
              constraint_kind::none, true);
}

void read(statement& st, int i, std::int64_t& out) {
  expect(st, i, SQLITE_INTEGER, "an integer");
  out = sqlite3_column_int64(st.stmt, i);
}
void read(statement& st, int i, bool& out) {
  expect(st, i, SQLITE_INTEGER, "an integer (bool)");
  out = sqlite3_column_int64(st.stmt, i) != 0;
}
void read(statement& st, int i, double& out) {
  int t = sqlite3_column_type(st.stmt, i);
  if (t != SQLITE_INTEGER) expect(st, i, SQLITE_FLOAT, "a number");
  out = sqlite3_column_double(st.stmt, i);
}
void read(statement& st, int i, std::string& out) {
  expect(st, i, SQLITE_TEXT, "TEXT");
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st.stmt, i));
  out.assign(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st.stmt, i)));
}
void read(statement& st, int i, blob& out) {
  expect(st, i, SQLITE_BLOB, "a BLOB");
  auto* p = static_cast<const std::byte*>(sqlite3_column_blob(st.stmt, i));
  out.assign(p, p + sqlite3_column_bytes(st.stmt, i));
}
void read(statement& st, int i, time_point& out) {
  int t = sqlite3_column_type(st.stmt, i);
  if (t == SQLITE_INTEGER) {
    out = time_point(std::chrono::milliseconds(sqlite3_column_int64(st.stmt, i)));
    return;
  }
  expect(st, i, SQLITE_TEXT, "a time (INTEGER unix ms or RFC 3339 TEXT)");
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st.stmt, i));
  auto tp = parse_time(std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(st.stmt, i))));
  if (!tp) throw_mapping(st, i, "an RFC 3339 time");
  out = *tp;
}
void read(statement& st, int i, value& out) {
  switch (sqlite3_column_type(st.stmt, i)) {
    case SQLITE_INTEGER: out = value(static_cast<std::int64_t>(sqlite3_column_int64(st.stmt, i))); break;
    case SQLITE_FLOAT: out = value(sqlite3_column_double(st.stmt, i)); break;
    case SQLITE_TEXT: {
      std::string s;
      read(st, i, s);
      out = value(std::move(s));
      break;
    }
    case SQLITE_BLOB: {
      blob b;
      read(st, i, b);
      out = value(std::move(b));
      break;
    }
    default: out = value(); break;
  }
}

}  // namespace fastjson::db::detail

namespace fastjson::db {

detail::statement& sqlite::connection::prepare(std::string_view sql) { return impl_->prepare(sql); }

bool sqlite::connection::is_read_only(std::string_view sql) {
  return sqlite3_stmt_readonly(impl_->prepare(sql, false).stmt) != 0;
}

bool sqlite::connection::is_writer() const noexcept { return impl_->writer; }

void sqlite::connection::execute_script(std::string_view sql) { impl_->exec(sql); }

void sqlite::connection::release(detail::statement& st) noexcept {
  sqlite3_reset(st.stmt);
  sqlite3_clear_bindings(st.stmt);
}

exec_result sqlite::connection::result_of_last() const noexcept {
  return {sqlite3_changes64(impl_->db), sqlite3_last_insert_rowid(impl_->db)};
}

}  // namespace fastjson::db
