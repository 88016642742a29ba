// The HTTP/1.1 session: keep-alive, bodies, 100-continue, strictness,
// limits and pipelining, driven through the in-process client (the same
// parser and session code as the network path).

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "fastjson/fastjson.h"
#include "fastjson/testing.h"
#include "http/scan.h"

using fastjson::testing::client;

namespace {

void echo_app(fastjson::app& app) {
  app.get("/plaintext", [](fastjson::request&, fastjson::response& res) { res.text("Hello, World!"); });
  app.post("/echo", [](fastjson::request& req, fastjson::response& res) {
    res.send(req.body(), "application/octet-stream");
  });
  app.get("/slow/:ms", [](fastjson::request& req, fastjson::response& res) -> fastjson::task<> {
    auto ms = req.param<int>("ms");
    co_await fastjson::sleep(req.loop(), std::chrono::milliseconds(ms));
    res.text(std::string("slept ") + std::to_string(ms));
  });
}

}  // namespace

TEST_CASE("HTTP/1.1 keeps the connection alive by default", "[http][keepalive]") {
  fastjson::app app;
  echo_app(app);
  client c(app);
  auto r = c.get("/plaintext");
  REQUIRE(r.status == 200);
  REQUIRE(r.body == "Hello, World!");
  REQUIRE_FALSE(r.header("connection"));
  REQUIRE_FALSE(c.closed());
  REQUIRE(c.get("/plaintext").status == 200);
}

