// examples/todos through the in-process client: the whole HTTP contract of
// docs/TODOS.md against a temporary SQLite file.
// todos.cc is included below (not linked), and GCC warns
// (-Wsubobject-linkage) about its route lambdas' coroutine frames when they
// are defined outside the main file; harmless in a single test TU.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"

#include <catch2/catch.hpp>

#include <cstring>

#include <fastjson/fastjson.h>
#include <fastjson/testing.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <string>

// The service's routes are compiled into the test binary directly, so this
// file builds even when the examples are off (FASTJSON_EXAMPLES=OFF).
#include "../examples/todos/todos.cc"

namespace {

using fastjson::testing::header_list;
using fastjson::testing::response;

/// A unique database file, removed (with its -wal/-shm) on scope exit.
struct temp_db {
  std::string path;
  temp_db() {
    char tmpl[] = "/tmp/fastjson-todos-test-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    ::unlink(tmpl);  // sqlite creates it
    path = std::string(tmpl) + ".db";
  }
  ~temp_db() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
  }
};

struct service {
  temp_db file;
  std::shared_ptr<fastjson::db::sqlite> db;
  fastjson::app app;
  std::unique_ptr<fastjson::testing::client> client;
  explicit service(bool with_db = true) {
    if (with_db) db = todos::open_database(file.path);
    app.use(fastjson::mw::request_id());
    app.use(fastjson::mw::recover());
    todos::install_routes(app, db);
    client = std::make_unique<fastjson::testing::client>(app);
  }
  fastjson::testing::client& c() { return *client; }
};

// A body error has a JSON Pointer; a parameter error names the parameter
// and where it is (never a pointer).
struct field_err {
  std::optional<std::string> pointer, parameter, in;
  std::string message;
};
FASTJSON_REFLECT(field_err, (pointer, "pointer", not_required), (parameter, "parameter", not_required),
                 (in, "in", not_required), message)
struct problem_doc {
  std::string type;
  std::string title;
  int status = 0;
  std::optional<std::string> detail;
  std::vector<field_err> errors;
};
FASTJSON_REFLECT(problem_doc, type, title, status, detail, (errors, "errors", not_required))

// The timestamps as the reader sees them: RFC 3339 or a 422 here.
struct todo_times {
  std::chrono::system_clock::time_point created_at, updated_at;
};
FASTJSON_REFLECT(todo_times, created_at, updated_at)

template <class T>
T parse(const std::string& body) {
  auto r = fastjson::json::read<T>(body);
  INFO(body);
  REQUIRE(r.ok());
  return std::move(r.value());
}

problem_doc problem(const response& r, int status) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == status);
  REQUIRE(r.header("content-type") == "application/problem+json");
  auto p = parse<problem_doc>(r.body);
  REQUIRE(p.status == status);
  return p;
}

bool has_pointer(const problem_doc& p, std::string_view pointer) {
  for (auto& e : p.errors) {
    REQUIRE(!e.parameter);
    // RFC 6901: "" or starting with '/'.
    REQUIRE((e.pointer && (e.pointer->empty() || e.pointer->front() == '/')));
    if (e.pointer == pointer) return true;
  }
  return false;
}

bool has_parameter(const problem_doc& p, std::string_view name, std::string_view in) {
  for (auto& e : p.errors) {
    REQUIRE(!e.pointer);
    if (e.parameter == name && e.in == in) return true;
  }
  return false;
}

todos::todo create(fastjson::testing::client& c, const std::string& body) {
  auto r = c.post("/api/todos", body);
  INFO(r.body);
  REQUIRE(r.status == 201);
  return parse<todos::todo>(r.body);
}

const header_list json_ct = {{"Content-Type", "application/json"}};
header_list with_json(std::string name, std::string value) { return {{"Content-Type", "application/json"}, {std::move(name), std::move(value)}}; }

}  // namespace

