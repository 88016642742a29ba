// Flags and environment variables for the standard server settings.

#include "fastjson/config.h"

#include <fmt/format.h>

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace fastjson {
namespace {

template <class T>
T parse_number(std::string_view name, std::string_view text) {
  T v{};
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range)
    throw std::invalid_argument(
        fmt::format("--{}: {} is out of range (at most {})", name, text, std::numeric_limits<T>::max()));
  if (ec != std::errc() || p != text.data() + text.size())
    throw std::invalid_argument(fmt::format("--{}: expected a non-negative integer, got '{}'", name, text));
  return v;
}

std::string env_name(std::string_view flag) {
  std::string s = "FASTJSON_";
  for (char c : flag) s += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool parse_bool(std::string_view name, std::string_view v) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  throw std::invalid_argument(fmt::format("--{}: expected true or false, got '{}'", name, v));
}

template <class T>
void check_range(std::string_view flag, T value, T lo, T hi) {
  if (value >= lo && value <= hi) return;
  std::string var = env_name(flag);
  if (hi == std::numeric_limits<T>::max())
    throw std::invalid_argument(fmt::format("--{} ({}) must be at least {}, got {}", flag, var, lo, value));
  throw std::invalid_argument(fmt::format("--{} ({}) must be between {} and {}, got {}", flag, var, lo, hi, value));
}

}  // namespace

void config::validate() const {
  constexpr std::size_t MiB = std::size_t{1} << 20;
  constexpr std::size_t size_max = std::numeric_limits<std::size_t>::max();
  constexpr std::uint32_t ms_max = std::numeric_limits<std::uint32_t>::max();
  {
    in6_addr a6;
    in_addr a4;
    bool ok = host == "localhost" || inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
              inet_pton(AF_INET6, host.c_str(), &a6) == 1;
    if (!ok)
      throw std::invalid_argument(
          fmt::format("--host (FASTJSON_HOST) must be an IPv4 or IPv6 address or localhost, got '{}'", host));
  }
  check_range<unsigned>("threads", threads, 0, 1024);
  check_range<std::size_t>("max-body-bytes", max_body_bytes, 1, std::size_t{1} << 40);
  check_range<std::size_t>("max-url-bytes", max_url_bytes, 1, 16 * MiB);
  check_range<std::size_t>("max-header-bytes", max_header_bytes, 1, 16 * MiB);
  check_range<std::size_t>("max-headers", max_headers, 1, 10000);
  check_range<std::uint32_t>("header-timeout-ms", header_timeout_ms, 1, ms_max);
  check_range<std::uint32_t>("body-timeout-ms", body_timeout_ms, 1, ms_max);
  check_range<std::uint32_t>("idle-timeout-ms", idle_timeout_ms, 1, ms_max);
  check_range<std::size_t>("max-connections", max_connections, 1, size_max);
  check_range<std::size_t>("max-pipeline", max_pipeline, 1, 65536);
  check_range<std::size_t>("write-high-water", write_high_water, 1, size_max);
  if (server_name.size() > 256)
    throw std::invalid_argument("--server-name (FASTJSON_SERVER_NAME) must be at most 256 bytes");
  for (unsigned char c : server_name)
    if (c < 0x20 || c > 0x7e)
      throw std::invalid_argument(fmt::format(
          "--server-name (FASTJSON_SERVER_NAME) must be printable ASCII (it is a header value); byte 0x{:02x} is not",
          c));
  if (!server_name.empty() && (server_name.front() == ' ' || server_name.back() == ' '))
    throw std::invalid_argument("--server-name (FASTJSON_SERVER_NAME) must not start or end with a space");
}

