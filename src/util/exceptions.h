// Turning the exceptions of the libraries voxir calls into voxir::Error at the call site.
//
// Faiss (faiss::FaissException), libtorch (c10::Error), nlohmann-json (json::exception), hnswlib
// (std::runtime_error) and std::filesystem (filesystem_error) each throw their own types; caught
// nowhere, they would reach the CLI as "internal error" (exit 70) without the file they concern.
// Wrap each call into such a library (not every caller on the way up) in translate_exceptions.
#pragma once

#include "voxir/error.h"

#include <filesystem>
#include <string_view>
#include <utility>

namespace voxir {

// Rethrows the exception being handled (call it only inside a catch block) as a voxir::Error whose
// message reads "<file>: <doing>: <cause>" (either part left out when empty):
//   voxir::Error                  unchanged (it already names its file)
//   std::bad_alloc                kIo, "out of memory" (the input needs more memory than there is)
//   std::filesystem::filesystem_error, std::system_error
//                                 kNotFound for ENOENT, kIo otherwise, with the OS's reason and
//                                 the path the OS refused
//   any other std::exception      `kind`: the library's own verdict on the data (corrupt index
//                                 file, JSON type mismatch, tensor shape), first line of what()
//                                 (libtorch appends a backtrace)
//   anything else                 kInternal
[[noreturn]] void rethrow_as_error(const std::filesystem::path& file, std::string_view doing,
                                   ErrorKind kind);

// Runs fn() and translates whatever it throws with rethrow_as_error.
template <typename Fn>
decltype(auto) translate_exceptions(const std::filesystem::path& file, std::string_view doing,
                                    ErrorKind kind, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    rethrow_as_error(file, doing, kind);
  }
}

}  // namespace voxir
