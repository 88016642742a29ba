// RFC 9112 message framing as an outside suite checks it: Host, HTTP/1.0
// with Transfer-Encoding, the absolute and asterisk forms, Upgrade and
// CONNECT, Connection tokens, request Content-Encoding, and the valid inputs
// Debian's llhttp 8.1 refuses (pinned: refused, never mis-framed). Each case
// sends the bytes through the same session code as the network path; the
// real-socket cases at the end go through a running server.

#include <catch2/catch.hpp>

#include <string>

#include "fastjson/fastjson.h"
#include "fastjson/testing.h"
#include "support/net.h"

using fastjson::testing::client;

namespace {

void framing_app(fastjson::app& app) {
  app.get("/plaintext", [](fastjson::request&, fastjson::response& res) { res.text("Hello, World!"); });
  app.get("/where", [](fastjson::request& req, fastjson::response& res) {
    res.text(std::string(req.path()) + "?" + std::string(req.query_string()));
  });
  app.post("/echo", [](fastjson::request& req, fastjson::response& res) {
    res.send(req.body(), "application/octet-stream");
  });
  app.del("/items/:id", [](fastjson::request&, fastjson::response& res) { res.no_content(); });
}

constexpr const char* next_request = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";

}  // namespace

TEST_CASE("RFC 9112 3.2: an HTTP/1.1 request needs exactly one valid Host", "[http][rfc9112]") {
  fastjson::app app;
  framing_app(app);
  SECTION("missing: 400 and close, nothing after it is answered") {
    client c(app);
    auto r = c.raw(std::string("GET /plaintext HTTP/1.1\r\n\r\n") + next_request, 1);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == 400);
    CHECK(r[0].header("content-type") == "application/problem+json");
    CHECK(r[0].body.find("Host") != std::string::npos);
    CHECK(c.closed());
  }
  SECTION("two Host fields (same or different values): 400") {
    for (const char* hosts : {"Host: a\r\nHost: a\r\n", "Host: a\r\nHost: b\r\n", "Host: a\r\nhost: b\r\n"}) {
      INFO(hosts);
      client c(app);
      auto r = c.raw(std::string("GET /plaintext HTTP/1.1\r\n") + hosts + "\r\n", 1);
      REQUIRE(r.size() == 1);
      CHECK(r[0].status == 400);
      CHECK(c.closed());
    }
  }
  SECTION("a Host value that is not a host: 400") {
    for (const char* host : {"a b", "a/b", "user@host", "a\"b", "<x>"}) {
      INFO(host);
      client c(app);
      auto r = c.raw(std::string("GET /plaintext HTTP/1.1\r\nHost: ") + host + "\r\n\r\n", 1);
      REQUIRE(r.size() == 1);
      CHECK(r[0].status == 400);
    }
  }
  SECTION("valid hosts are served") {
    for (const char* host : {"localhost", "example.com:8080", "127.0.0.1:80", "[::1]:8080", "", "xn--bcher-kva.example"}) {
      INFO(host);
      client c(app);
      auto r = c.raw(std::string("GET /plaintext HTTP/1.1\r\nHost: ") + host + "\r\n\r\n", 1);
      REQUIRE(r.size() == 1);
      CHECK(r[0].status == 200);
      CHECK_FALSE(c.closed());
    }
  }
  SECTION("HTTP/1.0 without Host is still served") {
    client c(app);
    auto r = c.raw("GET /plaintext HTTP/1.0\r\n\r\n", 1);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == 200);
    CHECK(r[0].body == "Hello, World!");
  }
}

TEST_CASE("RFC 9112 6.1: HTTP/1.0 with Transfer-Encoding is refused and the connection closed", "[http][rfc9112]") {
  fastjson::app app;
  framing_app(app);
  for (const char* te : {"chunked", "gzip, chunked", "identity"}) {
    INFO(te);
    client c(app);
    // What follows the faulty message must never be read as a request.
    auto r = c.raw(std::string("POST /echo HTTP/1.0\r\nTransfer-Encoding: ") + te +
                       "\r\n\r\n0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
                   1);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == 400);
    CHECK(r[0].header("connection") == "close");
    CHECK(c.closed());
    CHECK(c.raw(next_request, 0).empty());
  }
}

TEST_CASE("RFC 9112 6.3: an empty Transfer-Encoding next to Content-Length is refused, not framed by the length",
          "[http][rfc9112]") {
  fastjson::app app;
  framing_app(app);
  for (const char* te : {"Transfer-Encoding:\r\n", "Transfer-Encoding: \r\nTransfer-Encoding:\r\n", "Transfer-Encoding: ,\r\n"}) {
    INFO(te);
    client c(app);
    auto r = c.raw(std::string("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n") + te +
                       "\r\n0123456789" + next_request,
                   1);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == 400);
    CHECK(c.closed());
  }
}

