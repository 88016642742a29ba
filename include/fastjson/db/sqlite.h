#pragma once
/// \file db/sqlite.h
/// SQLite, the embedded default database, used from coroutines without ever
/// blocking a loop thread.
///
/// \code
///   auto db = fastjson::db::sqlite::open({.path = "app.db",
///                                          .migrations = {"CREATE TABLE todos(...)"}});
///   // in a handler returning fastjson::task<>:
///   auto row = co_await db->query_one<todo>("SELECT * FROM todos WHERE id = ?", id);
///   auto r = co_await db->execute("INSERT INTO todos(title) VALUES(?)", title);
///   co_await db->transaction([&](fastjson::db::sqlite::connection& c) {
///     c.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", amount, from);
///     c.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", amount, to);
///   });
/// \endcode
///
/// Threading: the object owns one writer connection on its own thread and
/// `options::readers` reader connections, each on its own thread. Awaiting a
/// statement pushes a job onto a queue (the only lock a loop thread takes),
/// the statement runs on a db thread, and the coroutine resumes on the loop
/// thread that awaited (through `loop::post`), or directly on the db thread
/// when awaited off any loop (`sync_wait` in main() or a test).
/// See docs/DATABASE.md for routing, durability and type mapping.
///
/// SQLite itself is a private dependency: this header does not include
/// <sqlite3.h>.

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "fastjson/json/reflect.h"
#include "fastjson/loop.h"
#include "fastjson/task.h"

namespace fastjson::db {

/// Which constraint a failed statement violated, for mapping to 409/422.
enum class constraint_kind { none, unique, primary_key, check, foreign_key, not_null, other };

/// Every failure of this layer. `code()` is the SQLite *extended* result code
/// (e.g. 2067 = SQLITE_CONSTRAINT_UNIQUE); errors raised by fastjson itself
/// (row mapping, wrong parameter count) carry SQLITE_MISMATCH (20) or
/// SQLITE_RANGE (25) / SQLITE_MISUSE (21) and `is_mapping()` for the former.
class error : public std::runtime_error {
 public:
  error(int code, const std::string& message, constraint_kind c = constraint_kind::none,
        bool mapping = false, bool timeout = false)
      : std::runtime_error(message), code_(code), constraint_(c), mapping_(mapping), timeout_(timeout) {}

  /// The SQLite extended result code.
  int code() const noexcept { return code_; }
  /// The primary result code (`code() & 0xff`), e.g. 19 = SQLITE_CONSTRAINT.
  int primary_code() const noexcept { return code_ & 0xff; }
  /// Which constraint failed, or `none`.
  constraint_kind constraint() const noexcept { return constraint_; }
  /// True for any SQLITE_CONSTRAINT_* failure (typically 409 or 422).
  bool is_constraint() const noexcept { return constraint_ != constraint_kind::none; }
  /// True when a result row did not fit the requested type (missing column,
  /// NULL into a non-optional, wrong storage class, out of range).
  bool is_mapping() const noexcept { return mapping_; }
  /// True when the job ran past `options::job_timeout_ms` and was cut off
  /// (code SQLITE_INTERRUPT); typically answered 503.
  bool is_timeout() const noexcept { return timeout_; }

 private:
  int code_;
  constraint_kind constraint_;
  bool mapping_;
  bool timeout_;
};

/// Bytes for BLOB columns (bind it, or a std::span<const std::byte>).
using blob = std::vector<std::byte>;

/// What `execute` reports.
struct exec_result {
  std::int64_t changes = 0;         ///< rows changed by the statement
  std::int64_t last_insert_id = 0;  ///< rowid of the last insert on the writer connection
};

/// One column value of a generic `row`, owned.
class value {
 public:
  enum class type { null, integer, real, text, blob };
  using storage = std::variant<std::monostate, std::int64_t, double, std::string, blob>;

  value() = default;
  explicit value(storage v) : v_(std::move(v)) {}

