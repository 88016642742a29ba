// fastjson::db::sqlite: pragmas, migrations, binding and mapping, errors,
// transactions, the statement cache, the statement counters and concurrent
// readers. All awaitables are driven with sync_wait (no loop: they resume on
// the db threads).

#include <atomic>
#include <chrono>
#include <filesystem>
#include <latch>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "fastjson/db/sqlite.h"

namespace {

namespace fs = std::filesystem;
using fastjson::sync_wait;
using fastjson::task;
using fastjson::db::sqlite;

// A unique database file, removed (with its -wal/-shm) at scope exit.
struct temp_db {
  std::string path;
  temp_db() {
    std::random_device rd;
    path = (fs::temp_directory_path() /
            ("fastjson_db_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()) + ".db"))
               .string();
  }
  ~temp_db() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ec);
  }
};

const std::vector<std::string> todo_schema = {
    "CREATE TABLE todos(id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE CHECK(length(title) > 0), "
    "done INTEGER NOT NULL DEFAULT 0, due TEXT)",
};

}  // namespace

namespace dbtest {
struct todo {
  std::int64_t id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> due;
};
FASTJSON_REFLECT(todo, id, title, done, due)

struct renamed {
  int ident = 0;
  std::string name;
};
FASTJSON_REFLECT(renamed, (ident, "id"), (name, "title"))

struct everything {
  std::int64_t i64;
  int i32;
  double d;
  bool b;
  std::string s;
  std::optional<std::string> opt_null;
  std::optional<std::int64_t> opt_set;
  fastjson::db::blob bytes;
  std::chrono::system_clock::time_point when;
};
FASTJSON_REFLECT(everything, i64, i32, d, b, s, opt_null, opt_set, bytes, when)
}  // namespace dbtest

TEST_CASE("sqlite opens with WAL, foreign keys and the chosen synchronous level", "[db]") {
  temp_db f;
  {
    auto db = sqlite::open({.path = f.path});
    auto check = [&](fastjson::db::sqlite::connection& c) {
      CHECK(c.query_value<std::string>("PRAGMA journal_mode") == "wal");
      CHECK(c.query_value<int>("PRAGMA foreign_keys") == 1);
      return c.query_value<int>("PRAGMA synchronous").value_or(-1);
    };
    CHECK(sync_wait(db->transaction(check)) == 1);  // NORMAL
    // Readers see the same settings (synchronous is per connection).
    CHECK(sync_wait(db->query_value<int>("PRAGMA foreign_keys")) == 1);
    CHECK(sync_wait(db->query_value<int>("PRAGMA synchronous")) == 1);
    CHECK(sync_wait(db->query_value<std::string>("PRAGMA journal_mode")) == "wal");
  }
  auto db = sqlite::open({.path = f.path, .synchronous_full = true});
  CHECK(sync_wait(db->query_value<int>("PRAGMA synchronous")) == 2);  // FULL
  CHECK(db->config().synchronous_full);
}

TEST_CASE("sqlite open failure is a db::error", "[db]") {
  sqlite::options bad;
  bad.path = "/nonexistent-dir/x/y.db";
  CHECK_THROWS_AS(sqlite::open(bad), fastjson::db::error);
}

TEST_CASE("sqlite migrations are applied once, and only new ones on reopen", "[db]") {
  temp_db f;
  std::vector<std::string> m = {"CREATE TABLE a(x INTEGER)", "INSERT INTO a VALUES(1)"};
  {
    auto db = sqlite::open({.path = f.path, .migrations = m});
    CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM a")) == 1);
  }
  {
    auto db = sqlite::open({.path = f.path, .migrations = m});  // nothing new
    CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM a")) == 1);
  }
  m.push_back("INSERT INTO a VALUES(2); INSERT INTO a VALUES(3)");
  auto db = sqlite::open({.path = f.path, .migrations = m});
  CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM a")) == 3);
  auto versions = sync_wait(db->query<std::int64_t>("SELECT version FROM fastjson_migrations ORDER BY 1"));
  CHECK(versions == std::vector<std::int64_t>{1, 2, 3});
  auto applied = sync_wait(db->query_value<std::string>("SELECT applied_at FROM fastjson_migrations"));
  REQUIRE(applied);
  CHECK(applied->size() >= 20);  // 2024-05-01T12:00:00.000Z

  // A failing migration rolls back entirely and names its version.
  m.push_back("INSERT INTO a VALUES(4); INSERT INTO nope VALUES(1)");
  db.reset();
  try {
    sqlite::open({.path = f.path, .migrations = m});
    FAIL("expected a migration error");
  } catch (const fastjson::db::error& e) {
    CHECK(std::string(e.what()).find("migration 4") != std::string::npos);
  }
  db = sqlite::open({.path = f.path, .migrations = {m.begin(), m.end() - 1}});
  CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM a")) == 3);
  // A database newer than the program is refused.
  db.reset();
  CHECK_THROWS_AS(sqlite::open({.path = f.path, .migrations = {m[0]}}), fastjson::db::error);
}

