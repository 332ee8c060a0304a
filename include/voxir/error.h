// voxir/error.h: the one error type of the library.
//
// Every failure the library reports is a voxir::Error with a kind. The CLI maps the kind to an
// exit code (see exit_code()), a server would map it to an HTTP status. Messages name the file,
// what is wrong and what was expected; callers add context on the way up with Error::wrap, so a
// failure reads "indexing s0042: reading segmentations/liver.nii.gz: dimensions 512x512x300 do
// not match the CT (512x512x301)". Catch only at the edge (main, request handlers, tests).
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace voxir {

enum class ErrorKind {
  kInvalidInput,  // the input exists but is malformed or inconsistent (bad header, wrong grid)
  kIo,            // the operating system failed to read or write (permissions, disk, truncation)
  kNotFound,      // a named file, series, class or volume does not exist
  kUnsupported,   // valid input that voxir does not handle (a datatype, a tilted series)
  kUsage,         // the caller asked for something impossible (bad option, bad spec string)
  kInternal,      // a broken invariant inside voxir: a bug
  kTimeout,       // a time limit the caller set passed before the work was done (SearchParams)
};

[[nodiscard]] std::string_view to_string(ErrorKind kind);

// CLI exit code of a kind: usage 2, invalid input 3, not found 4, unsupported 5, I/O 6,
// timeout 7, internal 70. 0 is success and 1 is reserved for "ran, but found nothing".
[[nodiscard]] int exit_code(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message);

  [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }

  // The same error with "context: " put in front of its message; the kind is kept.
  [[nodiscard]] Error wrap(std::string_view context) const;

 private:
  ErrorKind kind_;
};

// Throws Error(kind, fmt::format(...)). Use for checks that name what, where and which values.
template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

// Runs fn(); an Error escaping it is rethrown with `context` in front of its message.
template <typename Fn>
decltype(auto) with_context(std::string_view context, Fn&& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    throw e.wrap(context);
  }
}

}  // namespace voxir