TEST_CASE("todos: create and get", "[todos]") {
  service s;
  auto r = s.c().post("/api/todos", R"({"title":"buy milk"})");
  REQUIRE(r.status == 201);
  REQUIRE(r.header("content-type") == "application/json");
  auto t = parse<todos::todo>(r.body);
  CHECK(t.id >= 1);
  CHECK(t.title == "buy milk");
  CHECK(t.done == false);
  CHECK_FALSE(t.due.has_value());
  CHECK(r.body.find("\"due\":null") != std::string::npos);
  CHECK(r.header("location") == "/api/todos/" + std::to_string(t.id));
  REQUIRE(r.header("etag"));
  CHECK(r.header("etag")->front() == '"');
  auto times = parse<todo_times>(r.body);
  CHECK(times.created_at == times.updated_at);
  CHECK(t.created_at.size() == 24);  // 2024-05-01T12:00:00.123Z

  auto g = s.c().get("/api/todos/" + std::to_string(t.id));
  REQUIRE(g.status == 200);
  auto t2 = parse<todos::todo>(g.body);
  CHECK(t2.title == "buy milk");
  CHECK(g.header("etag") == r.header("etag"));

  auto full = create(s.c(), R"({"title":"file taxes","done":true,"due":"2024-02-29"})");
  CHECK(full.done);
  CHECK(full.due == "2024-02-29");
  CHECK(full.id > t.id);

  // Unicode counts as characters: 200 of them is fine.
  std::string two_hundred;
  for (int i = 0; i < 200; ++i) two_hundred += "\xc3\xa9";
  create(s.c(), R"({"title":")" + two_hundred + R"("})");
  // Unknown fields (such as an echoed id) are ignored.
  create(s.c(), R"({"title":"x","id":777,"created_at":"whenever"})");
  // A +json content type and a charset are fine.
  CHECK(s.c().post("/api/todos", R"({"title":"y"})", {{"Content-Type", "application/json; charset=utf-8"}}).status == 201);
}

TEST_CASE("todos: validation errors carry JSON Pointers", "[todos]") {
  service s;
  auto& c = s.c();
  CHECK(has_pointer(problem(c.post("/api/todos", "{}"), 422), "/title"));
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":""})"), 422), "/title"));
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":")" + std::string(201, 'a') + R"("})"), 422), "/title"));
  CHECK(c.post("/api/todos", R"({"title":")" + std::string(200, 'a') + R"("})").status == 201);
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":null})"), 422), "/title"));
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":5})"), 422), "/title"));
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":"\u0000"})"), 422), "/title"));
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":"a\tb"})"), 422), "/title"));
  problem(c.post("/api/todos", "{\"title\":\"\xff\"}"), 400);  // invalid UTF-8
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":"a","done":"yes"})"), 422), "/done"));
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":"a","done":1})"), 422), "/done"));
  for (const char* due : {"2023-02-29", "2024-02-30", "2024-13-01", "2024-00-10", "2024-04-31", "tomorrow",
                          "2024-1-01", "2024-01-01T00:00:00Z", "", "0000-01-01"}) {
    INFO(due);
    auto p = problem(c.post("/api/todos", std::string(R"({"title":"a","due":")") + due + "\"}"), 422);
    CHECK(has_pointer(p, "/due"));
  }
  CHECK(has_pointer(problem(c.post("/api/todos", R"({"title":"a","due":5})"), 422), "/due"));
  // Every problem at once.
  auto both = problem(c.post("/api/todos", R"({"done":"no","due":"2024-02-30"})"), 422);
  CHECK(has_pointer(both, "/title"));
  CHECK(has_pointer(both, "/done"));
  CHECK(has_pointer(both, "/due"));
  CHECK(both.errors.size() == 3);
  // Not an object.
  problem(c.post("/api/todos", "[]"), 422);
  problem(c.post("/api/todos", "\"title\""), 422);

  // Malformed JSON -> 400; not JSON -> 415.
  problem(c.post("/api/todos", R"({"title":)"), 400);
  problem(c.post("/api/todos", ""), 400);
  problem(c.post("/api/todos", "{\"title\":\"a\"} x"), 400);
  problem(c.post("/api/todos", R"({"title":"a"})", {{"Content-Type", "text/plain"}}), 415);
  problem(c.post("/api/todos", R"({"title":"a"})", {}), 415);
  // The API's body limit is 64 KiB.
  problem(c.post("/api/todos", R"({"title":"a","pad":")" + std::string(70000, 'x') + "\"}"), 413);
  if (c.closed()) c.reconnect();  // the server closes after a 413 (the body was not read)

  // Nothing was written by the failures above.
  auto list = parse<todos::todo_page>(c.get("/api/todos").body);
  CHECK(list.total == 1);
}