TEST_CASE("sqlite binds every parameter type and maps them back", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path,
                          .migrations = {"CREATE TABLE t(i64, i32, d, b, s, opt_null, opt_set, bytes, when_ms)"}});
  using namespace std::chrono;
  auto now = time_point_cast<milliseconds>(system_clock::now());
  fastjson::db::blob bytes{std::byte{0}, std::byte{1}, std::byte{255}};
  std::string_view sv = "view";
  std::optional<std::int64_t> set = 42;
  auto r = sync_wait(db->execute("INSERT INTO t VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)", std::int64_t{1} << 40, -7, 2.5,
                                 true, sv, std::nullopt, set, bytes, system_clock::time_point(now)));
  CHECK(r.changes == 1);
  CHECK(r.last_insert_id == 1);
  sync_wait(db->execute("INSERT INTO t(s, opt_null) VALUES(?, ?)", "const char*", std::optional<std::string>{}));
  sync_wait(db->execute("INSERT INTO t(s) VALUES(?)", std::string("std::string")));

  auto rows = sync_wait(db->query<dbtest::everything>(
      "SELECT i64, i32, d, b, s, opt_null, opt_set, bytes, when_ms AS \"when\" FROM t WHERE rowid = 1"));
  REQUIRE(rows.size() == 1);
  auto& e = rows[0];
  CHECK(e.i64 == std::int64_t{1} << 40);
  CHECK(e.i32 == -7);
  CHECK(e.d == 2.5);
  CHECK(e.b);
  CHECK(e.s == "view");
  CHECK_FALSE(e.opt_null);
  CHECK(e.opt_set == 42);
  CHECK(e.bytes == bytes);
  CHECK(e.when == now);

  CHECK(sync_wait(db->query<std::string>("SELECT s FROM t ORDER BY rowid")) ==
        std::vector<std::string>{"view", "const char*", "std::string"});
  CHECK(sync_wait(db->query_value<std::int64_t>("SELECT count(*) FROM t WHERE opt_null IS NULL")) == 3);
  CHECK_FALSE(sync_wait(db->query_value<std::int64_t>("SELECT i64 FROM t WHERE rowid = 2")));  // NULL
  CHECK_FALSE(sync_wait(db->query_value<std::int64_t>("SELECT i64 FROM t WHERE rowid = 99")));  // no row

  // Generic rows: access by index and by name.
  auto g = sync_wait(db->query_one<fastjson::db::row>("SELECT i32, s, opt_null, d FROM t WHERE rowid = 1"));
  REQUIRE(g);
  CHECK(g->size() == 4);
  CHECK(g->get<int>(0) == -7);
  CHECK(g->get<std::string>("s") == "view");
  CHECK((*g)["opt_null"].is_null());
  CHECK_FALSE(g->get<std::optional<std::string>>("opt_null"));
  CHECK(g->get<double>(3) == 2.5);
  CHECK(g->column_name(1) == "s");
  CHECK_THROWS_AS(g->get<int>("missing"), fastjson::db::error);
  CHECK_THROWS_AS(g->get<int>("s"), fastjson::db::error);

  // RFC 3339 text is read into time_point too.
  auto t = sync_wait(db->query_value<std::chrono::system_clock::time_point>("SELECT '1970-01-01T00:00:01.5+01:00'"));
  REQUIRE(t);
  CHECK(t->time_since_epoch() == milliseconds(1500) - hours(1));
}