  type kind() const noexcept { return static_cast<type>(v_.index()); }
  bool is_null() const noexcept { return v_.index() == 0; }
  const storage& raw() const noexcept { return v_; }

  /// The value converted with the same rules as struct mapping (see
  /// docs/DATABASE.md); throws db::error (is_mapping) on a mismatch.
  template <class T>
  T as(std::string_view column = "?") const;

 private:
  storage v_;
};

/// A result row read generically (`query<db::row>`), owned and independent of
/// the connection. Column names are shared by all rows of one result.
class row {
 public:
  row() = default;
  row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<value> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}

  std::size_t size() const noexcept { return values_.size(); }
  std::string_view column_name(std::size_t i) const { return (*columns_).at(i); }
  /// The index of `column`, or -1.
  std::ptrdiff_t find(std::string_view column) const noexcept {
    if (!columns_) return -1;
    for (std::size_t i = 0; i < columns_->size(); ++i)
      if ((*columns_)[i] == column) return static_cast<std::ptrdiff_t>(i);
    return -1;
  }
  /// Bounds-checked access; throws db::error naming the column when absent.
  const value& operator[](std::size_t i) const;
  const value& operator[](std::string_view column) const;

  template <class T>
  T get(std::size_t i) const {
    return (*this)[i].as<T>(column_name(i));
  }
  template <class T>
  T get(std::string_view column) const {
    return (*this)[column].as<T>(column);
  }

 private:
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<value> values_;
};

