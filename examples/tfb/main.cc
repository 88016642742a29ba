// fastjson-tfb: the TechEmpower Framework Benchmarks app on SQLite.
//
//   fastjson-tfb --db ./tfb.db --port 8080 --threads 1     (--help lists every flag)
//   fastjson-tfb ... --stats       also GET /stats, for benchmarks/tfb/verify --count-statements
//
// The first start creates and seeds the database (10,000 World rows, the 12
// fortunes) through migrations; later starts reuse it. The routes are in
// tfb.cc; benchmarks/tfb/README.md says how to verify and load-test them.
#include <cstdio>
#include <string>

#include "tfb.h"

int main(int argc, char** argv) {
  std::string db_path = "./tfb.db";
  fastjson::flags flags("fastjson-tfb", "The TechEmpower benchmark app (json, plaintext, db, queries, "
                                        "fortunes, updates, cached-worlds) on SQLite.");
  flags.add("db", db_path, "SQLite database file (created and seeded on first start)");
  bool stats = false;
  flags.add("stats", stats,
            "also serve GET /stats: statements executed, by kind (for benchmarks/tfb/verify --count-statements)");
  fastjson::config cfg = flags.parse(argc, argv);

  std::shared_ptr<fastjson::db::sqlite> db;
  std::shared_ptr<fastjson::cache::sharded_cache> cache;
  try {
    db = tfb::open_database(db_path);
    cache = tfb::make_world_cache(*db);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fastjson-tfb: cannot open database %s: %s\n", db_path.c_str(), e.what());
    return 1;
  }

  fastjson::app app;
  if (cfg.access_log) app.use(fastjson::mw::access_log());
  tfb::install_routes(app, db, cache);
  if (stats) tfb::install_stats_route(app, db);
  return app.run(cfg);
}