TEST_CASE("HTTP/1.0 closes unless it asks for keep-alive", "[http][keepalive]") {
  fastjson::app app;
  echo_app(app);
  client c(app);
  auto r = c.raw("GET /plaintext HTTP/1.0\r\n\r\n", 1);
  REQUIRE(r.size() == 1);
  REQUIRE(r[0].header("connection") == "close");
  REQUIRE(c.closed());

  client k(app);
  auto r2 = k.raw("GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1);
  REQUIRE(r2.size() == 1);
  REQUIRE(r2[0].header("connection") == "keep-alive");
  REQUIRE_FALSE(k.closed());
}

TEST_CASE("Connection: close is honoured and later requests are ignored", "[http][keepalive]") {
  fastjson::app app;
  echo_app(app);
  client c(app);
  auto r = c.raw("GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(r.size() == 1);
  REQUIRE(r[0].header("connection") == "close");
  REQUIRE(c.closed());
}

TEST_CASE("HEAD answers with the GET headers and no body", "[http][head]") {
  fastjson::app app;
  echo_app(app);
  client d(app);
  auto rs = d.raw("HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", 2, {true, false});
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[0].status == 200);
  REQUIRE(rs[0].header("content-length") == "13");
  REQUIRE(rs[0].body.empty());
  REQUIRE(rs[1].body == "Hello, World!");
}

TEST_CASE("Bodies by Content-Length and by chunked encoding", "[http][body]") {
  fastjson::app app;
  echo_app(app);
  client c(app);
  auto r = c.raw("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 1);
  REQUIRE(r.at(0).body == "hello");
  auto ch = c.raw(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", 1);
  REQUIRE(ch.at(0).status == 200);
  REQUIRE(ch.at(0).body == "hello world");
}

TEST_CASE("A request split at every byte parses the same", "[http][body]") {
  fastjson::app app;
  echo_app(app);
  client c(app);
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
  auto r = c.raw_chunked(req + req, 1, 2);
  REQUIRE(r.size() == 2);
  REQUIRE(r[0].body == "hello world");
  REQUIRE(r[1].body == "hello world");
  auto r3 = c.raw_chunked(req, 7, 1);
  REQUIRE(r3.at(0).body == "hello world");
}

TEST_CASE("Expect: 100-continue gets 100 before the body, or a final refusal", "[http][expect]") {
  fastjson::app app;
  echo_app(app);
  app.config().max_body_bytes = 100;
  client c(app);
  auto interim = c.raw("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  REQUIRE(interim.size() == 1);
  REQUIRE(interim[0].status == 100);
  auto final_ = c.raw("hello", 1);
  REQUIRE(final_.at(0).status == 200);
  REQUIRE(final_.at(0).body == "hello");

  client big(app);
  auto r = big.raw("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n", 1);
  REQUIRE(r.at(0).status == 413);
  REQUIRE(big.closed());

  client other(app);
  auto r2 = other.raw("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\n", 1);
  REQUIRE(r2.at(0).status == 417);
}

TEST_CASE("Strict parsing rejects request smuggling and malformed heads with 400 and a close", "[http][strict]") {
  fastjson::app app;
  echo_app(app);
  const char* cases[][2] = {
      {"CL+TE", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"duplicate CL", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
      {"differing CL", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
      {"obs-fold", "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"},
      {"space before colon", "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A : a\r\n\r\n"},
      {"bare CR", "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\rX-B: b\r\n\r\n"},
      {"bare LF in headers", "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\nX-B: b\r\n\r\n"},
      {"bare LF request line", "GET /plaintext HTTP/1.1\nHost: a\r\n\r\n"},
      {"bare LF end of head", "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\n"},
      {"empty header name", "GET /plaintext HTTP/1.1\r\nHost: t\r\n: a\r\n\r\n"},
      {"NUL in value", ""},  // bytes built below (an embedded NUL)
      {"control byte in value", "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\x01" "b\r\n\r\n"},
      {"DEL in value", "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\x7f" "b\r\n\r\n"},
      {"newline in chunk extension", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n"},
      {"bad percent-encoding", "GET /plain%zztext HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"truncated percent-encoding", "GET /plaintext% HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"},
      {"unsupported transfer coding", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"},
      {"negative CL", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"},
  };
  for (auto& c : cases) {
    INFO(c[0]);
    client cl(app);
    std::string bytes = c[0] == std::string("NUL in value") ? std::string("GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n", 46)
                                                            : std::string(c[1]);
    auto r = cl.raw(bytes, 1);
    REQUIRE(r.size() == 1);
    REQUIRE(r[0].status == 400);
    REQUIRE(r[0].header("content-type") == "application/problem+json");
    if (std::string(c[0]) != "bad percent-encoding" && std::string(c[0]) != "truncated percent-encoding")
      REQUIRE(cl.closed());
  }
}

TEST_CASE("has_cr_or_lf finds a CR or LF at every offset and nothing outside the span", "[http][strict]") {
  for (std::size_t n = 0; n <= 40; ++n) {
    // The span sits between CRs: a scan that read outside it would see them.
    std::string buf = "\r" + std::string(n, 'x') + "\r";
    const char* span = buf.data() + 1;
    INFO("length " << n);
    REQUIRE_FALSE(fastjson::detail::has_cr_or_lf(span, n));
    for (std::size_t i = 0; i < n; ++i) {
      for (char c : {'\r', '\n'}) {
        std::string v(n, 'x');
        v[i] = c;
        INFO("at " << i);
        REQUIRE(fastjson::detail::has_cr_or_lf(v.data(), n));
      }
    }
  }
  // Bytes next to CR/LF in value (0x0c, 0x0e, 0x8d, 0x8a) are not matches.
  const std::string near("\x0c\x0e\x0b\x09\x8d\x8a\xff\x00\x0c\x0e\x0b\x09\x8d\x8a\xff\x00\x01", 17);
  REQUIRE_FALSE(fastjson::detail::has_cr_or_lf(near.data(), near.size()));
}

TEST_CASE("obs-fold is found wherever the fold falls in a value of any length", "[http][strict]") {
  // The fold check scans values eight bytes at a time (the last step
  // overlapping): folds at every offset of values from 1 to 40 bytes, and
  // the same values unfolded, which must pass.
  fastjson::app app;
  echo_app(app);
  for (std::size_t before = 1; before <= 40; ++before) {
    for (std::size_t after : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}, std::size_t{23}}) {
      INFO("value of " << before << " bytes, fold, " << after << " more");
      std::string a(before, 'a'), b(after, 'b');
      client folded(app);
      auto r = folded.raw("GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: " + a + "\r\n " + b + "\r\n\r\n", 1);
      REQUIRE(r.size() == 1);
      REQUIRE(r[0].status == 400);
      client plain(app);
      auto ok = plain.raw("GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: " + a + b + "\r\n\r\n", 1);
      REQUIRE(ok.size() == 1);
      REQUIRE(ok[0].status == 200);
    }
  }
}

TEST_CASE("Only HTTP/1.0 and 1.1 are served", "[http][strict]") {
  fastjson::app app;
  echo_app(app);
  client c(app);
  auto r = c.raw("GET /plaintext HTTP/2.0\r\n\r\n", 1);
  REQUIRE(r.at(0).status == 505);
  REQUIRE(c.closed());
}

TEST_CASE("Limits answer 414, 431 and 413 and close", "[http][limits]") {
  fastjson::app app;
  echo_app(app);
  SECTION("URL longer than 8 KiB") {
    client c(app);
    auto r = c.raw("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    REQUIRE(r.at(0).status == 414);
    REQUIRE(c.closed());
  }
  SECTION("header section over 16 KiB") {
    client c(app);
    auto r = c.raw("GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(17000, 'a') + "\r\n\r\n", 1);
    REQUIRE(r.at(0).status == 431);
  }
  SECTION("more than 100 headers") {
    client c(app);
    std::string req = "GET /plaintext HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 101; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
    auto r = c.raw(req + "\r\n", 1);
    REQUIRE(r.at(0).status == 431);
  }
  SECTION("exactly 100 headers pass") {
    client c(app);
    std::string req = "GET /plaintext HTTP/1.1\r\nHost: t\r\n";  // Host is one of the 100
    for (int i = 0; i < 99; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
    REQUIRE(c.raw(req + "\r\n", 1).at(0).status == 200);
  }
  SECTION("body over 1 MiB by Content-Length") {
    client c(app);
    auto r = c.raw("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 1);
    REQUIRE(r.at(0).status == 413);
    REQUIRE(c.closed());
  }
  SECTION("body over the limit by chunks") {
    app.config().max_body_bytes = 10;
    client c(app);
    auto r = c.raw("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n", 1);
    REQUIRE(r.at(0).status == 413);
  }
  SECTION("a 1 MiB body in many reads is accepted") {
    client c(app);
    std::string body(1 << 20, 'x');
    auto r = c.raw_chunked("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
                           65536, 1);
    REQUIRE(r.at(0).status == 200);
    REQUIRE(r.at(0).body.size() == body.size());
  }
}

TEST_CASE("Pipelined responses keep request order even when a later handler finishes first", "[http][pipeline]") {
  fastjson::app app;
  echo_app(app);
  client c(app);
  auto r = c.raw(
      "GET /slow/80 HTTP/1.1\r\nHost: t\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /slow/10 HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
      4);
  REQUIRE(r.size() == 4);
  REQUIRE(r[0].body == "slept 80");
  REQUIRE(r[1].body == "Hello, World!");
  REQUIRE(r[2].body == "slept 10");
  REQUIRE(r[3].body == "abc");
}

TEST_CASE("Every response has Date and Server; Server is configurable", "[http][headers]") {
  fastjson::app app;
  echo_app(app);
  app.config().server_name = "custom/1";
  client c(app);
  auto r = c.get("/plaintext");
  REQUIRE(r.header("server") == "custom/1");
  REQUIRE(r.header("date"));
  REQUIRE(r.header("date")->find("GMT") != std::string::npos);
}

TEST_CASE("A malformed request after a good one still gets the good response first", "[http][pipeline]") {
  fastjson::app app;
  echo_app(app);
  client c(app);
  auto r = c.raw("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGARBAGE\r\n\r\n", 2);
  REQUIRE(r.size() == 2);
  REQUIRE(r[0].status == 200);
  REQUIRE(r[1].status == 400);
  REQUIRE(c.closed());
}