TEST_CASE("todos: ids: 400 for non-integers, 404 for unknown", "[todos]") {
  service s;
  auto& c = s.c();
  for (const char* bad : {"abc", "1.5", "1x", "99999999999999999999999"}) {
    INFO(bad);
    std::string u = std::string("/api/todos/") + bad;
    CHECK(has_parameter(problem(c.get(u), 400), "id", "path"));
    problem(c.patch(u, R"({"done":true})"), 400);
    problem(c.put(u, R"({"title":"a"})"), 400);
    problem(c.del(u), 400);
  }
  for (const char* missing : {"1", "0", "-5", "424242"}) {
    INFO(missing);
    std::string u = std::string("/api/todos/") + missing;
    problem(c.get(u), 404);
    problem(c.patch(u, R"({"done":true})"), 404);
    problem(c.put(u, R"({"title":"a"})"), 404);
    problem(c.del(u), 404);
  }
}

TEST_CASE("todos: patch", "[todos]") {
  service s;
  auto& c = s.c();
  auto t = create(c, R"({"title":"a","due":"2030-01-02"})");
  std::string u = "/api/todos/" + std::to_string(t.id);
  auto tag0 = c.get(u).header("etag");

  auto r = c.patch(u, R"({"done":true})");
  REQUIRE(r.status == 200);
  auto p = parse<todos::todo>(r.body);
  CHECK(p.done);
  CHECK(p.title == "a");
  CHECK(p.due == "2030-01-02");
  CHECK(p.created_at == t.created_at);
  CHECK(r.header("etag") != tag0);

  p = parse<todos::todo>(c.patch(u, R"({"title":"b"})").body);
  CHECK(p.title == "b");
  CHECK(p.done);
  CHECK(p.due == "2030-01-02");

  p = parse<todos::todo>(c.patch(u, R"({"due":null})").body);
  CHECK_FALSE(p.due.has_value());
  CHECK(p.title == "b");
  p = parse<todos::todo>(c.patch(u, R"({"due":"2031-12-31","done":false})").body);
  CHECK(p.due == "2031-12-31");
  CHECK_FALSE(p.done);
  p = parse<todos::todo>(c.patch(u, "{}").body);
  CHECK(p.due == "2031-12-31");

  CHECK(has_pointer(problem(c.patch(u, R"({"title":null})"), 422), "/title"));
  CHECK(has_pointer(problem(c.patch(u, R"({"title":""})"), 422), "/title"));
  CHECK(has_pointer(problem(c.patch(u, R"({"title":"\u0000x"})"), 422), "/title"));
  CHECK(has_pointer(problem(c.patch(u, R"({"done":null})"), 422), "/done"));
  CHECK(has_pointer(problem(c.patch(u, R"({"done":"true"})"), 422), "/done"));
  CHECK(has_pointer(problem(c.patch(u, R"({"due":"2031-02-29"})"), 422), "/due"));
  problem(c.patch(u, "[1]"), 422);
  problem(c.patch(u, "{"), 400);
  problem(c.patch(u, "{}", {{"Content-Type", "text/plain"}}), 415);
  // The failed patches changed nothing.
  auto now = parse<todos::todo>(c.get(u).body);
  CHECK(now.title == "b");
  CHECK(now.due == "2031-12-31");
}

TEST_CASE("todos: put replaces the whole todo", "[todos]") {
  service s;
  auto& c = s.c();
  auto t = create(c, R"({"title":"a","done":true,"due":"2030-01-02"})");
  std::string u = "/api/todos/" + std::to_string(t.id);
  auto r = c.put(u, R"({"title":"fresh"})");
  REQUIRE(r.status == 200);
  REQUIRE(r.header("etag"));
  auto p = parse<todos::todo>(r.body);
  CHECK(p.id == t.id);
  CHECK(p.title == "fresh");
  CHECK_FALSE(p.done);             // defaulted
  CHECK_FALSE(p.due.has_value());  // defaulted
  CHECK(p.created_at == t.created_at);
  p = parse<todos::todo>(c.put(u, R"({"title":"x","done":true,"due":"2024-02-29"})").body);
  CHECK(p.done);
  CHECK(p.due == "2024-02-29");
  CHECK(has_pointer(problem(c.put(u, R"({"done":true})"), 422), "/title"));
  CHECK(has_pointer(problem(c.put(u, R"({"title":"x","due":"2024-02-30"})"), 422), "/due"));
  problem(c.put(u, R"({"title":"x"})", {{"Content-Type", "text/plain"}}), 415);
}

