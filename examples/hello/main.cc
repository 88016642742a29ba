// The smallest fastjson server: the two TechEmpower-style endpoints.
//
//   GET /plaintext -> "Hello, World!" (text/plain)
//   GET /json      -> {"message":"Hello, World!"} (serialized per request)
//
// Run: fastjson-hello --port 8080 --threads 1 (see --help for every flag).
#include <fastjson/fastjson.h>

struct message {
  std::string_view message;
};
FASTJSON_REFLECT(message, message)

int main(int argc, char** argv) {
  fastjson::flags flags("fastjson-hello", "The smallest fastjson-api server: /plaintext and /json.");
  fastjson::config cfg = flags.parse(argc, argv);

  fastjson::app app;
  if (cfg.access_log) app.use(fastjson::mw::access_log());
  app.get("/plaintext", [](fastjson::request&, fastjson::response& res) { res.text("Hello, World!"); });
  app.get("/json", [](fastjson::request&, fastjson::response& res) { res.json(message{"Hello, World!"}); });
  return app.run(cfg);
}
