// The todos service: a CRUD API over SQLite with validation, pagination,
// ETags and optimistic concurrency. See docs/TODOS.md for the contract.
#include "todos.h"

#include <simdjson.h>

#include <string_view>
#include <utility>

namespace todos {
namespace {

using fastjson::http_error;
using fastjson::problem_field_error;
using fastjson::request;
using fastjson::response;
using fastjson::task;
using db_ptr = std::shared_ptr<fastjson::db::sqlite>;
using connection = fastjson::db::sqlite::connection;

constexpr std::int64_t default_limit = 20;
constexpr std::int64_t max_limit = 100;
constexpr std::size_t api_body_limit = 64 << 10;

// ---------------------------------------------------------------------------
// ETags: strong, from the id and the row's write counter, so every committed
// write gives a new tag and a deleted-then-recreated id never reuses one
// (ids come from AUTOINCREMENT).

std::string etag_of(const todo_row& r) {
  return "\"" + std::to_string(r.id) + "-" + std::to_string(r.version) + "\"";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the If-Match / If-None-Match list `header` matches `tag`.
// `weak` selects weak comparison (If-None-Match): a W/ prefix is ignored.
// With strong comparison (If-Match) a weak tag never matches.
bool etag_matches(std::string_view header, std::string_view tag, bool weak) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (item == "*") return true;
    if (item.starts_with("W/")) {
      if (!weak) continue;
      item.remove_prefix(2);
    }
    if (item == tag) return true;
  }
  return false;
}

std::optional<std::string> header_copy(const request& req, std::string_view name) {
  auto v = req.header(name);
  if (!v) return std::nullopt;
  return std::string(*v);
}

// Throws 412 unless the If-Match precondition (if any) holds for `cur`.
void check_if_match(const std::optional<std::string>& if_match, const todo_row& cur) {
  if (if_match && !etag_matches(*if_match, etag_of(cur), false))
    throw http_error(412, "If-Match does not match the current ETag " + etag_of(cur));
}

todo to_api(todo_row r) {
  return todo{r.id, std::move(r.title), r.done, std::move(r.due), std::move(r.created_at),
              std::move(r.updated_at)};
}

void send_todo(response& res, todo_row row, int status) {
  res.status(status);
  res.set_header("ETag", etag_of(row));
  res.json(to_api(std::move(row)));
}

[[noreturn]] void not_found(std::int64_t id) {
  throw http_error(404, "todo " + std::to_string(id) + " does not exist");
}

// ---------------------------------------------------------------------------
// Request bodies. The framework's reader does the shape and constraint
// checks; the checks it cannot express (a real calendar date, `null` for a
// PATCH field that cannot be cleared) are added here and reported together
// with its errors, in one 422.

bool has_error_at(const std::vector<problem_field_error>& errs, std::string_view pointer) {
  for (auto& e : errs)
    if (e.pointer == pointer) return true;
  return false;
}

void check_due(const std::optional<std::string>& due, std::vector<problem_field_error>& errs) {
  if (due && !is_valid_date(*due) && !has_error_at(errs, "/due"))
    errs.push_back({"/due", "expected a calendar date YYYY-MM-DD"});
}

// Control characters (a NUL above all, which SQLite's length() stops at)
// have no place in a title.
void check_title(std::string_view title, std::vector<problem_field_error>& errs) {
  if (has_error_at(errs, "/title")) return;
  for (unsigned char ch : title)
    if (ch < 0x20 || ch == 0x7f) {
      errs.push_back({"/title", "must not contain control characters"});
      return;
    }
}

void extra_checks(const todo_input& in, std::string_view, std::vector<problem_field_error>& errs) {
  check_title(in.title, errs);
  check_due(in.due, errs);
}

// Which PATCH keys are present and which are null. Only called on a body
// the reader already accepted as a JSON object.
struct patch_presence {
  bool title_null = false, done_null = false, due_present = false;
};
patch_presence scan_patch(std::string_view body) {
  patch_presence p;
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string copy(body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(copy).get(doc) || doc.get_object().get(obj)) return p;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) break;
    bool is_null = false;
    if (field.value().is_null().get(is_null)) break;
    if (key == "title") p.title_null = is_null;
    else if (key == "done") p.done_null = is_null;
    else if (key == "due") p.due_present = true;
  }
  return p;
}

void extra_checks(const todo_patch& in, std::string_view body, std::vector<problem_field_error>& errs) {
  auto p = scan_patch(body);
  if (p.title_null && !has_error_at(errs, "/title")) errs.push_back({"/title", "must not be null"});
  if (p.done_null && !has_error_at(errs, "/done")) errs.push_back({"/done", "must not be null"});
  if (in.title) check_title(*in.title, errs);
  check_due(in.due, errs);
}