TEST_CASE("RFC 9112 3.2.2: an absolute-form target is routed on its path", "[http][rfc9112]") {
  fastjson::app app;
  framing_app(app);
  client c(app);
  auto r = c.raw("GET http://localhost/plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n", 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == 200);
  CHECK(r[0].body == "Hello, World!");
  CHECK(c.raw("GET HTTPS://example.com:8443/where?a=1&b=2 HTTP/1.1\r\nHost: example.com:8443\r\n\r\n", 1)
            .at(0)
            .body == "/where?a=1&b=2");
  // No path: the path is "/" (404 here, there is no route for it).
  auto root = c.raw("GET http://localhost HTTP/1.1\r\nHost: localhost\r\n\r\n", 1);
  CHECK(root.at(0).status == 404);
  CHECK_FALSE(c.closed());
  // Other schemes, userinfo and a missing host are not origin-server targets.
  for (const char* t : {"ftp://localhost/plaintext", "http:///plaintext", "http://", "http://?q",
                        "http://user@localhost/plaintext",
                        "localhost/plaintext"}) {
    INFO(t);
    client d(app);
    CHECK(d.raw(std::string("GET ") + t + " HTTP/1.1\r\nHost: localhost\r\n\r\n", 1).at(0).status == 400);
  }
}

TEST_CASE("RFC 9110 9.3.7: OPTIONS * answers with what the whole server allows", "[http][rfc9112]") {
  fastjson::app app;
  framing_app(app);
  client c(app);
  auto r = c.raw("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == 204);
  CHECK(r[0].header("allow") == "GET, HEAD, POST, DELETE, OPTIONS");
  CHECK_FALSE(c.closed());
  CHECK(c.raw(next_request, 1).at(0).status == 200);
  // "*" is only a target for OPTIONS.
  client d(app);
  CHECK(d.raw("GET * HTTP/1.1\r\nHost: t\r\n\r\n", 1).at(0).status == 400);
}

TEST_CASE("RFC 9110 7.8: an Upgrade the route does not take is ignored and the connection goes on",
          "[http][rfc9112]") {
  fastjson::app app;
  framing_app(app);
  for (const char* offer : {"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n",
                            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                            "Upgrade: websocket\r\n"}) {
    INFO(offer);
    client c(app);
    auto r = c.raw(std::string("GET /plaintext HTTP/1.1\r\nHost: t\r\n") + offer + "\r\n" + next_request, 2);
    REQUIRE(r.size() == 2);
    CHECK(r[0].status == 200);
    CHECK(r[0].body == "Hello, World!");
    CHECK_FALSE(r[0].header("upgrade"));
    CHECK(r[1].status == 200);
    CHECK_FALSE(c.closed());
  }
  // With a body: the body is read as the request's, the next request after it.
  client c(app);
  auto r = c.raw("POST /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 "Content-Length: 5\r\n\r\nhello" +
                     std::string(next_request),
                 2);
  REQUIRE(r.size() == 2);
  CHECK(r[0].body == "hello");
  CHECK(r[1].body == "Hello, World!");
}

TEST_CASE("RFC 9110 9.3.6: CONNECT gets 501 and a close; the server goes on", "[http][rfc9112]") {
  fastjson::app app;
  framing_app(app);
  client c(app);
  // The bytes after a CONNECT would be tunnel data: never answered.
  auto r = c.raw(std::string("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n") + next_request, 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == 501);
  CHECK(r[0].header("content-type") == "application/problem+json");
  CHECK(c.closed());
  client d(app);
  CHECK(d.get("/plaintext").status == 200);
}

TEST_CASE("RFC 9112 9.6: Connection: close is honoured whatever whitespace or other tokens surround it",
          "[http][rfc9112][keepalive]") {
  fastjson::app app;
  framing_app(app);
  for (const char* value : {"close\t", "close \t ", "\tclose", "CLOSE", "keep-alive, close", "foo,close,bar",
                            "close,"}) {
    INFO('"' << value << '"');
    client c(app);
    auto r = c.raw(std::string("GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: ") + value + "\r\n\r\n" +
                       next_request,
                   1);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == 200);
    CHECK(r[0].header("connection") == "close");
    CHECK(c.closed());
  }
  // A token that only contains "close" is not "close".
  client c(app);
  auto r = c.raw(std::string("GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: closed, enclose\r\n\r\n") + next_request,
                 2);
  REQUIRE(r.size() == 2);
  CHECK_FALSE(c.closed());
  // HTTP/1.0 keep-alive as a token among others.
  client k(app);
  auto r10 = k.raw("GET /plaintext HTTP/1.0\r\nConnection: foo, Keep-Alive \t\r\n\r\n", 1);
  REQUIRE(r10.size() == 1);
  CHECK(r10[0].header("connection") == "keep-alive");
  CHECK_FALSE(k.closed());
}

