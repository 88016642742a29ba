#pragma once
/// \file router.h
/// The radix-tree router.
///
/// Patterns are made of static text, `:name` parameters (one path segment)
/// and a trailing `*name` wildcard (the rest of the path, possibly empty).
/// At each position static text beats a parameter, which beats a wildcard.
/// Each tree node carries a method table, so one lookup answers both "which
/// handler" and, for 405 responses, "which methods does this path allow".
///
/// The router is built before the server starts and is read-only afterwards:
/// lookups take no lock and allocate nothing. Parameters are views into the
/// path given to `match` and are valid as long as it is.
///
/// \code
///   fastjson::router r;
///   r.add(fastjson::method::get, "/users/:id", 0);
///   fastjson::router::params p;
///   auto m = r.match(fastjson::method::get, "/users/7", p);   // m.route == 0, p[0] == {"id", "7"}
/// \endcode

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastjson/request.h"

namespace fastjson {

/// Thrown by router::add when two routes cannot coexist; the message names
/// both ("GET /users/:id conflicts with GET /users/:name: ...").
class route_conflict : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class router {
 public:
  static constexpr std::size_t max_params = 16;
  using params = std::array<std::pair<std::string_view, std::string_view>, max_params>;

  struct match_result {
    /// The route id given to add(), or -1.
    int route = -1;
    /// True when some route matches the path (with any method): a miss with
    /// path_found is a 405, without it a 404.
    bool path_found = false;
    /// Bit i set when method i has a route for this path (for `Allow`).
    std::uint16_t allowed = 0;
    std::size_t param_count = 0;
  };

  router();
  ~router();
  router(router&&) noexcept;
  router& operator=(router&&) noexcept;

  /// Adds a route. Throws route_conflict (naming both routes) when the same
  /// method and shape is already registered, or a parameter of another name
  /// sits at the same position, and std::invalid_argument for a malformed
  /// pattern (not starting with '/', empty parameter name, wildcard not last).
  void add(method m, std::string_view pattern, int route_id);

  /// Looks `path` up (already percent-decoded, without the query). A HEAD
  /// request falls back to the GET route. Parameters go to `out`.
  match_result match(method m, std::string_view path, params& out) const noexcept;

  /// Number of routes added.
  std::size_t size() const noexcept { return count_; }

 private:
  struct node;
  std::unique_ptr<node> root_;
  std::size_t count_ = 0;
};

/// The `Allow` header value for a method mask ("GET, HEAD, OPTIONS").
std::string allow_header(std::uint16_t mask);

}  // namespace fastjson
