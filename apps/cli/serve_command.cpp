// voxir serve: the REST API over an index (docs/server.md).
#include "command.h"
#include "server.h"
#include "voxir/error.h"

#include <fmt/core.h>

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

namespace voxir::cli {
namespace {

struct ServeArgs {
  std::string dir;
  server::ServerOptions options;
  std::string token_file;
  std::uint64_t max_upload_mb = 2048;
  bool no_web = false;
};

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(ErrorKind::kNotFound, "{}: cannot read the token file", path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 16) {
    fail(ErrorKind::kUsage, "{}: the token's first line has {} characters; use at least 16 (e.g. "
         "`head -c 24 /dev/urandom | base64`)", path, token.size());
  }
  return token;
}

int run_serve(ServeArgs& args) {
  if (!args.token_file.empty()) args.options.token = read_token(args.token_file);
  if (!args.no_web && args.options.web_dir.empty() &&
      std::filesystem::is_regular_file(std::filesystem::path(VOXIR_WEB_DIR) / "index.html")) {
    args.options.web_dir = VOXIR_WEB_DIR;
  }
  args.options.max_upload_bytes = args.max_upload_mb << 20;
  server::check_options(args.options);
  std::mutex log_lock;
  args.options.log = [&log_lock](std::string_view line) {
    std::lock_guard guard(log_lock);
    fmt::print(stderr, "{}\n", line);
  };

  // SIGINT and SIGTERM are taken by one thread (every thread started later inherits the mask),
  // which stops the server: requests in flight finish, then run() returns.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::Server server(args.dir, args.options);
  const int port = server.bind();
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    server.stop();
  });
  fmt::print(stderr, "voxir: serving {} on http://{}:{}/ ({} threads{}{})\n", args.dir,
             args.options.host, port, args.options.threads,
             args.options.token.empty() ? "" : ", bearer token required",
             args.options.web_dir.empty() ? ", API only: no web page built" : "");
  server.run();
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter if run() ended on its own
  waiter.join();
  fmt::print(stderr, "voxir: stopped\n");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the REST API over an index (docs/server.md)");
  cmd->add_option("index-dir", args->dir, "Index folder")->required();
  cmd->add_option("--host", args->options.host,
                  "Address to listen on; one that is not loopback needs --token-file")
      ->capture_default_str();
  cmd->add_option("--port", args->options.port, "Port (0: any free one)")->capture_default_str();
  cmd->add_option("--token-file", args->token_file,
                  "File whose first line is the bearer token every /api request must carry");
  cmd->add_option("--threads", args->options.threads,
                  "Connections served at once (each keep-alive connection holds one)")
      ->capture_default_str();
  cmd->add_option("--search-slots", args->options.search_slots,
                  "Searches run at once (0: one per core); others wait up to --timeout")
      ->capture_default_str();
  cmd->add_option("--max-upload-mb", args->max_upload_mb, "Largest upload accepted, in MiB")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 20));
  cmd->add_option("--timeout", args->options.timeout_s,
                  "Seconds a client may take to send a request or receive an answer (not a limit "
                  "on the search: see --search-time-limit)")
      ->capture_default_str();
  cmd->add_option("--search-time-limit", args->options.search_time_limit_s,
                  "Seconds a search may run once it has a slot; past it the request gets 504 "
                  "(a request may ask for less with \"time_limit_s\")")
      ->capture_default_str();
  cmd->add_option("--web-dir", args->options.web_dir,
                  "Folder of the web page to serve at / (default: the one built with voxir)");
  cmd->add_flag("--no-web", args->no_web, "Serve the API only");
  cmd->callback([args, &run] { run = [args] { return run_serve(*args); }; });
}

}  // namespace voxir::cli
