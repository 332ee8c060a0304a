// How failures become HTTP answers: {"error": {"kind", "message"}} with a status from the
// library's error kind (docs/server.md has the table).
#pragma once

#include <string>

namespace voxir::server {

struct ApiError {
  int status = 500;
  std::string kind;  // the library's kind ("invalid input", ...) or the server's ("too large")
  std::string message;
};

// Thrown by handlers for failures of the request itself (malformed JSON, wrong content type).
class RequestError : public std::exception {
 public:
  RequestError(int status, std::string kind, std::string message)
      : error_{status, std::move(kind), std::move(message)} {}
  [[nodiscard]] const ApiError& error() const { return error_; }
  [[nodiscard]] const char* what() const noexcept override { return error_.message.c_str(); }

 private:
  ApiError error_;
};

// The exception being handled (call inside a catch block) as an ApiError: voxir::Error by kind
// (usage 400, not found 404, invalid input 422, unsupported 415, I/O and internal 500,
// timeout 504),
// RequestError as thrown, anything else 500 "internal".
[[nodiscard]] ApiError api_error_from_current_exception();

}  // namespace voxir::server
