// fastjson-todos: a todo-list CRUD service on SQLite, and the scaffold to
// copy for your own service (`scripts/new-service NAME` does the copy).
//
//   fastjson-todos --db ./todos.db --port 8080       (--help lists every flag)
//
// How it is put together, and how to grow it:
//   - todos.h    the types (FASTJSON_REFLECT: JSON in/out, validation, row
//                mapping) and the schema as append-only migrations. Add a
//                column: append a migration ("ALTER TABLE todos ADD ..."),
//                add the member to the structs.
//   - todos.cc   the routes (install_routes). Add an endpoint: one more
//                `api.get(...)` with a coroutine handler that co_awaits the db.
//                Throw fastjson::http_error(status, detail) for client errors;
//                the framework answers with problem+json.
//   - main.cc    (this file) flags, database, middleware, run. Add a flag with
//                flags.add(...); add middleware with app.use(...) (CORS, rate
//                limits, timeouts: see fastjson/mw/builtin.h).
//   - tests      drive install_routes through fastjson::testing::client: no
//                sockets, microseconds per request.
#include <cstdio>
#include <string>

#include "todos.h"

int main(int argc, char** argv) {
  std::string db_path = "./todos.db";
  bool sync_full = false;
  fastjson::flags flags("fastjson-todos", "A todo-list CRUD service on SQLite (see docs/TODOS.md).");
  flags.add("db", db_path, "SQLite database file (created and migrated on first start)");
  flags.add("sync-full", sync_full, "fsync every commit (survive power loss, not only process crashes)");
  fastjson::config cfg = flags.parse(argc, argv);

  std::shared_ptr<fastjson::db::sqlite> db;
  try {
    db = todos::open_database(db_path, sync_full);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fastjson-todos: cannot open database %s: %s\n", db_path.c_str(), e.what());
    return 1;
  }

  fastjson::app app;
  app.use(fastjson::mw::request_id());
  if (cfg.access_log) app.use(fastjson::mw::access_log());
  app.use(fastjson::mw::recover());
  todos::install_routes(app, db);
  return app.run(cfg);
}
