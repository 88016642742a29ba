// A user's program built against fastjson, from the installed package or
// through add_subdirectory: it must compile, link (libuv, llhttp, SQLite are
// private dependencies of a static library) and serve a request in-process.
#include <fastjson/fastjson.h>
#include <fastjson/testing.h>

#include <cstdio>

struct greeting {
  std::string message;
};
FASTJSON_REFLECT(greeting, message)

int main() {
  fastjson::app app;
  app.get("/hello/:name", [](fastjson::request& req, fastjson::response& res) {
    res.json(greeting{"Hello, " + std::string(req.param("name")) + "!"});
  });
  fastjson::testing::client client(app);
  auto r = client.get("/hello/consumer");
  std::printf("fastjson %.*s: %d %s\n", static_cast<int>(fastjson::version().size()), fastjson::version().data(),
              r.status, r.body.c_str());
  return r.status == 200 && r.body == R"({"message":"Hello, consumer!"})" ? 0 : 1;
}
