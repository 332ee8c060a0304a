#include "testutil/cli_run.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace voxir::testing {

CliRun run_shell(const std::string& command) {
  CliRun r;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace voxir::testing
