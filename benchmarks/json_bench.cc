// JSON serialize / parse-into-structs benchmarks: fastjson vs RapidJSON vs
// nlohmann::json, all starting from (or ending in) the same C++ structs.
//
//   BM_serialize/<data>/<library>   data: message, records, twitter, citm
//   BM_parse/<data>/<library>       data: twitter, citm
//
// The peers are driven generically from the same reflected field lists, which
// compiles to exactly what their users write by hand: RapidJSON Writer calls
// (Key/Int64/String...) and DOM FindMember lookups; nlohmann to_json building a
// json object then dump(), and parse() then per-field get.
// See docs/JSON.md for how to run and the last results.

#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fastjson/json/reader.h"
#include "fastjson/json/writer.h"

#ifndef FASTJSON_SHARED_DATA
#define FASTJSON_SHARED_DATA "../shared/data"
#endif

namespace model {

struct message {
  std::string message;
};
FASTJSON_REFLECT(message, message)

struct geo {
  std::string city;
  double lat = 0;
  double lon = 0;
};
FASTJSON_REFLECT(geo, city, lat, lon)

struct record {
  std::int64_t id = 0;
  std::int32_t count = 0;
  double price = 0;
  double ratio = 0;
  std::string name;
  std::string description;
  geo location;
  std::optional<std::string> nickname;
  std::optional<std::int32_t> rank;
  bool active = false;
  std::vector<std::int32_t> tags;
};
FASTJSON_REFLECT(record, id, count, price, ratio, name, description, location, nickname, rank, active, tags)

// twitter.json
struct metadata {
  std::string result_type;
  std::string iso_language_code;
};
FASTJSON_REFLECT(metadata, result_type, iso_language_code)
struct hashtag {
  std::string text;
  std::vector<int> indices;
};
FASTJSON_REFLECT(hashtag, text, indices)
struct url {
  std::string link;
  std::string expanded_url;
  std::string display_url;
  std::vector<int> indices;
};
FASTJSON_REFLECT(url, (link, "url"), expanded_url, display_url, indices)
struct user_mention {
  std::string screen_name;
  std::string name;
  std::uint64_t id = 0;
  std::string id_str;
  std::vector<int> indices;
};
FASTJSON_REFLECT(user_mention, screen_name, name, id, id_str, indices)
struct entities {
  std::vector<hashtag> hashtags;
  std::vector<hashtag> symbols;
  std::vector<url> urls;
  std::vector<user_mention> user_mentions;
};
FASTJSON_REFLECT(entities, hashtags, symbols, urls, user_mentions)
struct url_list {
  std::vector<url> urls;
};
FASTJSON_REFLECT(url_list, urls)
struct user_entities {
  std::optional<url_list> url;
  url_list description;
};
FASTJSON_REFLECT(user_entities, url, description)
struct user {
  std::uint64_t id = 0;
  std::string id_str;
  std::string name;
  std::string screen_name;
  std::string location;
  std::string description;
  std::optional<std::string> url;
  user_entities entities;
  bool protected_ = false;
  std::int64_t followers_count = 0;
  std::int64_t friends_count = 0;
  std::int64_t listed_count = 0;
  std::string created_at;
  std::int64_t favourites_count = 0;
  std::optional<std::int64_t> utc_offset;
  std::optional<std::string> time_zone;
  bool geo_enabled = false;
  bool verified = false;
  std::int64_t statuses_count = 0;
  std::string lang;
  std::string profile_background_color;
  std::string profile_image_url;
  std::string profile_image_url_https;
  bool default_profile = false;
  bool following = false;
  bool notifications = false;
};
FASTJSON_REFLECT(user, id, id_str, name, screen_name, location, description, (url, "url", emit_null), entities,
                 (protected_, "protected"), followers_count, friends_count, listed_count, created_at,
                 favourites_count, (utc_offset, "utc_offset", emit_null), (time_zone, "time_zone", emit_null),
                 geo_enabled, verified, statuses_count, lang, profile_background_color, profile_image_url,
                 profile_image_url_https, default_profile, following, notifications)
struct status {
  metadata meta;
  std::string created_at;
  std::uint64_t id = 0;
  std::string id_str;
  std::string text;
  std::string source;
  bool truncated = false;
  std::optional<std::uint64_t> in_reply_to_status_id;
  std::optional<std::string> in_reply_to_status_id_str;
  std::optional<std::uint64_t> in_reply_to_user_id;
  std::optional<std::string> in_reply_to_user_id_str;
  std::optional<std::string> in_reply_to_screen_name;
  user usr;
  std::int64_t retweet_count = 0;
  std::int64_t favorite_count = 0;
  entities ents;
  bool favorited = false;
  bool retweeted = false;
  std::string lang;
};
FASTJSON_REFLECT(status, (meta, "metadata"), created_at, id, id_str, text, source, truncated,
                 (in_reply_to_status_id, "in_reply_to_status_id", emit_null),
                 (in_reply_to_status_id_str, "in_reply_to_status_id_str", emit_null),
                 (in_reply_to_user_id, "in_reply_to_user_id", emit_null),
                 (in_reply_to_user_id_str, "in_reply_to_user_id_str", emit_null),
                 (in_reply_to_screen_name, "in_reply_to_screen_name", emit_null), (usr, "user"), retweet_count,
                 favorite_count, (ents, "entities"), favorited, retweeted, lang)
struct search_metadata {
  double completed_in = 0;
  std::uint64_t max_id = 0;
  std::string max_id_str;
  std::string next_results;
  std::string query;
  std::string refresh_url;
  std::int64_t count = 0;
  std::uint64_t since_id = 0;
  std::string since_id_str;
};
FASTJSON_REFLECT(search_metadata, completed_in, max_id, max_id_str, next_results, query, refresh_url, count, since_id,
                 since_id_str)
struct twitter {
  std::vector<status> statuses;
  search_metadata search;
};
FASTJSON_REFLECT(twitter, statuses, (search, "search_metadata"))

// citm_catalog.json
struct event {
  std::optional<std::string> description;
  std::int64_t id = 0;
  std::optional<std::string> logo;
  std::string name;
  std::vector<std::int64_t> subTopicIds;
  std::optional<std::string> subjectCode;
  std::optional<std::string> subtitle;
  std::vector<std::int64_t> topicIds;
};
FASTJSON_REFLECT(event, (description, "description", emit_null), id, (logo, "logo", emit_null), name, subTopicIds,
                 (subjectCode, "subjectCode", emit_null), (subtitle, "subtitle", emit_null), topicIds)
struct price {
  std::int64_t amount = 0;
  std::int64_t audienceSubCategoryId = 0;
  std::int64_t seatCategoryId = 0;
};
FASTJSON_REFLECT(price, amount, audienceSubCategoryId, seatCategoryId)
struct area {
  std::int64_t areaId = 0;
  std::vector<std::int64_t> blockIds;
};
FASTJSON_REFLECT(area, areaId, blockIds)
struct seat_category {
  std::vector<area> areas;
  std::int64_t seatCategoryId = 0;
};
FASTJSON_REFLECT(seat_category, areas, seatCategoryId)
struct performance {
  std::int64_t eventId = 0;
  std::int64_t id = 0;
  std::optional<std::string> logo;
  std::optional<std::string> name;
  std::vector<price> prices;
  std::vector<seat_category> seatCategories;
  std::optional<std::string> seatMapImage;
  std::int64_t start = 0;
  std::string venueCode;
};
FASTJSON_REFLECT(performance, eventId, id, (logo, "logo", emit_null), (name, "name", emit_null), prices,
                 seatCategories, (seatMapImage, "seatMapImage", emit_null), start, venueCode)
using names = std::map<std::string, std::string>;
struct citm {
  names areaNames;
  names audienceSubCategoryNames;
  names blockNames;
  std::map<std::string, event> events;
  std::vector<performance> performances;
  names seatCategoryNames;
  names subTopicNames;
  names subjectNames;
  names topicNames;
  std::map<std::string, std::vector<std::int64_t>> topicSubTopics;
  names venueNames;
};
FASTJSON_REFLECT(citm, areaNames, audienceSubCategoryNames, blockNames, events, performances, seatCategoryNames,
                 subTopicNames, subjectNames, topicNames, topicSubTopics, venueNames)

}  // namespace model