namespace detail {

class statement;        // a prepared statement in a connection's cache (src/db/)
struct connection_impl; // one sqlite3* and its statement cache
struct sqlite_impl;     // the threads, queues and connections

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
inline constexpr bool dependent_false_v = false;

using time_point = std::chrono::system_clock::time_point;

// Binding (src/db/statement.cc). Indexes are 1-based like SQLite's. Text and
// blobs are bound without copying: callers keep them alive until the
// statement is reset, which the connection does before returning.
void bind_null(statement& st, int i);
void bind_int(statement& st, int i, std::int64_t v);
void bind_double(statement& st, int i, double v);
void bind_text(statement& st, int i, std::string_view v);
void bind_blob(statement& st, int i, std::span<const std::byte> v);
int parameter_count(statement& st) noexcept;
[[noreturn]] void throw_param_count(statement& st, int given);
[[noreturn]] void throw_param_range(statement& st, int i);

// Reading the current row (src/db/statement.cc). Each read checks the storage
// class and throws a mapping error naming the column.
int column_count(statement& st) noexcept;
std::string_view column_name(statement& st, int i);
int find_column(statement& st, std::string_view name) noexcept;
[[noreturn]] void throw_missing_column(statement& st, std::string_view name);
bool column_is_null(statement& st, int i) noexcept;
void read(statement& st, int i, std::int64_t& out);
void read(statement& st, int i, double& out);
void read(statement& st, int i, bool& out);
void read(statement& st, int i, std::string& out);
void read(statement& st, int i, blob& out);
void read(statement& st, int i, time_point& out);
void read(statement& st, int i, value& out);
[[noreturn]] void throw_null_column(statement& st, int i);
[[noreturn]] void throw_out_of_range(statement& st, int i, std::int64_t v);
[[noreturn]] void throw_bad_enum(statement& st, int i);
/// Steps; true when a row is ready, false when done; throws db::error.
bool step(statement& st);

// The same conversions for an owned `value` (src/db/value.cc).
void convert(const value& v, std::string_view column, std::int64_t& out);
void convert(const value& v, std::string_view column, double& out);
void convert(const value& v, std::string_view column, bool& out);
void convert(const value& v, std::string_view column, std::string& out);
void convert(const value& v, std::string_view column, blob& out);
void convert(const value& v, std::string_view column, time_point& out);
[[noreturn]] void throw_value_null(std::string_view column);
[[noreturn]] void throw_value_range(std::string_view column, std::int64_t v);
[[noreturn]] void throw_value_enum(std::string_view column);

template <class A>
void bind_arg(statement& st, int i, const A& a) {
  if constexpr (is_optional<A>::value) {
    if (a)
      bind_arg(st, i, *a);
    else
      bind_null(st, i);
  } else if constexpr (std::is_same_v<A, std::nullopt_t> || std::is_same_v<A, std::nullptr_t>) {
    bind_null(st, i);
  } else if constexpr (std::is_same_v<A, bool>) {
    bind_int(st, i, a ? 1 : 0);
  } else if constexpr (std::is_integral_v<A>) {
    if constexpr (std::is_unsigned_v<A> && sizeof(A) >= sizeof(std::int64_t)) {
      if (a > static_cast<A>(std::numeric_limits<std::int64_t>::max())) throw_param_range(st, i);
    }
    bind_int(st, i, static_cast<std::int64_t>(a));
  } else if constexpr (std::is_floating_point_v<A>) {
    bind_double(st, i, static_cast<double>(a));
  } else if constexpr (std::is_enum_v<A>) {
    if constexpr (reflect::is_reflected_enum_v<A>)
      bind_text(st, i, reflect::enum_name(a));
    else
      bind_int(st, i, static_cast<std::int64_t>(a));
  } else if constexpr (std::is_convertible_v<const A&, std::string_view>) {
    bind_text(st, i, std::string_view(a));
  } else if constexpr (std::is_convertible_v<const A&, std::span<const std::byte>>) {
    bind_blob(st, i, std::span<const std::byte>(a));
  } else if constexpr (std::is_same_v<A, time_point>) {
    bind_int(st, i,
             std::chrono::duration_cast<std::chrono::milliseconds>(a.time_since_epoch()).count());
  } else {
    static_assert(dependent_false_v<A>, "fastjson::db: unsupported parameter type");
  }
}

template <class... Args>
void bind_all(statement& st, const Args&... args) {
  int given = static_cast<int>(sizeof...(Args));
  if (parameter_count(st) != given) throw_param_count(st, given);
  int i = 0;
  (bind_arg(st, ++i, args), ...);
}

/// True for member/value types the mapper can read.
template <class M>
inline constexpr bool is_column_type_v =
    std::is_arithmetic_v<M> || std::is_enum_v<M> || std::is_same_v<M, std::string> ||
    std::is_same_v<M, blob> || std::is_same_v<M, time_point> || std::is_same_v<M, value>;

template <class M>
struct is_column_or_optional : std::bool_constant<is_column_type_v<M>> {};
template <class M>
struct is_column_or_optional<std::optional<M>> : std::bool_constant<is_column_type_v<M>> {};

/// Reads column `i` of the current row into `out`.
template <class M>
void read_column(statement& st, int i, M& out) {
  if constexpr (is_optional<M>::value) {
    if (column_is_null(st, i)) {
      out.reset();
    } else {
      typename M::value_type v{};
      read_column(st, i, v);
      out = std::move(v);
    }
  } else if constexpr (std::is_same_v<M, bool> || std::is_same_v<M, std::int64_t> ||
                       std::is_same_v<M, double> || std::is_same_v<M, std::string> ||
                       std::is_same_v<M, blob> || std::is_same_v<M, time_point> ||
                       std::is_same_v<M, value>) {
    read(st, i, out);
  } else if constexpr (std::is_integral_v<M>) {
    std::int64_t v;
    read(st, i, v);
    if (!std::in_range<M>(v)) throw_out_of_range(st, i, v);
    out = static_cast<M>(v);
  } else if constexpr (std::is_floating_point_v<M>) {
    double v;
    read(st, i, v);
    out = static_cast<M>(v);
  } else if constexpr (std::is_enum_v<M>) {
    if constexpr (reflect::is_reflected_enum_v<M>) {
      std::string s;
      read(st, i, s);
      if (!reflect::enum_from_name(std::string_view(s), out)) throw_bad_enum(st, i);
    } else {
      std::int64_t v;
      read(st, i, v);
      out = static_cast<M>(v);
    }
  } else {
    static_assert(dependent_false_v<M>, "fastjson::db: unsupported column type");
  }
}

/// Turns result rows of one statement into `T`s: a FASTJSON_REFLECT struct
/// (by column name), a `db::row`, or a single value (the first column).
template <class T>
class row_reader {
 public:
  explicit row_reader(statement& st) : st_(st) {
    if constexpr (reflect::is_reflected_v<T>) {
      // Resolve column indexes once per result, not once per row.
      std::size_t k = 0;
      reflect::for_each_field<T>([&](std::string_view name, auto) {
        int i = find_column(st_, name);
        if (i < 0) throw_missing_column(st_, name);
        index_[k++] = i;
      });
    } else if constexpr (std::is_same_v<T, row>) {
      auto names = std::make_shared<std::vector<std::string>>();
      int n = column_count(st_);
      for (int i = 0; i < n; ++i) names->emplace_back(column_name(st_, i));
      names_ = std::move(names);
    } else {
      if (column_count(st_) < 1) throw_missing_column(st_, "(first column)");
    }
  }