template <class T>
T read_body(const request& req) {
  std::vector<problem_field_error> errs;
  std::string detail = "the JSON body does not have the expected shape";
  T value{};
  try {
    value = req.json<T>();  // 415, 400 (malformed) propagate as they are
  } catch (const http_error& e) {
    if (e.status() != 422) throw;
    errs = e.errors();
    detail = std::string(e.detail());
    auto again = fastjson::json::read<T>(req.body());  // the fields that did parse
    value = std::move(again.value());
  }
  extra_checks(value, req.body(), errs);
  if (!errs.empty()) throw http_error(422, detail, std::move(errs));
  return value;
}

// The schema's CHECK constraints repeat the checks above; should one still
// fire, the input was at fault, not the server: 422, never 500.
template <class T>
task<T> client_input(task<T> t) {
  try {
    co_return co_await std::move(t);
  } catch (const fastjson::db::error& e) {
    if (!e.is_constraint()) throw;
    throw http_error(422, "the todo does not satisfy the database constraints");
  }
}

// ---------------------------------------------------------------------------
// Query parameters.

std::int64_t query_int(const request& req, std::string_view name, std::int64_t fallback, std::int64_t lo,
                       std::int64_t hi) {
  auto v = req.query<std::int64_t>(name, fallback);  // not an integer -> 400
  if (v < lo || v > hi) {
    std::string range = "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
    throw http_error(400, "query parameter '" + std::string(name) + "' " + range,
                     {fastjson::problem_field_error::param(std::string(name), "query", range)});
  }
  return v;
}

// Routes answer 503 when the service was mounted without a database.
void need(const db_ptr& db) {
  if (!db) throw http_error(503, "the database is not available");
}

struct status_body {
  std::string_view status;
};
FASTJSON_REFLECT(status_body, status)

#define TODOS_NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

}  // namespace

bool is_valid_date(std::string_view s) noexcept {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  auto num = [&](std::size_t at, std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, m, d;
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return false;
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max_day = days[m - 1] + (m == 2 && leap ? 1 : 0);
  return d <= max_day;
}

std::vector<std::string> migrations() {
  return {
      // 1: the table. AUTOINCREMENT so a deleted id (and its ETags) is never reused.
      "CREATE TABLE todos("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),"
      "  done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),"
      "  due TEXT CHECK (due IS NULL OR date(due) = due),"
      "  created_at TEXT NOT NULL,"
      "  updated_at TEXT NOT NULL,"
      "  version INTEGER NOT NULL DEFAULT 1);"
      "CREATE INDEX todos_done ON todos(done, id);",
  };
}

std::shared_ptr<fastjson::db::sqlite> open_database(const std::string& path, bool synchronous_full) {
  // No request of this service needs more than a few milliseconds of
  // SQLite; a job still running after 5 s is stuck behind another process's
  // lock or runaway, and is cut off (answered 503 below) instead of holding
  // a db thread.
  return fastjson::db::sqlite::open({.path = path,
                                     .synchronous_full = synchronous_full,
                                     .migrations = migrations(),
                                     .job_timeout_ms = 5000});
}

