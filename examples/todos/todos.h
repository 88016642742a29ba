#pragma once
// The todos service: types, schema and routes, kept apart from main() so
// tests (and your own programs) can mount the same routes on any app.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fastjson/db/sqlite.h>
#include <fastjson/fastjson.h>

namespace todos {

/// A todo as the API returns it. `due` is always present ("due": null when
/// unset); timestamps are RFC 3339 UTC with milliseconds.
struct todo {
  std::int64_t id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> due;
  std::string created_at;
  std::string updated_at;
};
FASTJSON_REFLECT(todo, id, title, done, (due, "due", emit_null), created_at, updated_at)

/// A row of the `todos` table: the todo plus its write counter (the ETag).
struct todo_row {
  std::int64_t id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> due;
  std::string created_at;
  std::string updated_at;
  std::int64_t version = 0;
};
FASTJSON_REFLECT(todo_row, id, title, done, due, created_at, updated_at, version)

/// The body of POST and PUT: title required, the rest defaulted.
/// Unknown fields (such as "id" or "created_at" echoed back) are ignored.
struct todo_input {
  std::string title;
  bool done = false;
  std::optional<std::string> due;
};
FASTJSON_REFLECT(todo_input, title, (done, "done", not_required), due)
FASTJSON_CONSTRAINTS(todo_input, (title, min_length(1), max_length(200)))

/// The body of PATCH: any subset. `"due": null` clears the date (presence is
/// detected separately, since an empty optional cannot tell null from absent).
struct todo_patch {
  std::optional<std::string> title;
  std::optional<bool> done;
  std::optional<std::string> due;
};
FASTJSON_REFLECT(todo_patch, title, done, due)
FASTJSON_CONSTRAINTS(todo_patch, (title, min_length(1), max_length(200)))

/// One page of GET /api/todos.
struct todo_page {
  std::vector<todo> items;
  std::int64_t total = 0;
  std::int64_t limit = 0;
  std::int64_t offset = 0;
};
FASTJSON_REFLECT(todo_page, items, total, limit, offset)

/// The schema, as ordered migrations (append only; never edit a shipped one).
std::vector<std::string> migrations();

/// Opens (creating and migrating) the database at `path`.
std::shared_ptr<fastjson::db::sqlite> open_database(const std::string& path, bool synchronous_full = false);

/// Mounts the service on `app`:
///   GET /healthz, GET /readyz,
///   POST/GET /api/todos, GET/PUT/PATCH/DELETE /api/todos/:id
/// The /api group gets a 64 KiB body limit. App-level middleware (request
/// id, recover, access log) is the caller's choice; see main.cc.
void install_routes(fastjson::app& app, std::shared_ptr<fastjson::db::sqlite> db);

/// True when `s` is a real calendar date written as YYYY-MM-DD.
bool is_valid_date(std::string_view s) noexcept;

}  // namespace todos