TEST_CASE("sqlite maps reflected structs by (renamed) column name", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .migrations = todo_schema});
  sync_wait(db->execute("INSERT INTO todos(title, due) VALUES(?, ?)", "write tests", "2030-01-01"));
  sync_wait(db->execute("INSERT INTO todos(title, done) VALUES(?, ?)", "ship", true));

  auto all = sync_wait(db->query<dbtest::todo>("SELECT * FROM todos ORDER BY id"));
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == 1);
  CHECK(all[0].title == "write tests");
  CHECK_FALSE(all[0].done);
  CHECK(all[0].due == "2030-01-01");
  CHECK(all[1].done);
  CHECK_FALSE(all[1].due);

  auto one = sync_wait(db->query_one<dbtest::todo>("SELECT * FROM todos WHERE id = ?", 2));
  REQUIRE(one);
  CHECK(one->title == "ship");
  CHECK_FALSE(sync_wait(db->query_one<dbtest::todo>("SELECT * FROM todos WHERE id = ?", 3)));

  auto r = sync_wait(db->query_one<dbtest::renamed>("SELECT id, title FROM todos WHERE id = 1"));
  REQUIRE(r);
  CHECK(r->ident == 1);
  CHECK(r->name == "write tests");
}

TEST_CASE("sqlite mapping errors name the column", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .migrations = todo_schema});
  sync_wait(db->execute("INSERT INTO todos(title) VALUES('x')"));
  auto message = [&](auto t) -> std::string {
    try {
      sync_wait(std::move(t));
    } catch (const fastjson::db::error& e) {
      CHECK(e.is_mapping());
      CHECK_FALSE(e.is_constraint());
      return e.what();
    }
    return "no error";
  };
  // Missing column, even when the result is empty.
  auto m = message(db->query<dbtest::todo>("SELECT id, title, done FROM todos"));
  CHECK_THAT(m, Catch::Contains("'due'"));
  m = message(db->query<dbtest::todo>("SELECT id, title, done FROM todos WHERE 0"));
  CHECK_THAT(m, Catch::Contains("'due'"));
  // Mistyped column.
  m = message(db->query<dbtest::todo>("SELECT id, title, 'yes' AS done, due FROM todos"));
  CHECK_THAT(m, Catch::Contains("'done'") && Catch::Contains("TEXT"));
  // NULL into a non-optional member.
  m = message(db->query<dbtest::todo>("SELECT id, NULL AS title, done, due FROM todos"));
  CHECK_THAT(m, Catch::Contains("'title'") && Catch::Contains("NULL"));
  // Out of range for the member type.
  m = message(db->query_value<std::int8_t>("SELECT 1000"));
  CHECK_THAT(m, Catch::Contains("out of range"));
}

TEST_CASE("sqlite reports bad SQL and bad parameters as errors, not crashes", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .migrations = todo_schema});
  CHECK_THROWS_AS(sync_wait(db->query<dbtest::todo>("SELEKT nonsense")), fastjson::db::error);
  CHECK_THROWS_AS(sync_wait(db->execute("INSERT INTO nope VALUES(1)")), fastjson::db::error);
  CHECK_THROWS_WITH(sync_wait(db->execute("INSERT INTO todos(title) VALUES(?)")),
                    Catch::Contains("expects 1 parameter(s), 0 given"));
  CHECK_THROWS_AS(sync_wait(db->execute("INSERT INTO todos(title) VALUES('a'); DELETE FROM todos")),
                  fastjson::db::error);
  // A stray BEGIN through execute is rolled back and reported.
  CHECK_THROWS_WITH(sync_wait(db->execute("BEGIN")), Catch::Contains("transaction"));
  sync_wait(db->execute("INSERT INTO todos(title) VALUES('still works')"));
  CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM todos")) == 1);
}

TEST_CASE("sqlite reports UNIQUE, CHECK, NOT NULL and FOREIGN KEY violations as constraint errors", "[db]") {
  temp_db f;
  auto db = sqlite::open(
      {.path = f.path,
       .migrations = {todo_schema[0],
                      "CREATE TABLE notes(id INTEGER PRIMARY KEY, todo_id INTEGER NOT NULL REFERENCES todos(id))"}});
  sync_wait(db->execute("INSERT INTO todos(title) VALUES(?)", "a"));
  auto kind_of = [&](auto t) {
    try {
      sync_wait(std::move(t));
    } catch (const fastjson::db::error& e) {
      CHECK(e.is_constraint());
      CHECK(e.primary_code() == 19);  // SQLITE_CONSTRAINT
      return e.constraint();
    }
    return fastjson::db::constraint_kind::none;
  };
  using ck = fastjson::db::constraint_kind;
  CHECK(kind_of(db->execute("INSERT INTO todos(title) VALUES(?)", "a")) == ck::unique);
  CHECK(kind_of(db->execute("INSERT INTO todos(title) VALUES(?)", "")) == ck::check);
  CHECK(kind_of(db->execute("INSERT INTO todos(title) VALUES(?)", std::nullopt)) == ck::not_null);
  CHECK(kind_of(db->execute("INSERT INTO todos(id, title) VALUES(1, 'b')")) == ck::primary_key);
  CHECK(kind_of(db->execute("INSERT INTO notes(todo_id) VALUES(?)", 99)) == ck::foreign_key);
}