TEST_CASE("RFC 9110 15.5.16: a body in a content coding the server does not decode gets 415 with Accept-Encoding",
          "[http][rfc9112]") {
  fastjson::app app;
  app.use(fastjson::mw::request_id());
  framing_app(app);
  for (const char* coding : {"gzip", "br", "zstd", "deflate", "x-custom", "identity, gzip"}) {
    INFO(coding);
    client c(app);
    auto r = c.raw(std::string("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Encoding: ") + coding +
                       "\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x01" + next_request,
                   2);
    REQUIRE(r.size() == 2);
    CHECK(r[0].status == 415);
    CHECK(r[0].header("accept-encoding") == "identity");
    CHECK(r[0].header("content-type") == "application/problem+json");
    CHECK(r[0].header("x-request-id"));
    // The body was framed correctly: the connection goes on.
    CHECK(r[1].status == 200);
    CHECK_FALSE(c.closed());
  }
  client c(app);
  // Chunked bodies too.
  CHECK(c.raw("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nab\r\n0\r\n\r\n",
              1)
            .at(0)
            .status == 415);
  // identity is no coding at all, and without a body there is nothing to decode.
  CHECK(c.raw("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Encoding: identity\r\nContent-Length: 2\r\n\r\nab", 1)
            .at(0)
            .body == "ab");
  CHECK(c.raw("GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\n\r\n", 1).at(0).status == 200);
}

TEST_CASE("llhttp 8.1 refuses a few valid inputs: pinned as refused (400 and close), never mis-framed",
          "[http][rfc9112]") {
  // docs/SECURITY.md, "llhttp 8.1 refusals". Each would be accepted by a
  // newer llhttp; here it must be a clean 400 whose connection closes, with
  // the request after it never answered (so nothing is mis-framed).
  fastjson::app app;
  framing_app(app);
  struct refusal {
    const char* name;
    std::string bytes;
  };
  const refusal cases[] = {
      {"two chunk extensions with values",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=1;b=2\r\nhello\r\n0\r\n\r\n"},
      {"an escaped quote in a quoted chunk extension value",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\\\"y\"\r\nhello\r\n0\r\n\r\n"},
      {"a tab after the Content-Length value",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\t\r\n\r\nhello"},
      {"the QUERY method (draft-ietf-httpbis-safe-method-w-body)",
       "QUERY /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"},
  };
  for (const auto& rc : cases) {
    INFO(rc.name);
    client c(app);
    auto r = c.raw(rc.bytes + next_request, 1);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == 400);
    CHECK(r[0].header("connection") == "close");
    CHECK(c.closed());
  }
  // The forms llhttp 8.1 does take keep working: one extension with a value,
  // a quoted value without escapes, spaces around Content-Length, a tab
  // before it.
  client ok(app);
  auto r = ok.raw(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=1\r\nhello\r\n2;b=\"q v\"\r\n!!\r\n0\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length:  3 \r\n\r\nabc"
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length:\t2\r\n\r\nde",
      3);
  REQUIRE(r.size() == 3);
  CHECK(r[0].body == "hello!!");
  CHECK(r[1].body == "abc");
  CHECK(r[2].body == "de");
}

TEST_CASE("RFC 9112 over a real socket: Upgrade ignored, Connection: close<TAB> closes, CONNECT refused",
          "[http][rfc9112][server]") {
  fastjson::app app;
  framing_app(app);
  test_net::running_app srv(app, {});
  using namespace std::chrono_literals;
  {
    int fd = test_net::connect_to(srv.port());
    REQUIRE(test_net::send_all(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
                                   "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n" +
                                       std::string(next_request) +
                                       "GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\t\r\n\r\n" +
                                       next_request));
    bool closed = false;
    std::string got = test_net::read_until_close(fd, 3s, &closed);
    ::close(fd);
    CHECK(closed);
    CHECK(test_net::count_of(got, "HTTP/1.1 200 OK") == 3);  // the fourth follows the close
    CHECK(got.find("Pause on CONNECT/Upgrade") == std::string::npos);
  }
  {
    int fd = test_net::connect_to(srv.port());
    REQUIRE(test_net::send_all(fd, "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\nSSH-2.0-x\r\n"));
    bool closed = false;
    std::string got = test_net::read_until_close(fd, 3s, &closed);
    ::close(fd);
    CHECK(closed);
    CHECK(got.rfind("HTTP/1.1 501 ", 0) == 0);
    CHECK(test_net::count_of(got, "HTTP/1.1 ") == 1);
  }
  int fd = test_net::connect_to(srv.port());
  REQUIRE(test_net::send_all(fd, std::string("GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")));
  CHECK(test_net::read_until_close(fd, 3s).find("Hello, World!") != std::string::npos);
  ::close(fd);
}

TEST_CASE("RFC 9110 5.5: an empty field value is valid, last or not; a fold after one is still refused",
          "[http][rfc9112]") {
  fastjson::app app;
  framing_app(app);
  for (const char* head : {"X-Empty:\r\n", "X-Empty: \r\n", "X-Empty:\t \r\n", "X-Empty:\r\nX-Other: v\r\n"}) {
    INFO(head);
    client c(app);
    auto r = c.raw(std::string("GET /plaintext HTTP/1.1\r\nHost: t\r\n") + head + "\r\n" + next_request, 2);
    REQUIRE(r.size() == 2);
    CHECK(r[0].status == 200);
    CHECK(r[1].status == 200);
  }
  client c(app);
  CHECK(c.raw("GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Empty:\r\n folded\r\n\r\n", 1).at(0).status == 400);
}