TEST_CASE("todos: delete", "[todos]") {
  service s;
  auto& c = s.c();
  auto t = create(c, R"({"title":"a"})");
  std::string u = "/api/todos/" + std::to_string(t.id);
  auto r = c.del(u);
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  problem(c.get(u), 404);
  problem(c.del(u), 404);
  // Ids are never reused.
  auto t2 = create(c, R"({"title":"b"})");
  CHECK(t2.id > t.id);
}

TEST_CASE("todos: list, pagination and the done filter", "[todos]") {
  service s;
  auto& c = s.c();
  for (int i = 1; i <= 25; ++i)
    create(c, R"({"title":"t)" + std::to_string(i) + R"(","done":)" + (i % 3 == 0 ? "true" : "false") + "}");

  auto r = c.get("/api/todos");
  REQUIRE(r.status == 200);
  auto page = parse<todos::todo_page>(r.body);
  CHECK(page.total == 25);
  CHECK(page.limit == 20);
  CHECK(page.offset == 0);
  REQUIRE(page.items.size() == 20);
  for (std::size_t i = 1; i < page.items.size(); ++i) CHECK(page.items[i - 1].id < page.items[i].id);
  CHECK(page.items[0].title == "t1");

  page = parse<todos::todo_page>(c.get("/api/todos?limit=10&offset=20").body);
  CHECK(page.total == 25);
  CHECK(page.limit == 10);
  CHECK(page.offset == 20);
  REQUIRE(page.items.size() == 5);
  CHECK(page.items[0].title == "t21");
  CHECK(page.items[4].title == "t25");

  page = parse<todos::todo_page>(c.get("/api/todos?offset=100").body);
  CHECK(page.items.empty());
  CHECK(page.total == 25);

  page = parse<todos::todo_page>(c.get("/api/todos?limit=100").body);
  CHECK(page.items.size() == 25);
  page = parse<todos::todo_page>(c.get("/api/todos?limit=1").body);
  CHECK(page.items.size() == 1);

  page = parse<todos::todo_page>(c.get("/api/todos?done=true").body);
  CHECK(page.total == 8);
  REQUIRE(page.items.size() == 8);
  for (auto& t : page.items) CHECK(t.done);
  CHECK(page.items[0].title == "t3");
  page = parse<todos::todo_page>(c.get("/api/todos?done=false&limit=5&offset=15").body);
  CHECK(page.total == 17);
  REQUIRE(page.items.size() == 2);
  for (auto& t : page.items) CHECK_FALSE(t.done);

  for (const char* bad : {"limit=0", "limit=101", "limit=abc", "limit=", "limit=-1", "limit=1.5", "offset=-1",
                          "offset=x", "done=maybe", "done=", "limit=99999999999999999999999"}) {
    INFO(bad);
    std::string name(bad, std::strchr(bad, '='));
    CHECK(has_parameter(problem(c.get(std::string("/api/todos?") + bad), 400), name, "query"));
  }
}

