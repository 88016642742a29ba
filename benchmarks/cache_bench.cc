// Cache benchmarks: operations per second on a Zipf workload, and the hit
// ratio of LRU vs S3-FIFO on Zipf and scan-polluted Zipf traces.
//
//   ./cache_bench                                   # everything (~1 minute)
//   ./cache_bench --benchmark_filter=hit_ratio      # only the hit-ratio table
//   ./cache_bench --benchmark_filter=ops --benchmark_min_time=0.2
//
// Workload: 1,000,000 keys ("key:NNNNNNN", 11 bytes), 100-byte values with
// content type application/json, key popularity Zipf(s = 0.99). Throughput
// runs use a cache holding ~10% of the keys and a 90% get / 10% put mix.
// After the benchmarks, a hit-ratio table is printed to stdout.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "fastjson/cache.h"

namespace fc = fastjson::cache;

namespace {

constexpr std::size_t key_space = 1'000'000;
constexpr std::size_t value_size = 100;
constexpr double zipf_s = 0.99;
constexpr std::size_t trace_len = std::size_t{1} << 22;  // 4M requests
constexpr std::string_view content_type = "application/json";

std::string make_key(std::size_t i) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "key:%07zu", i);
  return std::string(buf, std::size_t(n));
}

const std::vector<std::string>& keys() {
  static const std::vector<std::string> k = [] {
    std::vector<std::string> v;
    v.reserve(key_space);
    for (std::size_t i = 0; i < key_space; ++i) v.push_back(make_key(i));
    return v;
  }();
  return k;
}

