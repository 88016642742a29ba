// Fuzzes percent-decoding and query-parameter lookup.
//
// Input: bytes used (a) directly as percent_decode input, checked against a
// reference decoder, and (b) as the query string of a request driven through
// the in-process client, whose handler looks up a few names and the typed
// accessors.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fastjson/app.h"
#include "fastjson/testing.h"

namespace {

int hex(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The obvious reference: -1 for a bad escape.
long reference_decode(std::string_view in, std::string& out, bool plus) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '%') {
      if (i + 2 >= in.size()) return -1;
      int h = hex(static_cast<unsigned char>(in[i + 1])), l = hex(static_cast<unsigned char>(in[i + 2]));
      if (h < 0 || l < 0) return -1;
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else if (c == '+' && plus) {
      out.push_back(' ');
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return static_cast<long>(out.size());
}

fastjson::app& the_app() {
  static fastjson::app* a = [] {
    auto* app = new fastjson::app;
    app->get("/q", [](fastjson::request& req, fastjson::response& res) {
      std::string out;
      for (std::string_view name : {"a", "b", "", "x y", "%", "limit"}) {
        if (auto v = req.query(name)) out.append(*v);
        out.push_back('|');
      }
      out += std::to_string(req.query<long long>("limit", 7));
      res.text(out);
    });
    return app;
  }();
  return *a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (bool plus : {false, true}) {
    std::string buf(in.size() + 1, '\0');
    long n = fastjson::percent_decode(in, buf.data(), plus);
    std::string ref;
    long r = reference_decode(in, ref, plus);
    if (n != r) std::abort();
    if (n >= 0 && std::string_view(buf.data(), static_cast<std::size_t>(n)) != ref) std::abort();
  }

  // As a query string: only bytes a request target may carry reach the
  // handler; others must give a clean 400, never a crash.
  static fastjson::testing::client client(the_app());
  client.timeout = std::chrono::milliseconds(2000);
  if (client.closed()) client.reconnect();
  std::string req = "GET /q?";
  req.append(in);
  req += " HTTP/1.1\r\nHost: f\r\n\r\n";
  auto rs = client.raw(req, 1);
  for (auto& r : rs)
    if (r.status >= 500 && r.status != 505) std::abort();  // 500 = an exception escaped
  if (client.closed()) client.reconnect();
  return 0;
}