namespace {

namespace refl = fastjson::reflect;
template <class T> struct is_opt : std::false_type {};
template <class T> struct is_opt<std::optional<T>> : std::true_type {};
template <class T> struct is_vec : std::false_type {};
template <class T> struct is_vec<std::vector<T>> : std::true_type {};
template <class T> struct is_map : std::false_type {};
template <class V> struct is_map<std::map<std::string, V>> : std::true_type {};

// ---- RapidJSON: Writer calls, DOM extraction ------------------------------
template <class W, class T>
void rj_write(W& w, const T& v) {
  if constexpr (std::is_same_v<T, bool>) w.Bool(v);
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) w.Int64(v);
  else if constexpr (std::is_integral_v<T>) w.Uint64(v);
  else if constexpr (std::is_floating_point_v<T>) w.Double(v);
  else if constexpr (std::is_same_v<T, std::string>) w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  else if constexpr (is_opt<T>::value) {
    if (v) rj_write(w, *v);
    else w.Null();
  } else if constexpr (is_vec<T>::value) {
    w.StartArray();
    for (const auto& e : v) rj_write(w, e);
    w.EndArray();
  } else if constexpr (is_map<T>::value) {
    w.StartObject();
    for (const auto& [k, e] : v) {
      w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
      rj_write(w, e);
    }
    w.EndObject();
  } else {
    w.StartObject();
    refl::for_each_descriptor<T>([&](const auto& fd) {
      const auto& m = v.*(fd.ptr);
      if constexpr (is_opt<std::remove_cvref_t<decltype(m)>>::value)
        if (!m && !fd.has(refl::options::emit_null)) return;
      auto n = fd.name();
      w.Key(n.data(), static_cast<rapidjson::SizeType>(n.size()));
      rj_write(w, m);
    });
    w.EndObject();
  }
}