  T read_row() {
    if constexpr (reflect::is_reflected_v<T>) {
      T obj{};
      std::size_t k = 0;
      reflect::for_each_field(obj, [&](std::string_view, auto& member) {
        read_column(st_, index_[k++], member);
      });
      return obj;
    } else if constexpr (std::is_same_v<T, row>) {
      std::vector<value> vals(names_->size());
      for (std::size_t i = 0; i < vals.size(); ++i) read(st_, static_cast<int>(i), vals[i]);
      return row(names_, std::move(vals));
    } else {
      static_assert(is_column_or_optional<T>::value,
                    "fastjson::db: query<T> needs a FASTJSON_REFLECT struct, db::row, or a "
                    "column type (integer, bool, double, std::string, blob, time_point, "
                    "std::optional of those)");
      T v{};
      read_column(st_, 0, v);
      return v;
    }
  }

 private:
  struct no_index {};
  static constexpr auto make_index() {
    if constexpr (reflect::is_reflected_v<T>)
      return std::array<int, reflect::field_count_v<T>>{};
    else
      return no_index{};
  }
  statement& st_;
  decltype(make_index()) index_ = make_index();
  std::shared_ptr<const std::vector<std::string>> names_;
};

/// Arguments as stored in a job crossing to a db thread: views become owned
/// strings/blobs so a lazily started task never reads a dangling view.
template <class A>
struct owned {
  using type = std::decay_t<A>;
};
template <>
struct owned<std::string_view> {
  using type = std::string;
};
template <>
struct owned<const char*> {
  using type = std::string;
};
template <>
struct owned<char*> {
  using type = std::string;
};
template <>
struct owned<std::span<const std::byte>> {
  using type = blob;
};
template <class A>
using owned_t = typename owned<std::decay_t<A>>::type;

/// Which connection(s) a job may run on.
enum class target { reader, writer };

/// A job for a db thread. Lives inside the awaiting coroutine's frame, so
/// submitting one allocates nothing beyond the queue slot.
///
/// The frame can be destroyed before the job is done (a request dropped at
/// the shutdown deadline): its awaiter then calls `withdraw`, which takes a
/// queued job off its queue, or interrupts a running one
/// (sqlite3_interrupt) and waits until the db thread has let go of it. The
/// state below is guarded by the database's job mutex.
struct job {
  loop* home = nullptr;
  std::coroutine_handle<> waiter;
  std::exception_ptr error;
  connection_impl* running_on = nullptr;  // the connection running it, if any
  bool released = false;                  // the db thread will not touch it again
  bool abandoned = false;                 // its frame is being destroyed
  /// Runs on a db thread. Returns false, without side effects, when a job
  /// submitted to a reader turns out to need the writer (the statement is
  /// not read-only); the pool then moves it to the writer's queue.
  virtual bool run(connection_impl& c) = 0;

