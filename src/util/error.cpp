#include "voxir/error.h"

namespace voxir {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return "invalid input";
    case ErrorKind::kIo: return "I/O error";
    case ErrorKind::kNotFound: return "not found";
    case ErrorKind::kUnsupported: return "unsupported";
    case ErrorKind::kUsage: return "usage error";
    case ErrorKind::kInternal: return "internal error";
    case ErrorKind::kTimeout: return "timeout";
  }
  return "unknown error";
}

int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return 2;
    case ErrorKind::kInvalidInput: return 3;
    case ErrorKind::kNotFound: return 4;
    case ErrorKind::kUnsupported: return 5;
    case ErrorKind::kIo: return 6;
    case ErrorKind::kTimeout: return 7;
    case ErrorKind::kInternal: return 70;
  }
  return 70;
}

Error::Error(ErrorKind kind, std::string message)
    : std::runtime_error(std::move(message)), kind_(kind) {}

Error Error::wrap(std::string_view context) const {
  return Error(kind_, fmt::format("{}: {}", context, what()));
}

}  // namespace voxir