// Key indices drawn from Zipf(s) over key_space by inverting the CDF. Rank r
// maps to a scrambled key index so hot keys are not neighbours.
const std::vector<std::uint32_t>& zipf_trace() {
  static const std::vector<std::uint32_t> t = [] {
    std::vector<double> cdf(key_space);
    double sum = 0;
    for (std::size_t r = 0; r < key_space; ++r) {
      sum += 1.0 / std::pow(double(r + 1), zipf_s);
      cdf[r] = sum;
    }
    std::vector<std::uint32_t> perm(key_space);
    for (std::size_t i = 0; i < key_space; ++i) perm[i] = std::uint32_t(i);
    std::mt19937_64 rng(42);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::uniform_real_distribution<double> u(0.0, sum);
    std::vector<std::uint32_t> out(trace_len);
    for (auto& x : out) {
      auto r = std::size_t(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
      x = perm[std::min(r, key_space - 1)];
    }
    return out;
  }();
  return t;
}

const std::string& value_bytes() {
  static const std::string v(value_size, 'v');
  return v;
}

std::size_t bytes_for_items(std::size_t items) {
  return items * fc::estimate_charge(11, value_size, content_type.size(), 18, false);
}

fc::options make_options(fc::eviction_policy p, std::size_t items) {
  return {.max_bytes = bytes_for_items(items), .policy = p};
}

// ---- throughput ------------------------------------------------------------

template <class Cache>
void warm(Cache& c) {
  const auto& t = zipf_trace();
  const auto& k = keys();
  for (std::size_t i = 0; i < trace_len / 2; ++i)
    if (!c.get(k[t[i]])) c.put(k[t[i]], value_bytes(), {.content_type = content_type});
}

template <class Cache>
Cache& shared_cache(fc::eviction_policy p) {
  static std::map<fc::eviction_policy, std::unique_ptr<Cache>> caches;
  static std::mutex mu;
  std::lock_guard lock(mu);
  auto& c = caches[p];
  if (!c) {
    auto o = make_options(p, key_space / 10);
    if constexpr (std::is_same_v<Cache, fc::sharded_cache>) o.shards = 16;
    c = std::make_unique<Cache>(o);
    warm(*c);
  }
  return *c;
}

template <class Cache>
void run_ops(benchmark::State& state, Cache& c) {
  const auto& t = zipf_trace();
  const auto& k = keys();
  std::size_t i = std::size_t(state.thread_index()) * (trace_len / 2 + 12345);
  std::uint64_t hits = 0, gets = 0;
  for (auto _ : state) {
    const std::string& key = k[t[i & (trace_len - 1)]];
    if (i % 10 == 0) {
      benchmark::DoNotOptimize(c.put(key, value_bytes(), {.content_type = content_type}));
    } else {
      auto e = c.get(key);
      hits += bool(e);
      ++gets;
      benchmark::DoNotOptimize(e);
    }
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["get_hit_ratio"] =
      benchmark::Counter(gets ? double(hits) / double(gets) : 0.0, benchmark::Counter::kAvgThreads);
}

void BM_ops_local(benchmark::State& state) {
  auto p = fc::eviction_policy(state.range(0));
  state.SetLabel(std::string(fc::to_string(p)));
  run_ops(state, shared_cache<fc::local_cache>(p));
}
BENCHMARK(BM_ops_local)->Arg(int(fc::eviction_policy::lru))->Arg(int(fc::eviction_policy::s3fifo));

void BM_ops_sharded(benchmark::State& state) {
  auto p = fc::eviction_policy(state.range(0));
  state.SetLabel(std::string(fc::to_string(p)));
  // Created (on first use, under a mutex) before the timed loop starts; the
  // loop's start is a barrier for all threads.
  auto& c = shared_cache<fc::sharded_cache>(p);
  run_ops(state, c);
}
BENCHMARK(BM_ops_sharded)
    ->Arg(int(fc::eviction_policy::lru))
    ->Arg(int(fc::eviction_policy::s3fifo))
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// The share-nothing alternative: one local_cache per thread (per event loop),
// no lock and no shared cache lines. Shows how far the machine itself scales.
void BM_ops_local_per_thread(benchmark::State& state) {
  static std::unique_ptr<fc::local_cache> caches[2];
  static std::mutex mu;
  fc::local_cache* c;
  {
    std::lock_guard lock(mu);
    auto& slot = caches[state.thread_index() % 2];
    if (!slot) {
      slot = std::make_unique<fc::local_cache>(make_options(fc::eviction_policy::s3fifo, key_space / 10));
      warm(*slot);
    }
    c = slot.get();
  }
  state.SetLabel("s3fifo");
  run_ops(state, *c);
}
BENCHMARK(BM_ops_local_per_thread)->Threads(1)->Threads(2)->UseRealTime();

// ---- hit ratio -------------------------------------------------------------

struct ratio_row {
  double all = 0, zipf_only = 0;
};
std::map<std::string, ratio_row> ratio_table;  // "workload size policy" -> ratios

// Replays the trace with demand fill (miss -> put) and measures the hit
// ratio over the second half (the first half warms the cache up). With
// `scan`, every 10th request is a never-repeated sequential key.
ratio_row replay(fc::eviction_policy p, std::size_t items, bool scan) {
  fc::local_cache c(make_options(p, items));
  const auto& t = zipf_trace();
  const auto& k = keys();
  std::size_t next_scan = key_space;
  std::uint64_t hits = 0, total = 0, zhits = 0, ztotal = 0;
  std::string scan_key;
  for (std::size_t i = 0; i < trace_len; ++i) {
    bool is_scan = scan && i % 10 == 9;
    if (is_scan) scan_key = make_key(next_scan++);
    const std::string& key = is_scan ? scan_key : k[t[i]];
    bool hit = bool(c.get(key));
    if (!hit) c.put(key, value_bytes(), {.content_type = content_type});
    if (i >= trace_len / 2) {
      ++total;
      hits += hit;
      if (!is_scan) {
        ++ztotal;
        zhits += hit;
      }
    }
  }
  return {double(hits) / double(total), double(zhits) / double(ztotal)};
}

void BM_hit_ratio(benchmark::State& state) {
  auto p = fc::eviction_policy(state.range(0));
  bool scan = state.range(1) != 0;
  double pct = double(state.range(2)) / 10.0;  // permille -> percent
  auto items = std::size_t(double(key_space) * pct / 100.0);
  ratio_row r;
  for (auto _ : state) r = replay(p, items, scan);
  state.SetLabel(std::string(fc::to_string(p)) + (scan ? " zipf+scan " : " zipf ") +
                 std::to_string(pct).substr(0, 4) + "%");
  state.counters["hit_ratio"] = r.all;
  state.counters["zipf_hit_ratio"] = r.zipf_only;
  char name[64];
  std::snprintf(name, sizeof name, "%-10s %5.1f%%", scan ? "zipf+scan" : "zipf", pct);
  char policy[16];
  std::snprintf(policy, sizeof policy, " %-8s", std::string(fc::to_string(p)).c_str());
  ratio_table[std::string(name) + policy] = r;
}
BENCHMARK(BM_hit_ratio)
    ->ArgsProduct({{int(fc::eviction_policy::lru), int(fc::eviction_policy::s3fifo)},
                   {0, 1},
                   {10, 50, 100}})  // cache size in permille of the key space
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void print_ratio_table() {
  if (ratio_table.empty()) return;
  std::printf("\nHit ratio (second half of a %zu-request trace, %zu keys, Zipf s=%.2f)\n",
              trace_len, key_space, zipf_s);
  std::printf("%-10s %6s  %-8s %9s %14s\n", "workload", "size", "policy", "hit ratio",
              "on zipf reqs");
  for (auto& [name, r] : ratio_table)
    std::printf("%s %9.4f %14.4f\n", name.c_str(), r.all, r.zipf_only);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_ratio_table();
  return 0;
}