 protected:
  ~job() = default;
};

void submit(sqlite_impl& db, target t, job* j);
/// Called by a job's awaiter when its frame is destroyed before the job
/// completed: afterwards no db thread touches `j` and nothing resumes it.
void withdraw(sqlite_impl& db, job* j) noexcept;

}  // namespace detail

/// A SQLite database: one writer thread and N reader threads, each with its
/// own connection. Create with `sqlite::open`; share the returned pointer.
class sqlite : public std::enable_shared_from_this<sqlite> {
 public:
  struct options {
    /// Database file; created if missing. ":memory:" (or "") gives a private
    /// in-memory database served by the writer alone (readers forced to 0).
    std::string path = {};
    /// PRAGMA synchronous=FULL instead of NORMAL: survive power loss / OS
    /// crash at the cost of an fsync per commit. See docs/DATABASE.md.
    bool synchronous_full = false;
    /// How long a statement waits on a lock held by another process.
    int busy_timeout_ms = 5000;
    /// Reader connections (threads). 0 sends everything to the writer.
    int readers = 2;
    /// Ordered SQL scripts; script k (0-based) is migration version k+1.
    /// Applied at open, each once, each in its own transaction.
    std::vector<std::string> migrations = {};
    /// Prepared statements kept per connection (the cache is cleared when full).
    int statement_cache_size = 256;
    /// Longest a job may run on its db thread: one awaited statement, or a
    /// whole `transaction` / `read` body. Past it the running statement is
    /// interrupted (checked every 1000 SQLite VM steps) and any later one
    /// refused, a transaction rolls back, and the awaiter gets a db::error
    /// with is_timeout() (code SQLITE_INTERRUPT). A runaway query then frees
    /// its thread instead of holding it. 0 = no limit. Migrations at open
    /// are not limited.
    int job_timeout_ms = 0;
  };

  /// Statement-cache counters, summed over all connections.
  struct stats {
    std::uint64_t prepared = 0;    ///< statements compiled (cache misses)
    std::uint64_t cache_hits = 0;  ///< executions that reused a cached statement
  };

  /// Statements executed, by kind, summed over all connections (see
  /// `executed()`). The kind is the statement's leading keyword (after
  /// whitespace and comments; for `WITH`, the keyword after the common
  /// table expressions).
  struct statement_counts {
    std::uint64_t selects = 0;  ///< SELECT, VALUES
    std::uint64_t inserts = 0;  ///< INSERT, REPLACE
    std::uint64_t updates = 0;  ///< UPDATE
    std::uint64_t deletes = 0;  ///< DELETE
    std::uint64_t others = 0;   ///< the rest: BEGIN, COMMIT, ROLLBACK, PRAGMA, CREATE, ...

    std::uint64_t total() const noexcept { return selects + inserts + updates + deletes + others; }
    /// The counts of `a` minus those of `b` (`after - before` gives what ran in between).
    friend statement_counts operator-(const statement_counts& a, const statement_counts& b) noexcept {
      return {a.selects - b.selects, a.inserts - b.inserts, a.updates - b.updates, a.deletes - b.deletes,
              a.others - b.others};
    }
    friend bool operator==(const statement_counts&, const statement_counts&) = default;
  };

  /// A connection as seen from the db thread that owns it: synchronous calls
  /// with the same binding and mapping as the awaitables. Handed to
  /// `transaction` bodies; valid only during the call that received it.
  class connection {
   public:
    explicit connection(detail::connection_impl& impl) noexcept : impl_(&impl) {}

