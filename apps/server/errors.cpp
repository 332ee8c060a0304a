#include "errors.h"

#include "voxir/error.h"

#include <exception>
#include <new>

namespace voxir::server {
namespace {

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kInvalidInput: return 422;
    case ErrorKind::kUnsupported: return 415;
    case ErrorKind::kIo:
    case ErrorKind::kInternal: return 500;
    case ErrorKind::kTimeout: return 504;
  }
  return 500;
}

}  // namespace

ApiError api_error_from_current_exception() {
  try {
    throw;
  } catch (const RequestError& e) {
    return e.error();
  } catch (const Error& e) {
    return {http_status(e.kind()), std::string(to_string(e.kind())), e.what()};
  } catch (const std::bad_alloc&) {
    return {500, "internal", "out of memory"};
  } catch (const std::exception& e) {
    return {500, "internal", e.what()};
  } catch (...) {
    return {500, "internal", "unknown failure"};
  }
}

}  // namespace voxir::server
