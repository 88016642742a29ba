#pragma once
/// \file http_error.h
/// `http_error`: throw it from a handler to answer with an RFC 9457
/// problem+json response.
///
/// \code
///   if (!found) throw fastjson::http_error(404, "todo 7 does not exist");
/// \endcode

#include <stdexcept>
#include <string>
#include <vector>

namespace fastjson {

/// One field-level error of a problem document (`errors: [{pointer, message}]`),
/// with an RFC 6901 JSON Pointer to the offending input.
struct problem_field_error {
  std::string pointer;
  std::string message;
};

class http_error : public std::runtime_error {
 public:
  http_error(int status, std::string detail, std::vector<problem_field_error> errors = {})
      : std::runtime_error(detail), status_(status), errors_(std::move(errors)) {}
  int status() const noexcept { return status_; }
  std::string_view detail() const noexcept { return what(); }
  const std::vector<problem_field_error>& errors() const noexcept { return errors_; }

 private:
  int status_;
  std::vector<problem_field_error> errors_;
};

/// The reason phrase of a status code ("Not Found"), or "Unknown".
std::string_view status_reason(int status) noexcept;

}  // namespace fastjson
