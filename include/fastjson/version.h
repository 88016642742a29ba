#pragma once
/// \file version.h
/// The library version, as compiled.

#include <string_view>

namespace fastjson {

inline constexpr int version_major = 0;
inline constexpr int version_minor = 1;
inline constexpr int version_patch = 0;

/// The version of the compiled library ("MAJOR.MINOR.PATCH"). It comes from
/// the library binary, so a header/library mismatch can be detected by
/// comparing it with `version_major` etc.
std::string_view version() noexcept;

}  // namespace fastjson