TEST_CASE("sqlite transactions commit, and roll back on exception", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .migrations = todo_schema});
  auto id = sync_wait(db->transaction([](sqlite::connection& c) {
    c.execute("INSERT INTO todos(title) VALUES(?)", "one");
    auto r = c.execute("INSERT INTO todos(title) VALUES(?)", "two");
    CHECK(c.query_value<int>("SELECT count(*) FROM todos") == 2);  // sees its own writes
    return r.last_insert_id;
  }));
  CHECK(id == 2);
  CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM todos")) == 2);  // readers see the commit

  CHECK_THROWS_WITH(sync_wait(db->transaction([](sqlite::connection& c) {
                      c.execute("INSERT INTO todos(title) VALUES(?)", "three");
                      throw std::runtime_error("boom");
                    })),
                    "boom");
  // A failing statement inside: the constraint error propagates, all rolled back.
  CHECK_THROWS_AS(sync_wait(db->transaction([](sqlite::connection& c) {
                    c.execute("INSERT INTO todos(title) VALUES(?)", "four");
                    c.execute("INSERT INTO todos(title) VALUES(?)", "one");
                  })),
                  fastjson::db::error);
  CHECK(sync_wait(db->query<std::string>("SELECT title FROM todos ORDER BY id")) ==
        std::vector<std::string>{"one", "two"});
  // The writer is usable afterwards.
  sync_wait(db->transaction([](sqlite::connection& c) { c.execute("DELETE FROM todos WHERE id = 1"); }));
  CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM todos")) == 1);
}

TEST_CASE("sqlite read(): several statements, one snapshot, one hop to a reader", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .migrations = todo_schema});
  sync_wait(db->execute("INSERT INTO todos(title) VALUES(?)", "one"));
  auto seen = sync_wait(db->read([&db](sqlite::connection& c) {
    CHECK_FALSE(c.is_writer());
    auto before = c.query_value<int>("SELECT count(*) FROM todos");
    // A write committed meanwhile (the writer is another thread) is not
    // seen inside this read: it began on the snapshot before it.
    sync_wait(db->execute("INSERT INTO todos(title) VALUES(?)", "two"));
    auto after = c.query_value<int>("SELECT count(*) FROM todos");
    auto title = c.query_value<std::string>("SELECT title FROM todos WHERE id = 1");
    return std::tuple(before.value_or(-1), after.value_or(-1), title.value_or(""));
  }));
  CHECK(seen == std::tuple(1, 1, std::string("one")));
  CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM todos")) == 2);  // a new snapshot
  // A write inside read() is refused and nothing changes; the reader stays usable.
  CHECK_THROWS_AS(sync_wait(db->read([](sqlite::connection& c) { c.execute("DELETE FROM todos"); })),
                  fastjson::db::error);
  CHECK(sync_wait(db->read([](sqlite::connection& c) { return c.query_value<int>("SELECT count(*) FROM todos"); })) ==
        2);
}

