// Fuzzes the radix router: random patterns (conflicts and malformed patterns
// must throw route_conflict / invalid_argument, nothing else) and random
// paths, with invariants:
//  - a matched route's pattern with its parameters substituted gives back the
//    path, parameter names come in pattern order, and the route's method is
//    the one asked for (or GET for HEAD);
//  - a path built from a registered pattern (parameters and wildcard filled
//    in) always matches some route of that method.
//
// Input: lines. Byte 0 (mod 12, + 1) is how many leading lines are patterns,
// each prefixed by a method byte; the rest are paths to look up (also used as
// parameter values).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fastjson/router.h"

namespace {

using fastjson::method;

struct route {
  method m;
  std::string pattern;
};

[[noreturn]] void fail(const char* what, std::string_view a, std::string_view b = {}) {
  std::fprintf(stderr, "fuzz_router: %s: '%.*s' '%.*s'\n", what, int(a.size()), a.data(), int(b.size()),
               b.data());
  std::abort();
}

// The pattern's segments that are parameters (":x") or a wildcard ("*x"), in order.
std::vector<std::string_view> param_names(std::string_view p) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if ((p[i] == ':' || p[i] == '*') && i > 0 && p[i - 1] == '/') {
      std::size_t e = p.find('/', i);
      if (e == std::string_view::npos) e = p.size();
      out.push_back(p.substr(i + 1, e - i - 1));
      i = e - 1;
    }
  }
  return out;
}

// Replaces each parameter/wildcard segment with the next value.
std::string substitute(std::string_view p, const std::vector<std::string_view>& values) {
  std::string out;
  std::size_t k = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if ((p[i] == ':' || p[i] == '*') && i > 0 && p[i - 1] == '/') {
      std::size_t e = p.find('/', i);
      if (e == std::string_view::npos) e = p.size();
      if (k < values.size()) out.append(values[k]);
      ++k;
      i = e - 1;
    } else {
      out.push_back(p[i]);
    }
  }
  return out;
}

const method methods[] = {method::get, method::head, method::post, method::put, method::del, method::options};

void check_match(const fastjson::router& r, const std::vector<route>& routes, method m, std::string_view path,
                 int expect_some) {
  fastjson::router::params ps;
  auto res = r.match(m, path, ps);
  if (res.route < 0) {
    if (expect_some) fail("a path built from a pattern matched nothing", path);
    return;
  }
  if (res.route >= int(routes.size())) fail("route id out of range", path);
  const route& rt = routes[static_cast<std::size_t>(res.route)];
  if (!(rt.m == m || (m == method::head && rt.m == method::get))) fail("wrong method", rt.pattern, path);
  if (!res.path_found) fail("match without path_found", path);
  auto names = param_names(rt.pattern);
  if (res.param_count != names.size()) fail("param count", rt.pattern, path);
  std::vector<std::string_view> values;
  for (std::size_t i = 0; i < res.param_count; ++i) {
    if (ps[i].first != names[i]) fail("param name order", rt.pattern, path);
    // A ':' parameter is one non-empty segment.
    values.push_back(ps[i].second);
  }
  if (substitute(rt.pattern, values) != path) fail("substituted pattern != path", rt.pattern, path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 4096) return 0;
  std::size_t npat = data[0] % 12 + 1;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> lines;
  while (!in.empty()) {
    std::size_t e = in.find('\n');
    lines.push_back(in.substr(0, e));
    if (e == std::string_view::npos) break;
    in.remove_prefix(e + 1);
  }
  fastjson::router r;
  std::vector<route> routes;
  std::size_t i = 0;
  for (; i < lines.size() && i < npat; ++i) {
    std::string_view l = lines[i];
    if (l.empty()) continue;
    method m = methods[static_cast<unsigned char>(l[0]) % 6];
    std::string pattern(l.substr(1));
    try {
      r.add(m, pattern, int(routes.size()));
      routes.push_back({m, pattern});
    } catch (const fastjson::route_conflict&) {
    } catch (const std::invalid_argument&) {
    }
  }
  if (r.size() != routes.size()) std::abort();
  std::vector<std::string_view> paths(lines.begin() + static_cast<std::ptrdiff_t>(i), lines.end());
  for (auto p : paths)
    for (method m : methods) check_match(r, routes, m, p, 0);
  // Paths built from each pattern, with values without '/' for parameters.
  for (auto& rt : routes) {
    auto names = param_names(rt.pattern);
    if (names.size() > fastjson::router::max_params) continue;
    std::vector<std::string_view> values;
    for (std::size_t k = 0; k < names.size(); ++k) {
      std::string_view v = k < paths.size() ? paths[k] : std::string_view("v");
      bool last_wild = k + 1 == names.size() && rt.pattern.find("/*") != std::string::npos;
      if (!last_wild && (v.empty() || v.find('/') != std::string_view::npos)) v = "v";
      values.push_back(v);
    }
    std::string path = substitute(rt.pattern, values);
    check_match(r, routes, rt.m, path, 1);
  }
  return 0;
}