TEST_CASE("todos: ETag, If-None-Match and If-Match", "[todos]") {
  service s;
  auto& c = s.c();
  auto t = create(c, R"({"title":"a"})");
  std::string u = "/api/todos/" + std::to_string(t.id);
  auto g = c.get(u);
  auto tag = *g.header("etag");

  SECTION("If-None-Match") {
    for (std::string inm : {tag, "W/" + tag, std::string("*"), "\"nope\", " + tag}) {
      INFO(inm);
      auto r = c.get(u, {{"If-None-Match", inm}});
      CHECK(r.status == 304);
      CHECK(r.body.empty());
      CHECK(r.header("etag") == tag);
    }
    CHECK(c.get(u, {{"If-None-Match", "\"nope\""}}).status == 200);
    c.patch(u, R"({"done":true})");
    auto r = c.get(u, {{"If-None-Match", tag}});
    CHECK(r.status == 200);  // changed since
    CHECK(r.header("etag") != tag);
  }
  SECTION("If-Match on PATCH") {
    problem(c.patch(u, R"({"done":true})", with_json("If-Match", "\"stale\"")), 412);
    problem(c.patch(u, R"({"done":true})", with_json("If-Match", "W/" + tag)), 412);  // strong comparison
    auto r = c.patch(u, R"({"done":true})", with_json("If-Match", tag));
    REQUIRE(r.status == 200);
    auto tag2 = *r.header("etag");
    CHECK(tag2 != tag);
    problem(c.patch(u, R"({"done":false})", with_json("If-Match", tag)), 412);  // lost update prevented
    CHECK(parse<todos::todo>(c.get(u).body).done);
    CHECK(c.patch(u, R"({"done":false})", with_json("If-Match", "*")).status == 200);
  }
  SECTION("If-Match on PUT") {
    problem(c.put(u, R"({"title":"b"})", with_json("If-Match", "\"stale\"")), 412);
    CHECK(parse<todos::todo>(c.get(u).body).title == "a");
    CHECK(c.put(u, R"({"title":"b"})", with_json("If-Match", tag)).status == 200);
  }
  SECTION("If-Match on DELETE") {
    problem(c.del(u, {{"If-Match", "\"stale\""}}), 412);
    CHECK(c.get(u).status == 200);
    CHECK(c.del(u, {{"If-Match", tag}}).status == 204);
    problem(c.del(u, {{"If-Match", "*"}}), 404);
  }
}

TEST_CASE("todos: healthz and readyz", "[todos]") {
  {
    service s;
    CHECK(s.c().get("/healthz").status == 200);
    auto r = s.c().get("/readyz");
    CHECK(r.status == 200);
  }
  {
    service s(false);  // no database: not ready, and the API says so
    CHECK(s.c().get("/healthz").status == 200);
    problem(s.c().get("/readyz"), 503);
    problem(s.c().get("/api/todos"), 503);
  }
}

TEST_CASE("todos: a database locked by another process answers 503 with Retry-After", "[todos]") {
  service s;
  REQUIRE(s.c().post("/api/todos", R"({"title":"before"})").status == 201);
  // Another connection (as another process would) holds the write lock
  // longer than busy_timeout_ms (without the service's job_timeout_ms).
  auto other = fastjson::db::sqlite::open({.path = s.file.path, .migrations = todos::migrations()});
  std::promise<void> locked, release;
  std::thread holder([&] {
    fastjson::sync_wait(other->transaction([&](fastjson::db::sqlite::connection& c) {
      c.execute("INSERT INTO todos(title, done, created_at, updated_at, version) VALUES('held', 0, '', '', 1)");
      locked.set_value();
      release.get_future().wait();
    }));
  });
  locked.get_future().wait();
  auto r = s.c().post("/api/todos", R"({"title":"blocked"})");  // waits busy_timeout_ms (5 s)
  release.set_value();
  holder.join();
  auto p = problem(r, 503);
  CHECK(r.header("retry-after") == "1");
  CHECK(p.detail == "the database is busy; retry shortly");
  // Reads were never blocked (WAL), and writes work again.
  CHECK(s.c().post("/api/todos", R"({"title":"after"})").status == 201);
}

TEST_CASE("todos: data survives reopening the database", "[todos]") {
  temp_db file;
  std::int64_t id = 0;
  {
    auto db = todos::open_database(file.path);
    fastjson::app app;
    todos::install_routes(app, db);
    fastjson::testing::client c(app);
    id = create(c, R"({"title":"keep me","due":"2030-05-06"})").id;
  }
  auto db = todos::open_database(file.path);  // migrations are not re-applied
  fastjson::app app;
  todos::install_routes(app, db);
  fastjson::testing::client c(app);
  auto t = parse<todos::todo>(c.get("/api/todos/" + std::to_string(id)).body);
  CHECK(t.title == "keep me");
  CHECK(t.due == "2030-05-06");
}

TEST_CASE("todos: is_valid_date", "[todos]") {
  CHECK(todos::is_valid_date("2024-02-29"));
  CHECK(todos::is_valid_date("2000-02-29"));
  CHECK_FALSE(todos::is_valid_date("1900-02-29"));
  CHECK(todos::is_valid_date("9999-12-31"));
  CHECK_FALSE(todos::is_valid_date("2024-06-31"));
  CHECK_FALSE(todos::is_valid_date("２０２４-01-01"));
  CHECK_FALSE(todos::is_valid_date("2024-01-01 "));
}