TEST_CASE("sqlite job_timeout_ms cuts off a runaway query or transaction", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .migrations = todo_schema, .job_timeout_ms = 200});
  const char* runaway =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000000) SELECT count(*) FROM c";
  auto timed_out = [](auto&& awaitable) {
    try {
      sync_wait(std::move(awaitable));
    } catch (const fastjson::db::error& e) {
      CHECK(e.code() == 9);  // SQLITE_INTERRUPT
      CHECK_THAT(e.what(), Catch::Contains("job_timeout_ms (200 ms)"));
      return e.is_timeout();
    }
    return false;
  };
  auto t0 = std::chrono::steady_clock::now();
  // One long statement: interrupted by the progress handler.
  CHECK(timed_out(db->query_value<std::int64_t>(runaway)));
  // Many short statements, each far below the limit: refused at the next
  // statement after the deadline, and the transaction rolls back.
  CHECK(timed_out(db->transaction([](sqlite::connection& c) {
    for (int i = 0;; ++i) c.execute("INSERT INTO todos(title) VALUES(?)", "spam" + std::to_string(i));
  })));
  // A body that swallows the interruption still reports the timeout.
  CHECK(timed_out(db->read([&](sqlite::connection& c) {
    try {
      (void)c.query_value<std::int64_t>(runaway);
    } catch (const fastjson::db::error&) {
    }
    return 0;
  })));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
  // The connections work afterwards, nothing of the transaction is left,
  // and a fast job is not affected by the limit.
  CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM todos")) == 0);
  CHECK(sync_wait(db->transaction([](sqlite::connection& c) {
          c.execute("INSERT INTO todos(title) VALUES(?)", "kept");
          return c.query_value<int>("SELECT count(*) FROM todos");
        })) == 1);
  // A plain db::error is not a timeout.
  try {
    sync_wait(db->execute("INSERT INTO nowhere VALUES (1)"));
    FAIL("no error");
  } catch (const fastjson::db::error& e) {
    CHECK_FALSE(e.is_timeout());
  }
}

TEST_CASE("sqlite routes writing statements sent to query() to the writer", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .migrations = todo_schema});
  auto rows = sync_wait(db->query<dbtest::todo>("INSERT INTO todos(title) VALUES(?) RETURNING *", "returned"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == 1);
  CHECK(rows[0].title == "returned");
  CHECK(sync_wait(db->query_value<int>("SELECT count(*) FROM todos")) == 1);
}

TEST_CASE("sqlite reuses cached prepared statements", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .readers = 1, .migrations = todo_schema});
  sync_wait(db->query_value<int>("SELECT count(*) FROM todos WHERE id > ?", 0));  // warm up
  auto before = db->statistics();
  for (int i = 0; i < 10; ++i) sync_wait(db->query_value<int>("SELECT count(*) FROM todos WHERE id > ?", i));
  auto after = db->statistics();
  CHECK(after.prepared == before.prepared);
  CHECK(after.cache_hits - before.cache_hits == 10);
  sync_wait(db->query_value<int>("SELECT count(*) FROM todos WHERE id < ?", 0));
  CHECK(db->statistics().prepared == before.prepared + 1);
}

TEST_CASE("sqlite readers run while the writer inserts, losing nothing", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .readers = 2, .migrations = {"CREATE TABLE n(v INTEGER NOT NULL)"}});
  constexpr int writes = 300;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, errors{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      std::int64_t last = 0;
      while (!done.load()) {
        try {
          auto c = sync_wait(db->query_value<std::int64_t>("SELECT count(*) FROM n")).value_or(-1);
          if (c < last) ++errors;  // snapshots only move forward
          last = c;
          ++reads;
        } catch (...) {
          ++errors;
        }
      }
    });
  }
  std::thread writer([&] {
    for (int i = 0; i < writes; ++i) {
      try {
        sync_wait(db->execute("INSERT INTO n(v) VALUES(?)", i));
      } catch (...) {
        ++errors;
      }
    }
  });
  writer.join();
  done = true;
  for (auto& t : readers) t.join();
  CHECK(errors == 0);
  CHECK(reads > 0);
  CHECK(sync_wait(db->query_value<std::int64_t>("SELECT count(*) FROM n")) == writes);
  CHECK(sync_wait(db->query_value<std::int64_t>("SELECT sum(v) FROM n")) == writes * (writes - 1) / 2);
}

TEST_CASE("sqlite ping, in-memory databases and coroutine composition", "[db]") {
  auto db = sqlite::open({.path = ":memory:", .migrations = todo_schema});
  CHECK(db->config().readers == 0);
  sync_wait(db->ping());
  auto flow = [](std::shared_ptr<sqlite> d) -> task<std::int64_t> {
    auto r = co_await d->execute("INSERT INTO todos(title) VALUES(?)", std::string("in memory"));
    auto t = co_await d->query_one<dbtest::todo>("SELECT * FROM todos WHERE id = ?", r.last_insert_id);
    co_return t ? t->id : -1;
  };
  CHECK(sync_wait(flow(db)) == 1);
}

TEST_CASE("sqlite may be released from inside a coroutine resumed on its own thread", "[db]") {
  temp_db f;
  auto last_use = [](std::shared_ptr<sqlite> d) -> task<int> {
    auto v = co_await d->query_value<int>("SELECT 7");
    d.reset();  // the frame's copy is now the only one... and the task's keep-alive
    co_return v.value_or(0);
  };
  auto db = sqlite::open({.path = f.path});
  auto t = last_use(std::move(db));
  CHECK(sync_wait(std::move(t)) == 7);
}

