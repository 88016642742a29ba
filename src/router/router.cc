// The radix tree behind fastjson::router.
//
// Each node holds a run of static bytes (`prefix`), its static children
// (indexed by their first byte), at most one parameter child and at most one
// wildcard child, and a method table. Matching walks the path once, trying
// static, then parameter, then wildcard children, and backtracks only when a
// branch dead-ends, so the common case is a straight descent.

#include "fastjson/router.h"

#include <fmt/format.h>

#include <cstring>

namespace fastjson {

struct router::node {
  std::string prefix;
  std::string first_bytes;  // first byte of each static child, same order
  std::vector<std::unique_ptr<node>> children;
  std::unique_ptr<node> param;
  std::string param_name, param_owner;  // owner: the pattern that introduced the param
  std::unique_ptr<node> wildcard;
  std::string wildcard_name, wildcard_owner;
  std::array<int, method_count> routes;
  std::array<std::string, method_count> patterns;
  std::uint16_t mask = 0;

  node() { routes.fill(-1); }
};

router::router() : root_(std::make_unique<node>()) {}
router::~router() = default;
router::router(router&&) noexcept = default;
router& router::operator=(router&&) noexcept = default;

namespace {

std::size_t common_prefix(std::string_view a, std::string_view b) {
  std::size_t n = std::min(a.size(), b.size()), i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

void router::add(method m, std::string_view pattern, int route_id) {
  if (pattern.empty() || pattern[0] != '/')
    throw std::invalid_argument(fmt::format("route pattern '{}' must start with '/'", pattern));
  const std::string label = fmt::format("{} {}", to_string(m), pattern);
  node* n = root_.get();
  std::string_view rest = pattern;
  std::size_t params_seen = 0;
  while (!rest.empty()) {
    char c = rest[0];
    if (c == ':' || c == '*') {
      std::size_t end = c == ':' ? rest.find('/') : rest.size();
      if (end == std::string_view::npos) end = rest.size();
      std::string_view name = rest.substr(1, end - 1);
      if (name.empty())
        throw std::invalid_argument(fmt::format("route '{}': empty parameter name", label));
      if (c == '*' && name.find('/') != std::string_view::npos)
        throw std::invalid_argument(fmt::format("route '{}': a wildcard must be the last segment", label));
      if (++params_seen > max_params)
        throw std::invalid_argument(fmt::format("route '{}': more than {} parameters", label, max_params));
      if (c == '*') {
        if (!n->wildcard) {
          n->wildcard = std::make_unique<node>();
          n->wildcard_name = std::string(name);
          n->wildcard_owner = label;
        } else if (n->wildcard_name != name) {
          throw route_conflict(fmt::format("{} conflicts with {}: wildcards *{} and *{} at the same position",
                                           label, n->wildcard_owner, name, n->wildcard_name));
        }
        n = n->wildcard.get();
      } else {
        if (!n->param) {
          n->param = std::make_unique<node>();
          n->param_name = std::string(name);
          n->param_owner = label;
        } else if (n->param_name != name) {
          throw route_conflict(fmt::format("{} conflicts with {}: parameters :{} and :{} at the same position",
                                           label, n->param_owner, name, n->param_name));
        }
        n = n->param.get();
      }
      rest.remove_prefix(end);
      continue;
    }
    // Static text up to the next parameter or wildcard.
    std::size_t end = rest.find_first_of(":*");
    if (end == std::string_view::npos) end = rest.size();
    std::string_view text = rest.substr(0, end);
    if (end < rest.size() && text.back() != '/')
      throw std::invalid_argument(fmt::format("route '{}': a parameter must start a path segment", label));
    rest.remove_prefix(end);
    // Insert `text` below n, splitting nodes on shared prefixes.
    while (!text.empty()) {
      auto pos = n->first_bytes.find(text[0]);
      if (pos == std::string::npos) {
        auto child = std::make_unique<node>();
        child->prefix = std::string(text);
        n->first_bytes += text[0];
        n->children.push_back(std::move(child));
        n = n->children.back().get();
        break;
      }
      node* child = n->children[pos].get();
      std::size_t k = common_prefix(child->prefix, text);
      if (k < child->prefix.size()) {
        // Split: child keeps the tail under a new intermediate node.
        auto mid = std::make_unique<node>();
        mid->prefix = child->prefix.substr(0, k);
        child->prefix.erase(0, k);
        mid->first_bytes += child->prefix[0];
        mid->children.push_back(std::move(n->children[pos]));
        n->children[pos] = std::move(mid);
        child = n->children[pos].get();
      }
      n = child;
      text.remove_prefix(k);
    }
  }
  auto mi = static_cast<std::size_t>(m);
  if (n->routes[mi] >= 0)
    throw route_conflict(fmt::format("{} conflicts with {}: same method and path shape", label, n->patterns[mi]));
  n->routes[mi] = route_id;
  n->patterns[mi] = label;
  n->mask |= static_cast<std::uint16_t>(1u << mi);
  ++count_;
}

namespace {

struct matcher {
  std::size_t mi;
  router::params& out;
  std::size_t count = 0;
  std::uint16_t allowed = 0;  // methods of every node the path matched (405 / OPTIONS)
};

}  // namespace

// Returns the node holding a route for the method, or nullptr; records the
// first path match (any method) in `m.fallback` for 405 answers.
template <class Node>
static const Node* descend(const Node* n, std::string_view path, matcher& m) noexcept {
  if (path.empty()) {
    if (n->mask) {
      if (n->routes[m.mi] >= 0 ||
          (m.mi == static_cast<std::size_t>(method::head) && n->routes[static_cast<std::size_t>(method::get)] >= 0))
        return n;
      // Keep searching: a lower-priority branch may hold the method, and
      // otherwise `Allow` must list the methods of every matching route.
      m.allowed |= n->mask;
    }
    // An empty remainder still matches a wildcard.
    if (n->wildcard && m.count < router::max_params) {
      m.out[m.count++] = {n->wildcard_name, path};
      if (auto* r = descend(n->wildcard.get(), std::string_view(), m)) return r;
      --m.count;
    }
    return nullptr;
  }
  // Prefixes, child lists and segments are short: plain loops beat calls
  // to memchr/memcmp here (those were half of the lookup time).
  const char* fb = n->first_bytes.data();
  for (std::size_t i = 0, k = n->first_bytes.size(); i < k; ++i) {
    if (fb[i] != path[0]) continue;
    const Node* c = n->children[i].get();
    const char* pre = c->prefix.data();
    std::size_t len = c->prefix.size();
    if (path.size() >= len) {
      std::size_t j = 1;  // byte 0 matched through first_bytes
      while (j < len && pre[j] == path[j]) ++j;
      if (j == len)
        if (auto* r = descend(c, path.substr(len), m)) return r;
    }
    break;
  }
  if (n->param && m.count < router::max_params) {
    std::size_t end = 0;
    while (end < path.size() && path[end] != '/') ++end;
    if (end > 0) {
      m.out[m.count++] = {n->param_name, path.substr(0, end)};
      if (auto* r = descend(n->param.get(), path.substr(end), m)) return r;
      --m.count;
    }
  }
  if (n->wildcard && m.count < router::max_params) {
    m.out[m.count++] = {n->wildcard_name, path};
    if (auto* r = descend(n->wildcard.get(), std::string_view(), m)) return r;
    --m.count;
  }
  return nullptr;
}

router::match_result router::match(method meth, std::string_view path, params& out) const noexcept {
  matcher m{static_cast<std::size_t>(meth), out};
  match_result res;
  if (const node* n = descend(root_.get(), path, m)) {
    std::size_t mi = m.mi;
    if (n->routes[mi] < 0) mi = static_cast<std::size_t>(method::get);  // HEAD via GET
    res.route = n->routes[mi];
    res.path_found = true;
    res.allowed = n->mask;
    res.param_count = m.count;
    return res;
  }
  if (m.allowed) {
    // A 405 does not reach a handler, so the parameters are not needed.
    res.path_found = true;
    res.allowed = m.allowed;
  }
  return res;
}

std::string allow_header(std::uint16_t mask) {
  std::string s;
  auto add = [&](method m) {
    if (!s.empty()) s += ", ";
    s += to_string(m);
  };
  for (std::size_t i = 0; i < method_count; ++i) {
    auto m = static_cast<method>(i);
    if (m == method::head || m == method::options) continue;
    if (mask & (1u << i)) {
      add(m);
      if (m == method::get) add(method::head);
    }
  }
  if ((mask & (1u << static_cast<int>(method::head))) && !(mask & 1u)) add(method::head);
  add(method::options);
  return s;
}

}  // namespace fastjson