    template <class T, class... Args>
    std::vector<T> query(std::string_view sql, const Args&... args) {
      detail::statement& st = prepare(sql);
      lease l(*this, st);
      detail::bind_all(st, args...);
      detail::row_reader<T> reader(st);  // checks the columns, even for an empty result
      std::vector<T> out;
      while (detail::step(st)) out.push_back(reader.read_row());
      return out;
    }

    /// The first row, or nullopt. Further rows are not read.
    template <class T, class... Args>
    std::optional<T> query_one(std::string_view sql, const Args&... args) {
      detail::statement& st = prepare(sql);
      lease l(*this, st);
      detail::bind_all(st, args...);
      detail::row_reader<T> reader(st);
      if (!detail::step(st)) return std::nullopt;
      return reader.read_row();
    }

    /// The first column of the first row; nullopt when there is no row or
    /// the value is NULL.
    template <class V, class... Args>
    std::optional<V> query_value(std::string_view sql, const Args&... args) {
      auto v = query_one<std::optional<V>>(sql, args...);
      if (!v) return std::nullopt;
      return std::move(*v);
    }

    /// Runs one statement to completion (rows it returns are discarded).
    template <class... Args>
    exec_result execute(std::string_view sql, const Args&... args) {
      detail::statement& st = prepare(sql);
      lease l(*this, st);
      detail::bind_all(st, args...);
      while (detail::step(st)) {
      }
      return result_of_last();
    }

    /// Runs several `;`-separated statements without parameters (schema
    /// scripts). Not cached.
    void execute_script(std::string_view sql);

    /// True on the writer connection.
    bool is_writer() const noexcept;

    /// Internal: the cached prepared statement for `sql` (throws db::error).
    detail::statement& prepare(std::string_view sql);
    /// Internal: true if `sql` does not write (sqlite3_stmt_readonly).
    bool is_read_only(std::string_view sql);

   private:
    // Resets the statement and clears its bindings when the call ends, so a
    // reader never holds a read transaction (or bound views) between calls.
    struct lease {
      connection& c;
      detail::statement& st;
      lease(connection& c_, detail::statement& s) : c(c_), st(s) {}
      ~lease() { c.release(st); }
    };
    void release(detail::statement& st) noexcept;
    exec_result result_of_last() const noexcept;

    detail::connection_impl* impl_;
  };

  /// Opens (creating if needed) the database, applies pragmas and pending
  /// migrations, and starts the threads. Throws db::error.
  static std::shared_ptr<sqlite> open(options opts);

  ~sqlite();  // drains every queued job, then joins the threads
  sqlite(const sqlite&) = delete;
  sqlite& operator=(const sqlite&) = delete;

  /// All rows, mapped to `T` (a FASTJSON_REFLECT struct by column name,
  /// `db::row`, or a single column type). Runs on a reader; a statement that
  /// writes (`INSERT ... RETURNING`) is detected and routed to the writer.
  template <class T, class... Args>
  task<std::vector<T>> query(std::string_view sql, Args&&... args) {
    return run_query<std::vector<T>>(
        std::string(sql), [](connection& c, const std::string& s, const auto&... a) {
          return c.query<T>(s, a...);
        },
        std::forward<Args>(args)...);
  }

  /// The first row, or nullopt.
  template <class T, class... Args>
  task<std::optional<T>> query_one(std::string_view sql, Args&&... args) {
    return run_query<std::optional<T>>(
        std::string(sql), [](connection& c, const std::string& s, const auto&... a) {
          return c.query_one<T>(s, a...);
        },
        std::forward<Args>(args)...);
  }

  /// The first column of the first row (nullopt: no row, or NULL).
  template <class V, class... Args>
  task<std::optional<V>> query_value(std::string_view sql, Args&&... args) {
    return run_query<std::optional<V>>(
        std::string(sql), [](connection& c, const std::string& s, const auto&... a) {
          return c.query_value<V>(s, a...);
        },
        std::forward<Args>(args)...);
  }

