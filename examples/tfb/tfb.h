#pragma once
// The TechEmpower Framework Benchmarks app: types, schema and routes, kept
// apart from main() so tests can mount the same routes on an in-process app.
//
//   GET /plaintext                 "Hello, World!" (text/plain)
//   GET /json                      {"message":"Hello, World!"} (serialized per request)
//   GET /db                        one random World row
//   GET /queries?queries=N         N random World rows, one query each
//   GET /fortunes                  the Fortune table + one row, sorted, as HTML
//   GET /updates?queries=N         N rows read, given new random numbers, persisted
//   GET /cached-worlds?count=N     N random World rows through fastjson::cache
//   GET /stats                     statements executed, by kind (only with --stats)
//
// N is clamped to 1..500; a missing or non-integer N counts as 1.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fastjson/cache.h>
#include <fastjson/db/sqlite.h>
#include <fastjson/fastjson.h>

namespace tfb {

/// A row of `World`. The JSON names are the benchmark's (`randomNumber`).
struct world {
  std::int64_t id = 0;
  std::int64_t randomNumber = 0;  // NOLINT: the benchmark's column and JSON name
};
FASTJSON_REFLECT(world, id, randomNumber)

/// A row of `Fortune`.
struct fortune {
  std::int64_t id = 0;
  std::string message;
};
FASTJSON_REFLECT(fortune, id, message)

inline constexpr std::int64_t world_rows = 10000;
inline constexpr int max_queries = 500;

/// The schema and the seed data as append-only migrations: a restart finds
/// them applied and does not reseed.
std::vector<std::string> migrations();

/// Opens (creating, migrating and seeding) the database at `path`.
std::shared_ptr<fastjson::db::sqlite> open_database(const std::string& path);

/// The benchmark's rule for `queries` / `count`: absent, empty, not an
/// integer or < 1 gives 1; > 500 gives 500.
int clamp_count(std::optional<std::string_view> text) noexcept;

/// Appends `s` with & < > " ' escaped as HTML entities.
void html_escape(fastjson::buffer& out, std::string_view s);

/// Adds the request-time fortune, sorts by message (bytewise, which is code
/// point order for UTF-8) and renders the benchmark's HTML document.
void render_fortunes(fastjson::buffer& out, std::vector<fortune>& rows);

/// The World cache behind /cached-worlds: a sharded_cache (S3-FIFO, byte
/// bounded) of each row's JSON under its id. `warm` loads every row now;
/// misses (after an eviction) are loaded from the database on demand.
std::shared_ptr<fastjson::cache::sharded_cache> make_world_cache(fastjson::db::sqlite& db,
                                                                 bool warm = true);

/// Mounts the seven endpoints.
void install_routes(fastjson::app& app, std::shared_ptr<fastjson::db::sqlite> db,
                    std::shared_ptr<fastjson::cache::sharded_cache> cache);

/// Mounts `GET /stats`: the statements `db` has executed since it was
/// opened, by kind (`fastjson::db::sqlite::executed()`), as
/// {"select":N,"insert":N,"update":N,"delete":N,"other":N}.
/// benchmarks/tfb/verify --count-statements reads it before and after each
/// batch of requests. Not one of the benchmark's routes: fastjson-tfb
/// mounts it only with --stats.
void install_stats_route(fastjson::app& app, std::shared_ptr<fastjson::db::sqlite> db);

}  // namespace tfb
