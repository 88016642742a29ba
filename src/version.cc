#include "fastjson/version.h"

namespace fastjson {

std::string_view version() noexcept { return FASTJSON_VERSION_STRING; }

}  // namespace fastjson