  /// Runs a statement on the writer. The write is committed (autocommit)
  /// before the coroutine resumes.
  template <class... Args>
  task<exec_result> execute(std::string_view sql, Args&&... args) {
    return run_on_writer<exec_result>(
        std::string(sql), [](connection& c, const std::string& s, const auto&... a) {
          return c.execute(s, a...);
        },
        std::forward<Args>(args)...);
  }

  /// Runs `body(connection&)` on the writer thread inside BEGIN IMMEDIATE ...
  /// COMMIT; ROLLBACK if it throws (the exception reaches the awaiter).
  /// Resumes after COMMIT returned. The body is synchronous: it must not
  /// await anything, and should not block on anything but the database.
  template <class Fn>
  auto transaction(Fn body) -> task<std::invoke_result_t<Fn&, connection&>> {
    return run_body(std::move(body), detail::target::writer, &begin);
  }

  /// Runs `body(connection&)` on a reader thread (the writer if there are
  /// none) inside one read transaction (BEGIN ... COMMIT): every statement
  /// in it sees the same snapshot, and the whole body is one hop to a db
  /// thread and back, however many statements it runs. The body is
  /// synchronous like a `transaction` body; a write in it fails with
  /// SQLITE_READONLY (readers are opened query_only).
  template <class Fn>
  auto read(Fn body) -> task<std::invoke_result_t<Fn&, connection&>> {
    return run_body(std::move(body), detail::target::reader, &begin_read);
  }

  /// Readiness check: `SELECT 1` on a reader (on the writer if there are
  /// none). Throws db::error if the database is unusable.
  task<void> ping();

  /// Statement-cache counters (relaxed atomics; approximate while running).
  stats statistics() const noexcept;

  /// Statements executed since open, by kind, over the writer and every
  /// reader (the migrations and pragmas run at open included). A statement
  /// counts once per execution -- when its first step runs after a prepare
  /// or reset -- not once per row, and whether it then succeeds or fails;
  /// each statement of an `execute_script` (or a migration) counts, and so
  /// do the BEGIN / COMMIT / ROLLBACK that `transaction` and `read` issue
  /// (as `others`). Each connection keeps its own counters, written only by
  /// its db thread (relaxed atomics, no lock and no read-modify-write on the
  /// query path); this sums them. While jobs run the sum can trail by the
  /// statements in flight; once every awaited call has resumed it is exact,
  /// so `after - before` around a batch of requests counts that batch.
  ///
  /// \code
  ///   auto before = db->executed();
  ///   co_await db->execute("UPDATE t SET x = 1 WHERE id = ?", 7);
  ///   assert((db->executed() - before).updates == 1);
  /// \endcode
  statement_counts executed() const noexcept;

  /// The options the database was opened with.
  const options& config() const noexcept;

  explicit sqlite(std::unique_ptr<detail::sqlite_impl> impl);  // use open()

 private:
  template <class R, class Work>
  struct op final : detail::job {
    detail::sqlite_impl& db;
    detail::target where;
    const std::string* route_sql;  // checked for read-only-ness on readers
    Work& work;
    std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};

