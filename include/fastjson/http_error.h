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

/// One error of a problem document's `errors` array. Either a body error:
/// `{"pointer": "/items/0/title", "message": ...}`, where `pointer` is an
/// RFC 6901 JSON Pointer into the request body ("" is the whole body, else it
/// starts with '/'); or a request parameter error, when `parameter` is set:
/// `{"parameter": "id", "in": "path", "message": ...}` (`in` is "path",
/// "query" or "header", as in OpenAPI).
struct problem_field_error {
  std::string pointer;
  std::string message;
  std::string parameter;  ///< non-empty: a parameter error (no pointer is written)
  std::string in;         ///< where the parameter is: "path", "query", "header"

  /// An error in the JSON body at `pointer`.
  static problem_field_error body(std::string pointer, std::string message) {
    return {std::move(pointer), std::move(message), {}, {}};
  }
  /// An error in the parameter `name` of the path, query or headers.
  static problem_field_error param(std::string name, std::string in, std::string message) {
    return {{}, std::move(message), std::move(name), std::move(in)};
  }
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