flags::flags(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {
  auto num = [this](std::string name, auto& field, std::string help) {
    using T = std::decay_t<decltype(field)>;
    add_option({name, std::move(help), fmt::format("{}", field),
                [&field, name](std::string_view v) { field = parse_number<T>(name, v); }});
  };
  add_option({"host", "address to listen on", cfg_.host,
              [this](std::string_view v) { cfg_.host = std::string(v); }});
  num("port", cfg_.port, "TCP port; 0 picks a free one");
  num("threads", cfg_.threads, "worker threads (one event loop each); 0 = one per core");
  num("max-body-bytes", cfg_.max_body_bytes, "largest request body (413 above)");
  num("max-url-bytes", cfg_.max_url_bytes, "longest request target (414 above)");
  num("max-header-bytes", cfg_.max_header_bytes, "largest header section (431 above)");
  num("max-headers", cfg_.max_headers, "most header fields (431 above)");
  num("header-timeout-ms", cfg_.header_timeout_ms, "time allowed to receive request headers");
  num("body-timeout-ms", cfg_.body_timeout_ms, "time allowed to receive a request body");
  num("idle-timeout-ms", cfg_.idle_timeout_ms, "idle keep-alive connection timeout");
  num("shutdown-timeout-ms", cfg_.shutdown_timeout_ms, "graceful shutdown deadline");
  num("max-connections", cfg_.max_connections, "open connections per process (503 above)");
  num("max-pipeline", cfg_.max_pipeline, "requests in flight per connection");
  num("write-high-water", cfg_.write_high_water, "unsent bytes per connection before reading pauses");
  add_option({"server-name", "Server header value (empty omits it)", cfg_.server_name,
              [this](std::string_view v) { cfg_.server_name = std::string(v); }});
  add_option({"access-log", "log one line per request to stdout", "false",
              [this](std::string_view v) { cfg_.access_log = parse_bool("access-log", v); }, true});
  add_option({"trailing-slash", "strict (404) or redirect (308) for /path/ vs /path", "strict",
              [this](std::string_view v) {
                if (v == "strict")
                  cfg_.trailing_slash = trailing_slash::strict;
                else if (v == "redirect")
                  cfg_.trailing_slash = trailing_slash::redirect;
                else
                  throw std::invalid_argument(fmt::format("--trailing-slash: expected strict or redirect, got '{}'", v));
              }});
}

void flags::add_option(option o) { options_.push_back(std::move(o)); }

flags& flags::add(std::string name, std::string& target, std::string help) {
  add_option({name, std::move(help), target, [&target](std::string_view v) { target = std::string(v); }});
  return *this;
}

flags& flags::add(std::string name, std::int64_t& target, std::string help) {
  add_option({name, std::move(help), fmt::format("{}", target),
              [&target, name](std::string_view v) {
                std::int64_t x{};
                auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
                if (ec != std::errc() || p != v.data() + v.size())
                  throw std::invalid_argument(fmt::format("--{}: expected an integer, got '{}'", name, v));
                target = x;
              }});
  return *this;
}

flags& flags::add(std::string name, bool& target, std::string help) {
  add_option({name, std::move(help), target ? "true" : "false",
              [&target, name](std::string_view v) { target = parse_bool(name, v); }, true});
  return *this;
}

std::string flags::usage() const {
  std::string s = fmt::format("usage: {} [flags]\n", program_);
  if (!description_.empty()) s += description_ + "\n";
  s += "\nflags (each also read from the environment variable shown):\n";
  for (auto& o : options_)
    s += fmt::format("  --{:<22} {} (default: {}; env {})\n", o.name + (o.is_bool ? "" : " V"), o.help,
                     o.default_text.empty() ? "\"\"" : o.default_text, env_name(o.name));
  s += "  --help                   print this help and exit\n";
  return s;
}

config flags::parse_or_throw(int argc, const char* const* argv, std::string* help_out) {
  // Environment first, so flags override it.
  for (auto& o : options_) {
    std::string var = env_name(o.name);
    if (const char* v = std::getenv(var.c_str())) {
      try {
        o.set(v);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(fmt::format("{} (from the environment): {}", var, e.what()));
      }
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      if (help_out) *help_out = usage();
      return cfg_;
    }
    if (a.substr(0, 2) != "--") throw std::invalid_argument(fmt::format("unexpected argument '{}'", a));
    a.remove_prefix(2);
    std::string_view value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string_view::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    option* found = nullptr;
    for (auto& o : options_)
      if (o.name == a) found = &o;
    if (!found) throw std::invalid_argument(fmt::format("unknown flag --{} (see --help)", a));
    if (!has_value) {
      if (found->is_bool && (i + 1 >= argc || std::string_view(argv[i + 1]).substr(0, 2) == "--")) {
        value = "true";
      } else {
        if (i + 1 >= argc) throw std::invalid_argument(fmt::format("--{} needs a value", a));
        value = argv[++i];
      }
    }
    found->set(value);
  }
  cfg_.validate();
  return cfg_;
}

config flags::parse(int argc, char** argv) {
  try {
    std::string help;
    config c = parse_or_throw(argc, argv, &help);
    if (!help.empty()) {
      std::fputs(help.c_str(), stdout);
      std::exit(0);
    }
    return c;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: %s\n", program_.c_str(), e.what());
    std::exit(2);
  }
}

config config::from_args(int argc, char** argv) {
  flags f(argc > 0 ? argv[0] : "fastjson");
  return f.parse(argc, argv);
}

config config::from_env() {
  flags f("fastjson");
  const char* argv[] = {"fastjson"};
  return f.parse_or_throw(1, argv);
}

}  // namespace fastjson