void install_routes(fastjson::app& app, db_ptr db) {
  // The database busy (locked by another process past busy_timeout_ms) or
  // a job past job_timeout_ms: the client may retry, so 503, not 500.
  app.on_exception<fastjson::db::error>([](const fastjson::db::error& e, request&, response& res) {
    constexpr int sqlite_busy = 5, sqlite_locked = 6;
    if (!e.is_timeout() && e.primary_code() != sqlite_busy && e.primary_code() != sqlite_locked) return false;
    res.problem(503, "the database is busy; retry shortly");
    res.header("Retry-After", "1");
    return true;
  });

  app.get("/healthz", [](request&, response& res) { res.json(status_body{"ok"}); });

  app.get("/readyz", [db](request&, response& res) -> task<> {
    bool ready = false;
    if (db) {
      try {
        co_await db->ping();
        ready = true;
      } catch (const std::exception&) {
        ready = false;  // reported as 503 below (no co_await inside a handler)
      }
    }
    if (ready)
      res.json(status_body{"ready"});
    else
      res.problem(503, "the database does not answer");
  });

  auto api = app.group("/api");
  api.use(fastjson::mw::body_limit(api_body_limit));

  // GET /api/todos?limit=&offset=&done=
  api.get("/todos", [db](request& req, response& res) -> task<> {
    need(db);
    todo_page page;
    page.limit = query_int(req, "limit", default_limit, 1, max_limit);
    page.offset = query_int(req, "offset", 0, 0, INT64_MAX);
    std::optional<bool> done;
    if (req.query("done")) done = req.query<bool>("done", false);  // not true/false -> 400
    // The page and its total from one snapshot (a write committed between
    // two separate queries would make them disagree), in one hop to a reader.
    auto fill = [&page, done](connection& c) {
      if (done) {
        page.items = c.query<todo>("SELECT * FROM todos WHERE done = ? ORDER BY id LIMIT ? OFFSET ?", *done,
                                   page.limit, page.offset);
        page.total = c.query_value<std::int64_t>("SELECT count(*) FROM todos WHERE done = ?", *done).value_or(0);
      } else {
        page.items = c.query<todo>("SELECT * FROM todos ORDER BY id LIMIT ? OFFSET ?", page.limit, page.offset);
        page.total = c.query_value<std::int64_t>("SELECT count(*) FROM todos").value_or(0);
      }
    };
    co_await db->read(fill);
    res.json(page);
  });

  // POST /api/todos
  api.post("/todos", [db](request& req, response& res) -> task<> {
    need(db);
    auto in = read_body<todo_input>(req);
    // RETURNING runs on the writer; the insert is committed before we resume.
    auto row = co_await client_input(db->query_one<todo_row>(
        "INSERT INTO todos(title, done, due, created_at, updated_at, version) "
        "VALUES(?, ?, ?, " TODOS_NOW ", " TODOS_NOW ", 1) RETURNING *",
        in.title, in.done, in.due));
    if (!row) throw std::runtime_error("INSERT ... RETURNING returned no row");
    res.set_header("Location", "/api/todos/" + std::to_string(row->id));
    send_todo(res, std::move(*row), 201);
  });

  // GET /api/todos/:id (If-None-Match -> 304)
  api.get("/todos/:id", [db](request& req, response& res) -> task<> {
    need(db);
    auto id = req.param<std::int64_t>("id");
    auto row = co_await db->query_one<todo_row>("SELECT * FROM todos WHERE id = ?", id);
    if (!row) not_found(id);
    std::string tag = etag_of(*row);
    if (auto inm = req.header("if-none-match"); inm && etag_matches(*inm, tag, true)) {
      res.set_header("ETag", tag);
      res.no_content(304);
      co_return;
    }
    send_todo(res, std::move(*row), 200);
  });

  // PUT /api/todos/:id: full replace (title required, done/due default).
  api.put("/todos/:id", [db](request& req, response& res) -> task<> {
    need(db);
    auto id = req.param<std::int64_t>("id");
    auto in = read_body<todo_input>(req);
    auto if_match = header_copy(req, "if-match");
    // Read, check the precondition and write in one transaction on the
    // writer thread, so no other write can slip in between.
    auto row = co_await client_input(db->transaction([&](connection& c) -> todo_row {
      auto cur = c.query_one<todo_row>("SELECT * FROM todos WHERE id = ?", id);
      if (!cur) not_found(id);
      check_if_match(if_match, *cur);
      return *c.query_one<todo_row>(
          "UPDATE todos SET title = ?, done = ?, due = ?, updated_at = " TODOS_NOW
          ", version = version + 1 WHERE id = ? RETURNING *",
          in.title, in.done, in.due, id);
    }));
    send_todo(res, std::move(row), 200);
  });

  // PATCH /api/todos/:id: any subset of title, done, due ("due": null clears).
  api.patch("/todos/:id", [db](request& req, response& res) -> task<> {
    need(db);
    auto id = req.param<std::int64_t>("id");
    auto in = read_body<todo_patch>(req);
    bool due_given = scan_patch(req.body()).due_present;
    auto if_match = header_copy(req, "if-match");
    auto row = co_await client_input(db->transaction([&](connection& c) -> todo_row {
      auto cur = c.query_one<todo_row>("SELECT * FROM todos WHERE id = ?", id);
      if (!cur) not_found(id);
      check_if_match(if_match, *cur);
      std::string title = in.title ? *in.title : cur->title;
      bool done = in.done ? *in.done : cur->done;
      std::optional<std::string> due = due_given ? in.due : cur->due;
      return *c.query_one<todo_row>(
          "UPDATE todos SET title = ?, done = ?, due = ?, updated_at = " TODOS_NOW
          ", version = version + 1 WHERE id = ? RETURNING *",
          title, done, due, id);
    }));
    send_todo(res, std::move(row), 200);
  });

  // DELETE /api/todos/:id
  api.del("/todos/:id", [db](request& req, response& res) -> task<> {
    need(db);
    auto id = req.param<std::int64_t>("id");
    auto if_match = header_copy(req, "if-match");
    co_await db->transaction([&](connection& c) {
      auto cur = c.query_one<todo_row>("SELECT * FROM todos WHERE id = ?", id);
      if (!cur) not_found(id);
      check_if_match(if_match, *cur);
      c.execute("DELETE FROM todos WHERE id = ?", id);
    });
    res.no_content(204);
  });
}

}  // namespace todos
