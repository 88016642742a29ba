#pragma once
/// \file testing.h
/// An in-process test client: drives an app with real request bytes through
/// the same parser, router, middleware and serializer as the network path,
/// without sockets, synchronously.
///
/// \code
///   fastjson::testing::client client(app);
///   auto r = client.get("/users/7");
///   REQUIRE(r.status == 200);
///   REQUIRE(r.header("content-type") == "application/json");
///   auto many = client.raw("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");  // pipelining
/// \endcode
///
/// Async handlers work: the client runs the app's loop until every response
/// has arrived (or `timeout` passes, which fails the call with an exception).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastjson {
class app;
}

namespace fastjson::testing {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct response {
  int status = 0;
  std::string reason;
  header_list headers;
  std::string body;
  /// The first header of that name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const;
  /// Number of headers of that name.
  std::size_t header_count(std::string_view name) const;
};

class client {
 public:
  explicit client(app& a);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  response get(std::string_view target, const header_list& headers = {});
  response head(std::string_view target, const header_list& headers = {});
  response del(std::string_view target, const header_list& headers = {});
  response options(std::string_view target, const header_list& headers = {});
  response post(std::string_view target, std::string_view body, const header_list& headers = {{"Content-Type", "application/json"}});
  response put(std::string_view target, std::string_view body, const header_list& headers = {{"Content-Type", "application/json"}});
  response patch(std::string_view target, std::string_view body, const header_list& headers = {{"Content-Type", "application/json"}});
  /// Any method; a non-empty body gets a Content-Length.
  response request(std::string_view method, std::string_view target, std::string_view body, const header_list& headers);

  /// Sends raw bytes (any number of requests, or garbage) and returns every
  /// response the server wrote, in order, once the server is waiting for
  /// more input, has answered `expect` responses, or closed the connection.
  /// `head_requests[i]` tells the response parser that response i answers a
  /// HEAD (and so has no body).
  std::vector<response> raw(std::string_view bytes, std::size_t expect = 0, std::vector<bool> head_requests = {});
  /// Like raw, but feeds the bytes in pieces of `chunk` bytes (re-parsing).
  std::vector<response> raw_chunked(std::string_view bytes, std::size_t chunk, std::size_t expect = 0);
  /// The bytes the server wrote since the last call (for byte-level tests).
  std::string take_output();

  /// True when the server closed (or is closing) this connection.
  bool closed() const;
  /// Starts a new connection (after a close, or to drop keep-alive state).
  void reconnect();
  /// The peer address requests appear to come from.
  void set_peer_address(std::string addr);
  std::chrono::milliseconds timeout{10000};

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Parses HTTP/1.1 responses from bytes (exposed for tests of the parser).
std::vector<response> parse_responses(std::string_view bytes, const std::vector<bool>& head_requests = {});

}  // namespace fastjson::testing
