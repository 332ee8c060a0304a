#include "util/exceptions.h"

#include <cerrno>
#include <exception>
#include <new>
#include <string>
#include <system_error>

namespace voxir {
namespace {

std::string first_line(std::string_view text) {
  const auto cut = text.find('\n');
  return std::string(text.substr(0, cut));
}

[[noreturn]] void throw_error(ErrorKind kind, const std::filesystem::path& file,
                              std::string_view doing, std::string_view cause) {
  std::string context = file.string();
  if (!doing.empty()) context += context.empty() ? std::string(doing) : fmt::format(": {}", doing);
  if (context.empty()) fail(kind, "{}", cause);
  fail(kind, "{}: {}", context, cause);
}

ErrorKind kind_of(const std::error_code& code) {
  return code == std::errc::no_such_file_or_directory ? ErrorKind::kNotFound : ErrorKind::kIo;
}

}  // namespace

void rethrow_as_error(const std::filesystem::path& file, std::string_view doing, ErrorKind kind) {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw_error(ErrorKind::kIo, file, doing,
                "out of memory (the input needs more memory than this machine has free)");
  } catch (const std::filesystem::filesystem_error& e) {
    // what() repeats "filesystem error:" and the paths; the code and the refused path say it all.
    std::string cause = e.code().message();
    if (!e.path1().empty() && e.path1() != file) cause += fmt::format(" ({})", e.path1().string());
    throw_error(kind_of(e.code()), file, doing, cause);
  } catch (const std::system_error& e) {
    throw_error(kind_of(e.code()), file, doing, first_line(e.what()));
  } catch (const std::exception& e) {
    throw_error(kind, file, doing, first_line(e.what()));
  } catch (...) {
    throw_error(ErrorKind::kInternal, file, doing, "an exception of unknown type");
  }
}

}  // namespace voxir
