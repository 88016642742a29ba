// Router lookups over the shared route tables (../shared/data/routes/*.tsv).
//
// Each benchmark builds a fastjson::router from one table, then every
// iteration looks up every route of the table once (the path with its
// parameters filled in). Reported per lookup:
//   ns_per_lookup      time per lookup (a kIsRate|kInvert counter)
//   allocs_per_lookup  heap allocations per lookup (global operator new is
//                      replaced below with a counting version; target 0)
//
//   ./build-rt/benchmarks/router_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastjson/router.h"

// --- allocation counting -------------------------------------------------

namespace {
std::size_t g_allocs = 0;  // benchmarks run on one thread
}

void* operator new(std::size_t n) {
  ++g_allocs;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocs;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

// --- route tables ----------------------------------------------------------

namespace {

struct lookup {
  fastjson::method verb;
  std::string path;
  int id;
};

struct table {
  fastjson::router router;
  std::vector<lookup> lookups;
};

table load(const std::string& file) {
  std::ifstream in(std::string(FASTJSON_SHARED_DATA) + "/routes/" + file);
  if (!in) throw std::runtime_error("cannot open route table " + file);
  table t;
  std::string line;
  int id = 0;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    auto verb = fastjson::parse_method(line.substr(0, tab));
    std::string pattern = line.substr(tab + 1);
    t.router.add(verb, pattern, id);
    // Fill every ":name" with a plausible value.
    std::string path;
    for (std::size_t i = 0; i < pattern.size();) {
      if (pattern[i] == ':' || pattern[i] == '*') {
        std::size_t end = pattern.find('/', i);
        if (end == std::string::npos) end = pattern.size();
        path += "value" + std::to_string(end - i);
        i = end;
      } else {
        path += pattern[i++];
      }
    }
    t.lookups.push_back({verb, std::move(path), id++});
  }
  return t;
}

void bm_router(benchmark::State& state, const char* file) {
  table t = load(file);
  fastjson::router::params params;
  // Check once that every lookup finds its own route.
  for (auto& l : t.lookups)
    if (t.router.match(l.verb, l.path, params).route != l.id) {
      state.SkipWithError(("wrong route for " + l.path).c_str());
      return;
    }
  std::size_t allocs_before = g_allocs;
  for (auto _ : state) {
    for (auto& l : t.lookups) {
      auto m = t.router.match(l.verb, l.path, params);
      benchmark::DoNotOptimize(m);
      benchmark::DoNotOptimize(params);
    }
  }
  std::size_t allocs = g_allocs - allocs_before;
  double lookups = static_cast<double>(state.iterations()) * static_cast<double>(t.lookups.size());
  state.SetItemsProcessed(static_cast<std::int64_t>(lookups));
  state.counters["ns_per_lookup"] =
      benchmark::Counter(static_cast<double>(t.lookups.size()),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_lookup"] = benchmark::Counter(static_cast<double>(allocs) / lookups);
  state.counters["routes"] = benchmark::Counter(static_cast<double>(t.lookups.size()));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("BM_router/github_all", bm_router, "github-api.tsv");
  benchmark::RegisterBenchmark("BM_router/parse_all", bm_router, "parse-api.tsv");
  benchmark::RegisterBenchmark("BM_router/gplus_all", bm_router, "gplus-api.tsv");
  benchmark::RegisterBenchmark("BM_router/static_all", bm_router, "static.tsv");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