namespace {
// "select S insert I update U delete D other O": one string, so a failed
// CHECK shows every kind.
std::string counts_text(const sqlite::statement_counts& c) {
  return "select " + std::to_string(c.selects) + " insert " + std::to_string(c.inserts) + " update " +
         std::to_string(c.updates) + " delete " + std::to_string(c.deletes) + " other " +
         std::to_string(c.others);
}
std::string counts_text(std::uint64_t s, std::uint64_t i, std::uint64_t u, std::uint64_t d, std::uint64_t o) {
  return counts_text(sqlite::statement_counts{s, i, u, d, o});
}
}  // namespace

TEST_CASE("sqlite counts executed statements by kind, once per execution, not per row", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path,
                          .migrations = {"CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER NOT NULL UNIQUE);"
                                         "INSERT INTO t(v) VALUES(1); INSERT INTO t(v) VALUES(2)"}});
  // Migrations count too: each statement of the script, and the record of
  // the version (INSERT INTO fastjson_migrations).
  CHECK(db->executed().inserts == 3);

  auto delta = [&db, before = db->executed()]() mutable {
    auto now = db->executed();
    auto d = now - before;
    before = now;
    return counts_text(d);
  };
  // A reused prepared statement counts at every execution.
  auto prepared = db->statistics().prepared;
  for (int i = 3; i <= 12; ++i) sync_wait(db->execute("INSERT INTO t(v) VALUES(?)", i));
  CHECK(db->statistics().prepared == prepared + 1);
  CHECK(delta() == counts_text(0, 10, 0, 0, 0));

  // A SELECT of twelve rows is one execution, as is one whose rows are not
  // all read (query_one, query_value) and one that finds none. The reader's
  // routing check (is the statement read-only?) is not an execution.
  CHECK(sync_wait(db->query<std::int64_t>("SELECT v FROM t ORDER BY v")).size() == 12);
  CHECK(sync_wait(db->query_one<std::int64_t>("SELECT v FROM t ORDER BY v")) == 1);
  CHECK(sync_wait(db->query_value<std::int64_t>("SELECT v FROM t WHERE v > ?", 100)) == std::nullopt);
  CHECK(delta() == counts_text(3, 0, 0, 0, 0));

  // Each kind by its leading keyword, whatever the case, after comments;
  // WITH by the statement after its common table expressions.
  sync_wait(db->execute("update t SET v = v + 100 WHERE v = ?", 12));
  sync_wait(db->execute("  -- a comment\n /* another */ DELETE FROM t WHERE v = ?", 112));
  sync_wait(db->execute("REPLACE INTO t(id, v) VALUES(12, 12)"));
  CHECK(sync_wait(db->query_value<int>("VALUES(7)")) == 7);
  CHECK(sync_wait(db->query_value<int>(
            "WITH \"update\"(x) AS (SELECT 'delete (') , d AS MATERIALIZED (SELECT 1) SELECT count(*) FROM d")) == 1);
  sync_wait(db->execute("WITH RECURSIVE n(x) AS (SELECT 13 UNION ALL SELECT x + 1 FROM n WHERE x < 14) "
                        "INSERT INTO t(v) SELECT x FROM n"));
  sync_wait(db->execute("WITH d(v) AS (VALUES(14)) DELETE FROM t WHERE v IN (SELECT v FROM d)"));
  sync_wait(db->execute("WITH u AS (SELECT 1) UPDATE t SET v = v WHERE v = 1"));
  CHECK(sync_wait(db->query_value<int>("PRAGMA foreign_keys")) == 1);
  CHECK(delta() == counts_text(2, 2, 2, 2, 1));

  // INSERT ... RETURNING sent to query() is moved to the writer and runs once.
  CHECK(sync_wait(db->query<std::int64_t>("INSERT INTO t(v) VALUES(?) RETURNING v", 50)).size() == 1);
  CHECK(delta() == counts_text(0, 1, 0, 0, 0));

  // transaction() and read() add their BEGIN and COMMIT (or ROLLBACK).
  sync_wait(db->transaction([](sqlite::connection& c) {
    c.execute("INSERT INTO t(v) VALUES(?)", 60);
    c.execute("UPDATE t SET v = ? WHERE v = ?", 61, 60);
    (void)c.query_value<int>("SELECT count(*) FROM t");
  }));
  CHECK(delta() == counts_text(1, 1, 1, 0, 2));
  sync_wait(db->read([](sqlite::connection& c) {
    for (int i = 0; i < 5; ++i) (void)c.query_value<int>("SELECT v FROM t WHERE id = ?", i);
  }));
  CHECK(delta() == counts_text(5, 0, 0, 0, 2));
  // A statement that fails while running was executed (and counts); one
  // that does not compile was not. The failed transaction rolls back.
  CHECK_THROWS_AS(sync_wait(db->transaction([](sqlite::connection& c) {
                    c.execute("INSERT INTO t(v) VALUES(?)", 1);  // UNIQUE
                  })),
                  fastjson::db::error);
  CHECK_THROWS_AS(sync_wait(db->execute("SELEC 1")), fastjson::db::error);
  CHECK(delta() == counts_text(0, 1, 0, 0, 2));

  // Every statement of a script counts.
  sync_wait(db->transaction([](sqlite::connection& c) {
    c.execute_script("INSERT INTO t(v) VALUES(70); UPDATE t SET v = 71 WHERE v = 70;\n"
                     "DELETE FROM t WHERE v = 71; SELECT 1; -- trailing comment\n");
  }));
  CHECK(delta() == counts_text(1, 1, 1, 1, 2));
}