template <class T>
void rj_get(const rapidjson::Value& j, T& out) {
  if constexpr (std::is_same_v<T, bool>) out = j.GetBool();
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) out = static_cast<T>(j.GetInt64());
  else if constexpr (std::is_integral_v<T>) out = static_cast<T>(j.GetUint64());
  else if constexpr (std::is_floating_point_v<T>) out = j.GetDouble();
  else if constexpr (std::is_same_v<T, std::string>) out.assign(j.GetString(), j.GetStringLength());
  else if constexpr (is_opt<T>::value) {
    if (j.IsNull()) out.reset();
    else rj_get(j, out.emplace());
  } else if constexpr (is_vec<T>::value) {
    out.clear();
    out.reserve(j.Size());
    for (const auto& e : j.GetArray()) rj_get(e, out.emplace_back());
  } else if constexpr (is_map<T>::value) {
    out.clear();
    for (const auto& m : j.GetObject())
      rj_get(m.value, out[std::string(m.name.GetString(), m.name.GetStringLength())]);
  } else {
    refl::for_each_descriptor<T>([&](const auto& fd) {
      auto n = fd.name();
      auto it = j.FindMember(rapidjson::Value(rapidjson::StringRef(n.data(), n.size())));
      if (it != j.MemberEnd()) rj_get(it->value, out.*(fd.ptr));
    });
  }
}

// ---- nlohmann: to_json then dump(); parse then get ------------------------
template <class T>
void nl_to(nlohmann::json& j, const T& v) {
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) j = v;
  else if constexpr (is_opt<T>::value) {
    if (v) nl_to(j, *v);
    else j = nullptr;
  } else if constexpr (is_vec<T>::value) {
    j = nlohmann::json::array();
    for (const auto& e : v) nl_to(j.emplace_back(), e);
  } else if constexpr (is_map<T>::value) {
    j = nlohmann::json::object();
    for (const auto& [k, e] : v) nl_to(j[k], e);
  } else {
    j = nlohmann::json::object();
    refl::for_each_descriptor<T>([&](const auto& fd) {
      const auto& m = v.*(fd.ptr);
      if constexpr (is_opt<std::remove_cvref_t<decltype(m)>>::value)
        if (!m && !fd.has(refl::options::emit_null)) return;
      nl_to(j[std::string(fd.name())], m);
    });
  }
}

template <class T>
void nl_get(const nlohmann::json& j, T& out) {
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) j.get_to(out);
  else if constexpr (is_opt<T>::value) {
    if (j.is_null()) out.reset();
    else nl_get(j, out.emplace());
  } else if constexpr (is_vec<T>::value) {
    out.clear();
    out.reserve(j.size());
    for (const auto& e : j) nl_get(e, out.emplace_back());
  } else if constexpr (is_map<T>::value) {
    out.clear();
    for (const auto& [k, e] : j.items()) nl_get(e, out[k]);
  } else {
    refl::for_each_descriptor<T>([&](const auto& fd) {
      auto it = j.find(fd.name());
      if (it != j.end()) nl_get(*it, out.*(fd.ptr));
    });
  }
}

