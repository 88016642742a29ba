// The SQLite pool: one writer connection on its own thread, N reader
// connections each on its own thread, and the queues that feed them.
//
// Why this shape: SQLite allows one writer at a time per database, so a
// single writer thread serializes writes without lock contention or
// SQLITE_BUSY between our own connections; in WAL mode readers see the last
// committed snapshot and never block the writer (or each other), so reads
// scale with reader threads. The loop thread only pushes a pointer onto a
// queue under a mutex held for a few instructions.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "db/connection.h"

namespace fastjson::db {
namespace detail {

namespace {

/// Threads sharing one queue; each thread owns one connection.
class worker_group {
 public:
  void start(const std::vector<connection_impl*>& conns, sqlite_impl& owner);
  void push(job* j) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(j);
    }
    cv_.notify_one();
  }
  // Finishes every queued job (including ones pushed while draining), then
  // joins the threads.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  /// Takes `j` off the queue if it is still there.
  bool remove(job* j) {
    std::lock_guard lock(mu_);
    auto it = std::find(jobs_.begin(), jobs_.end(), j);
    if (it == jobs_.end()) return false;
    jobs_.erase(it);
    return true;
  }
  bool runs_on_current_thread() const {
    for (auto& t : threads_)
      if (t.get_id() == std::this_thread::get_id()) return true;
    return false;
  }

 private:
  void run(connection_impl& c, sqlite_impl& owner);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job*> jobs_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

}  // namespace

struct sqlite_impl {
  sqlite::options opts;
  std::unique_ptr<connection_impl> writer;
  std::vector<std::unique_ptr<connection_impl>> readers;
  worker_group writer_group;
  worker_group reader_group;
  // Guards every job's running_on / released / abandoned: the hand-off
  // between a db thread finishing a job and its frame being destroyed.
  // Taken twice per job by its db thread, and by a withdrawing awaiter.
  std::mutex job_mu;
  std::condition_variable job_released;

  /// Before running `j` on `c`: false if its frame is being destroyed.
  bool begin(job* j, connection_impl& c) {
    std::lock_guard lock(job_mu);
    if (j->abandoned) {
      j->released = true;
      job_released.notify_all();
      return false;
    }
    j->running_on = &c;
    return true;
  }
  /// `j` leaves `c` for the writer's queue (a write sent to a reader).
  void hand_off(job* j) {
    {
      std::lock_guard lock(job_mu);
      j->running_on = nullptr;
    }
    writer_group.push(j);
  }
  /// `j` is done: resume its coroutine on its loop, unless it is being
  /// destroyed. After this the db thread never touches `j`.
  void complete(job* j) {
    std::coroutine_handle<> resume_here;
    {
      std::lock_guard lock(job_mu);
      j->running_on = nullptr;
      j->released = true;
      if (j->abandoned) {
        job_released.notify_all();
        return;
      }
      // Under the lock: a withdrawing frame waits here, so its loop (which
      // is destroyed after its frames) is still there to post to.
      if (j->home) {
        auto h = j->waiter;
        j->home->post([h] { h.resume(); });
      } else {
        resume_here = j->waiter;
      }
    }
    if (resume_here) resume_here.resume();
  }

  void submit(target t, job* j) {
    if (t == target::reader && !readers.empty())
      reader_group.push(j);
    else
      writer_group.push(j);
  }
};

namespace {

void worker_group::start(const std::vector<connection_impl*>& conns, sqlite_impl& owner) {
  for (auto* c : conns) threads_.emplace_back([this, c, &owner] { run(*c, owner); });
}

void worker_group::run(connection_impl& c, sqlite_impl& owner) {
  for (;;) {
    job* j;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      j = jobs_.front();
      jobs_.pop_front();
    }
    if (!owner.begin(j, c)) continue;  // withdrawn while queued
    if (c.job_timeout_ms > 0) {
      c.timed_out = false;
      c.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(c.job_timeout_ms);
    }
    try {
      if (!j->run(c)) {
        // A write sent to a reader (e.g. INSERT ... RETURNING via query):
        // hand it to the writer, which outlives the readers at shutdown.
        c.deadline = std::chrono::steady_clock::time_point::max();
        owner.hand_off(j);
        continue;
      }
    } catch (...) {
      j->error = std::current_exception();
    }
    c.deadline = std::chrono::steady_clock::time_point::max();
    // Whatever the body made of the interruption (SQLITE_INTERRUPT, or a
    // caught error and a different one later), the awaiter learns it timed out.
    if (c.timed_out) j->error = std::make_exception_ptr(c.timeout_error());
    // Safety net: a job must never leave its connection inside a transaction
    // (a stray "BEGIN" through execute()); roll back and report it.
    if (!sqlite3_get_autocommit(c.db)) {
      c.rollback_quietly();
      if (!j->error)
        j->error = std::make_exception_ptr(
            error(SQLITE_MISUSE, "db: a statement left a transaction open and was rolled back; "
                                 "use sqlite::transaction()"));
    }
    owner.complete(j);  // after this, the job (in the coroutine frame) may be gone
  }
}

std::string pragma_text(connection_impl& c, const char* sql) {
  statement& st = c.prepare(sql);
  std::string out;
  if (step(st)) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st.stmt, 0));
    if (p) out = p;
  }
  sqlite3_reset(st.stmt);
  return out;
}

