// Router tests: the radix tree directly (including the shared route tables)
// and routing through the app with the in-process client (priorities,
// percent-decoding, 404/405/HEAD/OPTIONS, groups, conflicts, trailing
// slashes, typed parameters).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fastjson/app.h"
#include "fastjson/router.h"
#include "fastjson/testing.h"

namespace {

using fastjson::method;

// The text the handler saw, echoed so tests can check it.
fastjson::handler echo(std::string tag) {
  return [tag](fastjson::request& req, fastjson::response& res) {
    std::string out = tag;
    for (auto& [k, v] : req.params()) out += "|" + std::string(k) + "=" + std::string(v);
    res.text(out);
  };
}

struct table_route {
  method verb;
  std::string pattern;
};

std::vector<table_route> load_table(const std::string& name) {
  std::ifstream in(std::string(FASTJSON_SHARED_DATA) + "/routes/" + name);
  REQUIRE(in.good());
  std::vector<table_route> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    method m = fastjson::parse_method(line.substr(0, tab));
    REQUIRE(m != method::other);
    out.push_back({m, line.substr(tab + 1)});
  }
  return out;
}

// "/repos/:owner/:repo" -> "/repos/v-owner/v-repo", with the expected params.
std::string fill(const std::string& pattern, std::vector<std::pair<std::string, std::string>>* params = nullptr) {
  std::string out;
  std::size_t i = 0;
  while (i < pattern.size()) {
    char c = pattern[i];
    if (c == ':' || c == '*') {
      std::size_t end = c == ':' ? pattern.find('/', i) : pattern.size();
      if (end == std::string::npos) end = pattern.size();
      std::string name = pattern.substr(i + 1, end - i - 1);
      std::string value = "v-" + name;
      if (params) params->push_back({name, value});
      out += value;
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("router: every route of every shared table matches itself with its parameters", "[router][shared-data]") {
  for (const char* name : {"github-api.tsv", "gplus-api.tsv", "parse-api.tsv", "static.tsv"}) {
    INFO("table " << name);
    auto table = load_table(name);
    REQUIRE(table.size() > 10);
    fastjson::router r;
    for (std::size_t i = 0; i < table.size(); ++i) REQUIRE_NOTHROW(r.add(table[i].verb, table[i].pattern, int(i)));
    REQUIRE(r.size() == table.size());
    fastjson::router::params p;
    for (std::size_t i = 0; i < table.size(); ++i) {
      std::vector<std::pair<std::string, std::string>> want;
      std::string path = fill(table[i].pattern, &want);
      INFO(fastjson::to_string(table[i].verb) << " " << table[i].pattern << " as " << path);
      auto m = r.match(table[i].verb, path, p);
      REQUIRE(m.route == int(i));
      REQUIRE(m.path_found);
      REQUIRE((m.allowed & (1u << static_cast<unsigned>(table[i].verb))) != 0);
      REQUIRE(m.param_count == want.size());
      for (std::size_t k = 0; k < want.size(); ++k) {
        CHECK(p[k].first == want[k].first);
        CHECK(p[k].second == want[k].second);
      }
    }
    // A path no route has.
    CHECK(r.match(method::get, "/definitely/not/a/route/anywhere/x/y/z", p).route == -1);
  }
}

TEST_CASE("router: direct matching, priorities, wildcards, HEAD via GET, 405 mask", "[router]") {
  fastjson::router r;
  r.add(method::get, "/users/new", 1);
  r.add(method::get, "/users/:id", 2);
  r.add(method::get, "/users/*rest", 3);
  r.add(method::post, "/users/:id", 4);
  r.add(method::get, "/", 5);
  r.add(method::get, "/static/*path", 6);
  fastjson::router::params p;

  CHECK(r.match(method::get, "/users/new", p).route == 1);
  auto m = r.match(method::get, "/users/newer", p);
  CHECK(m.route == 2);
  REQUIRE(m.param_count == 1);
  CHECK(p[0].first == "id");
  CHECK(p[0].second == "newer");
  m = r.match(method::get, "/users/7/posts/9", p);
  CHECK(m.route == 3);
  REQUIRE(m.param_count == 1);
  CHECK(p[0].first == "rest");
  CHECK(p[0].second == "7/posts/9");
  CHECK(r.match(method::get, "/", p).route == 5);
  m = r.match(method::get, "/static/", p);
  CHECK(m.route == 6);
  CHECK(p[0].second == "");
  m = r.match(method::head, "/users/7", p);
  CHECK(m.route == 2);  // HEAD falls back to GET
  m = r.match(method::del, "/users/7", p);
  CHECK(m.route == -1);
  CHECK(m.path_found);
  CHECK(m.allowed == ((1u << unsigned(method::get)) | (1u << unsigned(method::post))));
  m = r.match(method::get, "/nope", p);
  CHECK(m.route == -1);
  CHECK_FALSE(m.path_found);
  CHECK(fastjson::allow_header(m.allowed | (1u << unsigned(method::get)) | (1u << unsigned(method::post))) ==
        "GET, HEAD, POST, OPTIONS");
}

TEST_CASE("router: conflicts name both routes; malformed patterns are rejected", "[router]") {
  fastjson::router r;
  r.add(method::get, "/users/:id", 1);
  try {
    r.add(method::get, "/users/:name", 2);
    FAIL("expected route_conflict");
  } catch (const fastjson::route_conflict& e) {
    std::string what = e.what();
    CHECK(contains(what, "GET /users/:name"));
    CHECK(contains(what, "GET /users/:id"));
  }
  r.add(method::get, "/items/:id", 3);
  try {
    r.add(method::get, "/items/:id", 4);
    FAIL("expected route_conflict");
  } catch (const fastjson::route_conflict& e) {
    CHECK(contains(e.what(), "GET /items/:id conflicts with GET /items/:id"));
  }
  // Another parameter name at the same position, even under another method.
  CHECK_THROWS_AS(r.add(method::post, "/users/:uid/x", 5), fastjson::route_conflict);
  // Same shape, different method: fine.
  CHECK_NOTHROW(r.add(method::post, "/items/:id", 6));

  CHECK_THROWS_AS(r.add(method::get, "", 7), std::invalid_argument);
  CHECK_THROWS_AS(r.add(method::get, "users", 7), std::invalid_argument);
  CHECK_THROWS_AS(r.add(method::get, "/a/:", 7), std::invalid_argument);
  CHECK_THROWS_AS(r.add(method::get, "/a/*", 7), std::invalid_argument);
  CHECK_THROWS_AS(r.add(method::get, "/a/b:id", 7), std::invalid_argument);
  CHECK_THROWS_AS(r.add(method::get, "/a/*rest/more", 7), std::invalid_argument);
}

TEST_CASE("routing: static beats param beats wildcard; params are decoded views", "[router]") {
  fastjson::app app;
  app.get("/users/new", echo("new"));
  app.get("/users/:id", echo("id"));
  app.get("/users/*rest", echo("rest"));
  app.get("/files/:name", echo("file"));
  app.get("/files/:name/meta", echo("meta"));
  fastjson::testing::client client(app);

  CHECK(client.get("/users/new").body == "new");
  CHECK(client.get("/users/42").body == "id|id=42");
  CHECK(client.get("/users/42/posts").body == "rest|rest=42/posts");
  CHECK(client.get("/users/").body == "rest|rest=");
  CHECK(client.get("/files/a%20b").body == "file|name=a b");
  // %2F decodes inside the parameter but does not split the segment.
  CHECK(client.get("/files/a%2Fb").body == "file|name=a/b");
  CHECK(client.get("/files/a%2Fb/meta").body == "meta|name=a/b");
  // Static text is matched after decoding.
  CHECK(client.get("/users/%6Eew").body == "new");
  // Bad escapes in the path are a 400, not a 404.
  auto bad = client.get("/files/%zz");
  CHECK(bad.status == 400);
  CHECK(bad.header("content-type") == "application/problem+json");
  CHECK(client.get("/files/abc%").status == 400);
  CHECK(client.get("/files/abc%4").status == 400);
  CHECK(client.get("/files/%00").status == 400);
  // Decoded exactly once: an encoded '%' stays a literal '%'.
  CHECK(client.get("/files/a%2541").body == "file|name=a%41");
  CHECK(client.get("/files/100%25").body == "file|name=100%");
  CHECK(client.get("/files/x%252Fy").body == "file|name=x%2Fy");
  CHECK(client.get("/files/x%252Fy/meta").body == "meta|name=x%2Fy");
}

TEST_CASE("routing: 405 with Allow, automatic HEAD and OPTIONS", "[router]") {
  fastjson::app app;
  app.get("/things", [](fastjson::request&, fastjson::response& res) {
    res.header("X-Custom", "1");
    res.text("hello things");
  });
  app.post("/things", echo("post"));
  app.del("/things/:id", echo("del"));
  fastjson::testing::client client(app);

  auto r = client.request("PUT", "/things", "x", {});
  CHECK(r.status == 405);
  CHECK(r.header("allow") == "GET, HEAD, POST, OPTIONS");
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(contains(r.body, R"("status":405)"));
  CHECK(contains(r.body, R"("title":"Method Not Allowed")"));
  CHECK(contains(r.body, R"("instance":"/things")"));
  CHECK(contains(r.body, R"("type":)"));
  CHECK(contains(r.body, R"("detail":)"));

  r = client.get("/things/5");
  CHECK(r.status == 405);
  CHECK(r.header("allow") == "DELETE, OPTIONS");

  auto g = client.get("/things");
  auto h = client.head("/things");
  CHECK(h.status == 200);
  CHECK(h.body.empty());
  CHECK(h.header("content-length") == std::to_string(g.body.size()));
  CHECK(h.header("content-type") == g.header("content-type"));
  CHECK(h.header("x-custom") == "1");
  // The HEAD response carried no body bytes: a following request parses.
  auto both = client.raw("HEAD /things HTTP/1.1\r\nHost: t\r\n\r\nGET /things HTTP/1.1\r\nHost: t\r\n\r\n", 2,
                         {true, false});
  REQUIRE(both.size() == 2);
  CHECK(both[0].body.empty());
  CHECK(both[1].body == "hello things");

  auto o = client.options("/things");
  CHECK(o.status == 204);
  CHECK(o.header("allow") == "GET, HEAD, POST, OPTIONS");
  CHECK_FALSE(o.header("content-length"));
  CHECK(client.options("/nothing-here").status == 404);
}

TEST_CASE("routing: Allow lists the methods of every route matching the path", "[router]") {
  fastjson::app app;
  app.post("/users/new", echo("create-form"));
  app.get("/users/:id", echo("user"));
  app.put("/users/*rest", echo("rest"));
  fastjson::testing::client client(app);
  // GET /users/new is served by /users/:id, so it is allowed there too.
  CHECK(client.get("/users/new").body == "user|id=new");
  auto r = client.del("/users/new");
  CHECK(r.status == 405);
  CHECK(r.header("allow") == "GET, HEAD, POST, PUT, OPTIONS");
  auto o = client.options("/users/new");
  CHECK(o.status == 204);
  CHECK(o.header("allow") == "GET, HEAD, POST, PUT, OPTIONS");
  fastjson::router rt;
  rt.add(method::post, "/a/b", 1);
  rt.add(method::get, "/a/:x", 2);
  fastjson::router::params p;
  auto m = rt.match(method::del, "/a/b", p);
  CHECK(m.route == -1);
  CHECK(m.allowed == ((1u << unsigned(method::get)) | (1u << unsigned(method::post))));
}

TEST_CASE("routing: 404 problem document and custom 404/405 handlers", "[router]") {
  {
    fastjson::app app;
    app.get("/a", echo("a"));
    fastjson::testing::client client(app);
    auto r = client.get("/missing?x=1");
    CHECK(r.status == 404);
    CHECK(r.header("content-type") == "application/problem+json");
    CHECK(contains(r.body, R"("type":"about:blank")"));
    CHECK(contains(r.body, R"("title":"Not Found")"));
    CHECK(contains(r.body, R"("status":404)"));
    CHECK(contains(r.body, R"("detail":)"));
    CHECK(contains(r.body, R"("instance":"/missing")"));
    CHECK(r.header("content-length") == std::to_string(r.body.size()));
  }
  {
    fastjson::app app;
    app.get("/a", echo("a"));
    app.not_found([](fastjson::request& req, fastjson::response& res) {
      res.status(404).text("custom 404 for " + std::string(req.path()));
    });
    app.method_not_allowed([](fastjson::request&, fastjson::response& res) { res.status(405).text("custom 405"); });
    fastjson::testing::client client(app);
    auto r = client.get("/zzz");
    CHECK(r.status == 404);
    CHECK(r.body == "custom 404 for /zzz");
    r = client.post("/a", "{}");
    CHECK(r.status == 405);
    CHECK(r.body == "custom 405");
    CHECK(r.header("allow") == "GET, HEAD, OPTIONS");
  }
}

TEST_CASE("routing: groups, nested subgroups and their middleware", "[router]") {
  fastjson::app app;
  std::vector<std::string> seen;
  app.use([&](fastjson::request&, fastjson::response&) {
    seen.push_back("app");
    return true;
  });
  auto api = app.group("/api");
  api.use([&](fastjson::request&, fastjson::response&) {
    seen.push_back("api");
    return true;
  });
  auto v1 = api.subgroup("/v1");
  v1.use([&](fastjson::request&, fastjson::response&) {
    seen.push_back("v1");
    return true;
  });
  v1.get("/todos/:id", echo("todo"));
  v1.get("/", echo("v1root"));
  api.get("/health", echo("health"));
  app.get("/plain", echo("plain"));
  CHECK(v1.prefix() == "/api/v1");
  fastjson::testing::client client(app);

  CHECK(client.get("/api/v1/todos/3").body == "todo|id=3");
  CHECK(seen == std::vector<std::string>{"app", "api", "v1"});
  seen.clear();
  CHECK(client.get("/api/v1").body == "v1root");
  seen.clear();
  CHECK(client.get("/api/health").body == "health");
  CHECK(seen == std::vector<std::string>{"app", "api"});
  seen.clear();
  CHECK(client.get("/plain").body == "plain");
  CHECK(seen == std::vector<std::string>{"app"});
  seen.clear();
  CHECK(client.get("/todos/3").status == 404);
  CHECK(seen == std::vector<std::string>{"app"});  // app middleware sees 404s too

  auto routes = app.routes();
  REQUIRE(routes.size() == 4);
  CHECK(routes[0].verb == method::get);
  CHECK(routes[0].pattern == "/api/v1/todos/:id");
  CHECK(routes[0].middleware_count == 3);
  CHECK(routes[1].pattern == "/api/v1");
  CHECK(routes[2].pattern == "/api/health");
  CHECK(routes[2].middleware_count == 2);
  CHECK(routes[3].middleware_count == 1);
  std::ostringstream os;
  app.print_routes(os);
  std::string printed = os.str();
  CHECK(contains(printed, "GET"));
  CHECK(contains(printed, "/api/v1/todos/:id"));
  CHECK(contains(printed, "3 middleware"));
  CHECK(std::count(printed.begin(), printed.end(), '\n') == 4);

  CHECK_THROWS_AS(app.group("api"), std::invalid_argument);
  CHECK_THROWS_AS(app.group("/api/"), std::invalid_argument);
}

TEST_CASE("routing: route-level middleware counts in the route table", "[router]") {
  fastjson::app app;
  auto mw = fastjson::make_middleware([](fastjson::request&, fastjson::response&) { return true; });
  app.use(mw);
  app.post("/x", echo("x"), {mw, mw});
  auto routes = app.routes();
  REQUIRE(routes.size() == 1);
  CHECK(routes[0].verb == method::post);
  CHECK(routes[0].middleware_count == 3);
}

TEST_CASE("routing: conflicts through the app name both routes", "[router]") {
  fastjson::app app;
  app.get("/users/:id", echo("a"));
  try {
    app.get("/users/:name/posts", echo("b"));
    FAIL("expected route_conflict");
  } catch (const fastjson::route_conflict& e) {
    CHECK(contains(e.what(), "/users/:name/posts"));
    CHECK(contains(e.what(), "/users/:id"));
  }
  auto g = app.group("/users");
  CHECK_THROWS_AS(g.get("/:id", echo("c")), fastjson::route_conflict);
  CHECK_THROWS_AS(app.get("nope", echo("d")), std::invalid_argument);
}

TEST_CASE("routing: trailing slash strict by default, redirect on request", "[router]") {
  {
    fastjson::app app;
    app.get("/a", echo("a"));
    app.get("/b/", echo("b"));
    fastjson::testing::client client(app);
    CHECK(client.get("/a/").status == 404);
    CHECK(client.get("/b").status == 404);
    CHECK(client.get("/a").status == 200);
  }
  {
    fastjson::app app;
    app.config().trailing_slash = fastjson::trailing_slash::redirect;
    app.get("/a", echo("a"));
    app.get("/b/", echo("b"));
    app.get("/users/:id", echo("u"));
    fastjson::testing::client client(app);
    auto r = client.get("/a/?q=1");
    CHECK(r.status == 308);
    CHECK(r.header("location") == "/a?q=1");
    r = client.get("/b");
    CHECK(r.status == 308);
    CHECK(r.header("location") == "/b/");
    r = client.get("/users/7/");
    CHECK(r.status == 308);
    CHECK(r.header("location") == "/users/7");
    CHECK(client.get("/c/").status == 404);
    CHECK(client.get("/a").status == 200);
    // The Location is the request's own (still encoded) path: a decoded
    // control byte must neither reach the header nor break the request.
    r = client.get("/users/%0D%0AX-Injected:%201/");
    CHECK(r.status == 308);
    CHECK(r.header("location") == "/users/%0D%0AX-Injected:%201");
    CHECK_FALSE(r.header("x-injected"));
    r = client.get("/users/a%20b/");
    CHECK(r.status == 308);
    CHECK(r.header("location") == "/users/a%20b");
    CHECK(client.get("/a").status == 200);
  }
}

TEST_CASE("routing: typed path and query parameters", "[router]") {
  fastjson::app app;
  app.get("/items/:id", [](fastjson::request& req, fastjson::response& res) {
    auto id = req.param<std::int64_t>("id");
    auto limit = req.query<int>("limit", 20);
    auto q = req.query("q");
    res.text(std::to_string(id) + "/" + std::to_string(limit) + "/" + std::string(q.value_or("-")));
  });
  fastjson::testing::client client(app);

  CHECK(client.get("/items/12").body == "12/20/-");
  CHECK(client.get("/items/-3?limit=5").body == "-3/5/-");
  CHECK(client.get("/items/1?q=a+b%21&limit=7").body == "1/7/a b!");
  CHECK(client.get("/items/1?x=1&q=%41%42&limit=").status == 400);  // present but empty limit
  CHECK(client.get("/items/1?q=one%20two").body == "1/20/one two");
  CHECK(client.get("/items/1?%71=enc").body == "1/20/enc");  // encoded key

  auto r = client.get("/items/abc");
  CHECK(r.status == 400);
  CHECK(r.header("content-type") == "application/problem+json");
  CHECK(contains(r.body, "'id'"));
  CHECK(contains(r.body, "abc"));
  r = client.get("/items/1?limit=ten");
  CHECK(r.status == 400);
  CHECK(contains(r.body, "'limit'"));
  CHECK(client.get("/items/99999999999999999999").status == 400);  // overflow
  CHECK(client.get("/items/1?q=%zz").status == 400);
}