TEST_CASE("sqlite statement counters are per connection, summed over the writer and the readers", "[db]") {
  temp_db f;
  auto db = sqlite::open({.path = f.path, .readers = 2, .migrations = {"CREATE TABLE n(v INTEGER NOT NULL)"}});
  auto start = db->executed();

  // Two read() jobs that wait for each other run on the two reader
  // connections at once; both connections' counts are in the sum.
  // (No Catch assertions in the bodies: they run on two threads at once.)
  std::latch both(2);
  std::atomic<int> on_writer{0};
  auto reader_job = [&] {
    sync_wait(db->read([&](sqlite::connection& c) {
      if (c.is_writer()) ++on_writer;
      (void)c.query_value<int>("SELECT count(*) FROM n");
      both.arrive_and_wait();
      (void)c.query_value<int>("SELECT 1");
    }));
  };
  std::thread a(reader_job), b(reader_job);
  a.join();
  b.join();
  CHECK(on_writer == 0);
  CHECK(counts_text(db->executed() - start) == counts_text(4, 0, 0, 0, 4));

  // Many threads awaiting at once, the writer and both readers busy, and a
  // thread reading the counters all along (each kind only grows). Once every
  // call has returned the sum is exact.
  start = db->executed();
  constexpr int per_thread = 200, writes = 150;
  std::atomic<bool> done{false};
  std::atomic<int> errors{0}, went_back{0};
  std::thread watcher([&] {
    auto last = db->executed();
    while (!done.load()) {
      auto now = db->executed();
      if (now.selects < last.selects || now.inserts < last.inserts || now.others < last.others) ++went_back;
      last = now;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        try {
          if (i % 2 == 0)
            (void)sync_wait(db->query_value<std::int64_t>("SELECT count(*) FROM n WHERE v >= ?", t));
          else
            (void)sync_wait(db->read([](sqlite::connection& c) { return c.query_value<int>("SELECT 1"); }));
        } catch (...) {
          ++errors;
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < writes; ++i) {
      try {
        sync_wait(db->execute("INSERT INTO n(v) VALUES(?)", i));
      } catch (...) {
        ++errors;
      }
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  watcher.join();
  CHECK(errors == 0);
  CHECK(went_back == 0);
  // Per reading thread: 100 plain SELECTs, 100 read() jobs of one SELECT
  // plus BEGIN and COMMIT.
  CHECK(counts_text(db->executed() - start) == counts_text(3 * per_thread, writes, 0, 0, 3 * per_thread));

  // Without readers (":memory:") the writer alone counts everything.
  auto mem = sqlite::open({.path = ":memory:", .migrations = {"CREATE TABLE n(v INTEGER)"}});
  start = mem->executed();
  sync_wait(mem->execute("INSERT INTO n(v) VALUES(1)"));
  (void)sync_wait(mem->query_value<int>("SELECT v FROM n"));
  CHECK(counts_text(mem->executed() - start) == counts_text(1, 1, 0, 0, 0));
}
