// pistache: /plaintext and /json on Pistache's REST router with one worker
// thread (Http::Endpoint::options().threads(1)); JSON via nlohmann::json.
// Usage: pistache PORT
#include <pistache/endpoint.h>
#include <pistache/router.h>

#include <nlohmann/json.hpp>

#include <cstdlib>

using namespace Pistache;

static void plaintext(const Rest::Request&, Http::ResponseWriter response) {
  response.send(Http::Code::Ok, "Hello, World!", MIME(Text, Plain));
}

static void json(const Rest::Request&, Http::ResponseWriter response) {
  nlohmann::json body = {{"message", "Hello, World!"}};
  response.send(Http::Code::Ok, body.dump(), MIME(Application, Json));
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  Rest::Router router;
  Rest::Routes::Get(router, "/plaintext", Rest::Routes::bind(&plaintext));
  Rest::Routes::Get(router, "/json", Rest::Routes::bind(&json));

  Http::Endpoint server(Address(Ipv4::loopback(), Port(static_cast<uint16_t>(std::atoi(argv[1])))));
  server.init(Http::Endpoint::options().threads(1).flags(Tcp::Options::ReuseAddr));
  server.setHandler(router.handler());
  server.serve();
}