    op(detail::sqlite_impl& d, detail::target t, const std::string* sql, Work& w)
        : db(d), where(t), route_sql(sql), work(w) {}
    op(const op&) = delete;
    op& operator=(const op&) = delete;
    ~op() {
      if (pending) detail::withdraw(db, this);  // the frame dies mid-query
    }
    bool pending = false;  // submitted and not resumed
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      waiter = h;
      home = loop::current();
      pending = true;
      detail::submit(db, where, this);
    }
    R await_resume() {
      pending = false;  // released by the db thread before it resumed us
      if (error) std::rethrow_exception(error);
      if constexpr (!std::is_void_v<R>) return std::move(*result);
    }
    bool run(detail::connection_impl& impl) override {
      connection c(impl);
      if (route_sql && !c.is_writer() && !c.is_read_only(*route_sql)) return false;
      if constexpr (std::is_void_v<R>)
        work(c);
      else
        result.emplace(work(c));
      return true;
    }
  };

  template <class R, class Fn, class... Args>
  task<R> run_query(std::string sql, Fn fn, Args&&... args) {
    return run_job<R>(detail::target::reader, std::move(sql), fn, std::forward<Args>(args)...);
  }
  template <class R, class Fn, class... Args>
  task<R> run_on_writer(std::string sql, Fn fn, Args&&... args) {
    return run_job<R>(detail::target::writer, std::move(sql), fn, std::forward<Args>(args)...);
  }
  // Not a coroutine itself: arguments are converted to owned values *now*,
  // so string_view arguments may die as soon as the task is created.
  template <class R, class Fn, class... Args>
  task<R> run_job(detail::target t, std::string sql, Fn fn, Args&&... args) {
    return run_owned<R>(t, std::move(sql), fn,
                        std::tuple<detail::owned_t<Args>...>(std::forward<Args>(args)...));
  }
  template <class R, class Fn, class Tuple>
  task<R> run_owned(detail::target t, std::string sql, Fn fn, Tuple args) {
    auto keep = shared_from_this();  // the database outlives the job
    auto work = [&](connection& c) -> R {
      return std::apply([&](const auto&... a) { return fn(c, sql, a...); }, args);
    };
    co_return co_await op<R, decltype(work)>(*impl_, t, t == detail::target::reader ? &sql : nullptr,
                                             work);
  }

  static void begin(connection& c);
  static void begin_read(connection& c);
  static void commit(connection& c);
  static void rollback(connection& c) noexcept;
  // transaction() / read(): one job on `t` running open(c), body(c), COMMIT
  // -- or ROLLBACK and rethrow.
  template <class Fn>
  task<std::invoke_result_t<Fn&, connection&>> run_body(Fn body, detail::target t, void (*open)(connection&)) {
    using R = std::invoke_result_t<Fn&, connection&>;
    auto keep = shared_from_this();
    auto work = [&body, open](connection& c) -> R {
      open(c);
      try {
        if constexpr (std::is_void_v<R>) {
          body(c);
          commit(c);
        } else {
          R r = body(c);
          commit(c);
          return r;
        }
      } catch (...) {
        rollback(c);
        throw;
      }
    };
    co_return co_await op<R, decltype(work)>(*impl_, t, nullptr, work);
  }

  std::unique_ptr<detail::sqlite_impl> impl_;
};

template <class T>
T value::as(std::string_view column) const {
  if constexpr (detail::is_optional<T>::value) {
    if (is_null()) return std::nullopt;
    return as<typename T::value_type>(column);
  } else if constexpr (std::is_same_v<T, value>) {
    return *this;
  } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> ||
                       std::is_same_v<T, double> || std::is_same_v<T, std::string> ||
                       std::is_same_v<T, blob> || std::is_same_v<T, detail::time_point>) {
    T out{};
    detail::convert(*this, column, out);
    return out;
  } else if constexpr (std::is_integral_v<T>) {
    std::int64_t v;
    detail::convert(*this, column, v);
    if (!std::in_range<T>(v)) detail::throw_value_range(column, v);
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    double v;
    detail::convert(*this, column, v);
    return static_cast<T>(v);
  } else if constexpr (std::is_enum_v<T>) {
    if constexpr (reflect::is_reflected_enum_v<T>) {
      std::string s;
      detail::convert(*this, column, s);
      T out{};
      if (!reflect::enum_from_name(std::string_view(s), out)) detail::throw_value_enum(column);
      return out;
    } else {
      std::int64_t v;
      detail::convert(*this, column, v);
      return static_cast<T>(v);
    }
  } else {
    static_assert(detail::dependent_false_v<T>, "fastjson::db: unsupported value type");
  }
}

}  // namespace fastjson::db
