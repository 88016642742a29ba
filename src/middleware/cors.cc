// mw::cors: the browser's CORS rules (Fetch standard), server side.

#include <fmt/format.h>

#include <algorithm>

#include "fastjson/mw/builtin.h"

namespace fastjson::mw {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) {
    if (!s.empty()) s += ", ";
    s += x;
  }
  return s;
}

class cors_mw final : public middleware {
 public:
  explicit cors_mw(cors_options o)
      : opts_(std::move(o)),
        any_origin_(std::find(opts_.origins.begin(), opts_.origins.end(), "*") != opts_.origins.end()),
        methods_(join(opts_.methods)),
        headers_(join(opts_.headers)),
        expose_(join(opts_.expose_headers)),
        max_age_(std::to_string(opts_.max_age.count())) {}

  bool before(request& req, response& res, void*) override {
    auto origin = req.header("origin");
    if (!origin || !allowed(*origin)) return true;
    auto acrm = req.header("access-control-request-method");
    if (req.method() != method::options || !acrm) return true;  // actual request: headers added in after()
    // Preflight.
    res.header("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    bool method_ok = std::any_of(opts_.methods.begin(), opts_.methods.end(),
                                 [&](const std::string& m) { return m == *acrm; });
    if (!method_ok) {
      // No allow headers: the browser fails the preflight.
      res.no_content(204);
      return false;
    }
    allow_origin(res, *origin);
    res.header("Access-Control-Allow-Methods", methods_);
    if (!headers_.empty()) {
      res.header("Access-Control-Allow-Headers", headers_);
    } else if (auto acrh = req.header("access-control-request-headers")) {
      res.header("Access-Control-Allow-Headers", *acrh);
    }
    res.header("Access-Control-Max-Age", max_age_);
    res.no_content(204);
    return false;
  }

  void after(request& req, response& res, void*) override {
    auto origin = req.header("origin");
    if (!origin) return;
    if (!allowed(*origin)) {
      // The answer still depends on Origin: tell shared caches so.
      if (!any_origin_) res.header("Vary", "Origin");
      return;
    }
    if (req.method() == method::options && req.header("access-control-request-method")) return;
    allow_origin(res, *origin);
    if (!expose_.empty()) res.header("Access-Control-Expose-Headers", expose_);
    res.header("Vary", "Origin");
  }

 private:
  bool allowed(std::string_view origin) const {
    if (any_origin_) return true;
    return std::find(opts_.origins.begin(), opts_.origins.end(), origin) != opts_.origins.end();
  }
  void allow_origin(response& res, std::string_view origin) const {
    // "*" is not allowed with credentials: echo the origin instead.
    if (any_origin_ && !opts_.credentials)
      res.header("Access-Control-Allow-Origin", "*");
    else
      res.header("Access-Control-Allow-Origin", origin);
    if (opts_.credentials) res.header("Access-Control-Allow-Credentials", "true");
  }

  cors_options opts_;
  bool any_origin_;
  std::string methods_, headers_, expose_, max_age_;
};

}  // namespace

middleware_ptr cors(cors_options opts) { return std::make_shared<cors_mw>(std::move(opts)); }

}  // namespace fastjson::mw