// ---- data ------------------------------------------------------------------
std::string load(const char* name) {
  std::ifstream f(std::string(FASTJSON_SHARED_DATA) + "/json/" + name, std::ios::binary);
  if (!f) throw std::runtime_error(std::string("cannot open ") + name);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

template <class T>
const T& parsed(const char* file) {
  static const T value = [&] {
    auto r = fastjson::json::read<T>(load(file));
    if (!r.ok()) throw std::runtime_error(std::string("cannot parse ") + file + ": " + r.errors.at(0).pointer + " " +
                                          r.errors.at(0).message);
    return std::move(r).value();
  }();
  return value;
}

const std::vector<model::record>& records() {
  static const std::vector<model::record> v = [] {
    std::vector<model::record> out;
    for (int i = 0; i < 100; ++i) {
      model::record r;
      r.id = 1000000 + i * 7919;
      r.count = i * 3 - 50;
      r.price = 19.99 + i * 0.37;
      r.ratio = 1.0 / (i + 3);
      r.name = "item-" + std::to_string(i);
      r.description =
          "A longer description of the item, with \"quoted\" words, a tab\tand a newline\n, some "
          "accented text (caf\xC3\xA9, na\xC3\xAFve) and enough plain ASCII to make the fast path matter: " +
          std::string(40 + i % 60, 'x');
      r.location = {i % 2 ? "Paris" : "San Francisco", 48.8566 + i * 0.001, 2.3522 - i * 0.002};
      if (i % 2) r.nickname = "nick" + std::to_string(i);
      if (i % 3) r.rank = i;
      r.active = i % 5 != 0;
      r.tags = {i, i + 1, i * 2};
      out.push_back(std::move(r));
    }
    return out;
  }();
  return v;
}

const model::message& message() {
  static const model::message m{"Hello, World!"};
  return m;
}

// ---- benchmarks ------------------------------------------------------------
template <class T>
void serialize_fastjson(benchmark::State& state, const T& value) {
  fastjson::buffer buf;
  for (auto _ : state) {
    buf.clear();
    fastjson::json::write(buf, value);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}

template <class T>
void serialize_rapidjson(benchmark::State& state, const T& value) {
  rapidjson::StringBuffer sb;
  for (auto _ : state) {
    sb.Clear();
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    rj_write(w, value);
    benchmark::DoNotOptimize(sb.GetString());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sb.GetSize()));
}

template <class T>
void serialize_nlohmann(benchmark::State& state, const T& value) {
  std::size_t size = 0;
  for (auto _ : state) {
    nlohmann::json j;
    nl_to(j, value);
    std::string s = j.dump();
    size = s.size();
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

template <class T>
void parse_fastjson(benchmark::State& state, const char* file) {
  simdjson::padded_string in(load(file));
  for (auto _ : state) {
    auto r = fastjson::json::read<T>(in);
    if (!r.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(r.value());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}

template <class T>
void parse_rapidjson(benchmark::State& state, const char* file) {
  std::string in = load(file);
  for (auto _ : state) {
    rapidjson::Document d;
    d.Parse(in.c_str(), in.size());
    if (d.HasParseError()) state.SkipWithError("parse failed");
    T out;
    rj_get(d, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}

template <class T>
void parse_nlohmann(benchmark::State& state, const char* file) {
  std::string in = load(file);
  for (auto _ : state) {
    auto j = nlohmann::json::parse(in);
    T out;
    nl_get(j, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}

void register_all() {
  auto ser = [](const char* data, auto get) {
    std::string base = std::string("BM_serialize/") + data + "/";
    benchmark::RegisterBenchmark((base + "fastjson").c_str(), [get](benchmark::State& s) { serialize_fastjson(s, get()); });
    benchmark::RegisterBenchmark((base + "rapidjson").c_str(), [get](benchmark::State& s) { serialize_rapidjson(s, get()); });
    benchmark::RegisterBenchmark((base + "nlohmann").c_str(), [get](benchmark::State& s) { serialize_nlohmann(s, get()); });
  };
  ser("message", [] { return message(); });
  ser("records", []() -> const auto& { return records(); });
  ser("twitter", []() -> const auto& { return parsed<model::twitter>("twitter.json"); });
  ser("citm", []() -> const auto& { return parsed<model::citm>("citm_catalog.json"); });

  benchmark::RegisterBenchmark("BM_parse/twitter/fastjson", [](benchmark::State& s) { parse_fastjson<model::twitter>(s, "twitter.json"); });
  benchmark::RegisterBenchmark("BM_parse/twitter/rapidjson", [](benchmark::State& s) { parse_rapidjson<model::twitter>(s, "twitter.json"); });
  benchmark::RegisterBenchmark("BM_parse/twitter/nlohmann", [](benchmark::State& s) { parse_nlohmann<model::twitter>(s, "twitter.json"); });
  benchmark::RegisterBenchmark("BM_parse/citm/fastjson", [](benchmark::State& s) { parse_fastjson<model::citm>(s, "citm_catalog.json"); });
  benchmark::RegisterBenchmark("BM_parse/citm/rapidjson", [](benchmark::State& s) { parse_rapidjson<model::citm>(s, "citm_catalog.json"); });
  benchmark::RegisterBenchmark("BM_parse/citm/nlohmann", [](benchmark::State& s) { parse_nlohmann<model::citm>(s, "citm_catalog.json"); });
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  // fastjson's reader parses with libsimdjson's DOM parser, which picks its
  // CPU kernel at run time (On-Demand and the header code would use the
  // kernel of the compile flags instead).
  benchmark::AddCustomContext("simdjson_kernel", simdjson::get_active_implementation()->name());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