bool is_memory(const std::string& path) {
  return path.empty() || path == ":memory:";
}

std::unique_ptr<connection_impl> open_connection(const sqlite::options& o, bool writer) {
  auto c = std::make_unique<connection_impl>();
  c->writer = writer;
  c->cache_limit = static_cast<std::size_t>(o.statement_cache_size > 0 ? o.statement_cache_size : 1);
  std::string path = is_memory(o.path) ? ":memory:" : o.path;
  int rc = sqlite3_open_v2(path.c_str(), &c->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    // Even on failure SQLite usually allocates a handle carrying the message.
    error e = c->db ? make_error(c->db, rc) : error(rc, fmt::format("db: cannot open {}", path));
    throw error(e.code(), fmt::format("{} (opening '{}')", e.what(), path));
  }
  sqlite3_extended_result_codes(c->db, 1);
  check(c->db, sqlite3_busy_timeout(c->db, o.busy_timeout_ms));
  if (writer && !is_memory(o.path)) {
    // journal_mode is persistent in the file; set it once, from the writer.
    std::string mode = pragma_text(*c, "PRAGMA journal_mode=WAL");
    if (mode != "wal")
      throw error(SQLITE_ERROR, fmt::format("db: could not enable WAL on '{}' (journal_mode={})", path, mode));
  }
  c->exec(o.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  if (o.job_timeout_ms > 0) {
    c->job_timeout_ms = o.job_timeout_ms;
    sqlite3_progress_handler(
        c->db, 1000,
        [](void* p) -> int {
          auto* self = static_cast<connection_impl*>(p);
          if (std::chrono::steady_clock::now() < self->deadline) return 0;
          self->timed_out = true;
          return 1;  // SQLITE_INTERRUPT for the running statement
        },
        c.get());
  }
  c->exec("PRAGMA foreign_keys=ON");
  // Readers refuse writes outright: a routing mistake becomes an error
  // (SQLITE_READONLY), never a second writer competing for the lock.
  if (!writer) c->exec("PRAGMA query_only=ON");
  return c;
}

void migrate(connection_impl& c, const std::vector<std::string>& scripts) {
  c.exec(
      "CREATE TABLE IF NOT EXISTS fastjson_migrations("
      "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  sqlite::connection conn(c);
  auto newest = conn.query_value<std::int64_t>("SELECT max(version) FROM fastjson_migrations").value_or(0);
  if (newest > static_cast<std::int64_t>(scripts.size()))
    throw error(SQLITE_ERROR, fmt::format("db: the database has migration {} but the program knows only {}; "
                                          "refusing to run against a newer schema",
                                          newest, scripts.size()));
  for (std::size_t k = 0; k < scripts.size(); ++k) {
    auto version = static_cast<std::int64_t>(k + 1);
    c.exec("BEGIN IMMEDIATE");
    try {
      // Checked inside the write lock: another process may have just applied it.
      if (!conn.query_value<std::int64_t>("SELECT 1 FROM fastjson_migrations WHERE version = ?", version)) {
        c.exec(scripts[k]);
        conn.execute(
            "INSERT INTO fastjson_migrations(version, applied_at) "
            "VALUES(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            version);
      }
      c.exec("COMMIT");
    } catch (const error& e) {
      if (!sqlite3_get_autocommit(c.db)) c.rollback_quietly();
      throw error(e.code(), fmt::format("db: migration {} failed: {}", version, e.what()), e.constraint());
    }
  }
}

}  // namespace

void submit(sqlite_impl& db, target t, job* j) { db.submit(t, j); }

void withdraw(sqlite_impl& db, job* j) noexcept {
  std::unique_lock lock(db.job_mu);
  if (j->released) return;  // completed; its resumption was dropped
  j->abandoned = true;
  if (!j->running_on && (db.reader_group.remove(j) || db.writer_group.remove(j))) {
    j->released = true;  // never ran
    return;
  }
  // Running (or between queues): make SQLite stop at its next check, then
  // wait for the db thread to let go. The interrupt cannot hit another job:
  // this one holds the connection until it completes, which needs job_mu.
  // Repeated, because SQLite clears the flag when a statement starts with
  // none active, so a job of several statements may miss the first one.
  while (!j->released) {
    if (j->running_on) sqlite3_interrupt(j->running_on->db);
    db.job_released.wait_for(lock, std::chrono::milliseconds(10), [j] { return j->released; });
  }
}

}  // namespace detail

std::shared_ptr<sqlite> sqlite::open(options opts) {
  auto impl = std::make_unique<detail::sqlite_impl>();
  if (detail::is_memory(opts.path)) opts.readers = 0;  // each connection would see its own database
  if (opts.readers < 0) opts.readers = 0;
  impl->writer = detail::open_connection(opts, true);
  detail::migrate(*impl->writer, opts.migrations);
  for (int i = 0; i < opts.readers; ++i) impl->readers.push_back(detail::open_connection(opts, false));
  impl->opts = std::move(opts);

  auto db = std::make_shared<sqlite>(std::move(impl));
  auto& d = *db->impl_;
  std::vector<detail::connection_impl*> readers;
  for (auto& r : d.readers) readers.push_back(r.get());
  d.writer_group.start({d.writer.get()}, d);
  d.reader_group.start(readers, d);
  return db;
}

sqlite::sqlite(std::unique_ptr<detail::sqlite_impl> impl) : impl_(std::move(impl)) {}

sqlite::~sqlite() {
  auto shutdown = [](detail::sqlite_impl& d) {
    // Readers first: a reader may still hand a job to the writer while draining.
    d.reader_group.stop();
    d.writer_group.stop();
  };
  if (impl_->reader_group.runs_on_current_thread() || impl_->writer_group.runs_on_current_thread()) {
    // The last reference died inside a coroutine resumed inline on one of
    // our own threads (awaited off any loop). A thread cannot join itself:
    // finish the shutdown from a helper thread, which owns the state until
    // every db thread (this one included, once it returns) has exited.
    std::thread([shutdown, impl = std::move(impl_)] { shutdown(*impl); }).detach();
    return;
  }
  shutdown(*impl_);
}

task<void> sqlite::ping() {
  auto v = co_await query_value<std::int64_t>("SELECT 1");
  if (v != 1) throw error(SQLITE_ERROR, "db: ping returned an unexpected value");
}

sqlite::stats sqlite::statistics() const noexcept {
  stats s;
  auto add = [&](const detail::connection_impl& c) {
    s.prepared += c.prepared.load(std::memory_order_relaxed);
    s.cache_hits += c.hits.load(std::memory_order_relaxed);
  };
  add(*impl_->writer);
  for (auto& r : impl_->readers) add(*r);
  return s;
}

sqlite::statement_counts sqlite::executed() const noexcept {
  statement_counts s;
  auto add = [&](const detail::connection_impl& c) {
    auto n = [&](detail::statement_kind k) {
      return c.executed[static_cast<std::size_t>(k)].load(std::memory_order_relaxed);
    };
    s.selects += n(detail::statement_kind::select);
    s.inserts += n(detail::statement_kind::insert);
    s.updates += n(detail::statement_kind::update);
    s.deletes += n(detail::statement_kind::del);
    s.others += n(detail::statement_kind::other);
  };
  add(*impl_->writer);
  for (auto& r : impl_->readers) add(*r);
  return s;
}

const sqlite::options& sqlite::config() const noexcept { return impl_->opts; }

void sqlite::begin(connection& c) { c.execute("BEGIN IMMEDIATE"); }
void sqlite::begin_read(connection& c) { c.execute("BEGIN"); }
void sqlite::commit(connection& c) { c.execute("COMMIT"); }
void sqlite::rollback(connection& c) noexcept {
  // After some errors (SQLITE_FULL, IOERR, ...) SQLite has already rolled back.
  try {
    c.execute("ROLLBACK");
  } catch (...) {
  }
}

}  // namespace fastjson::db
