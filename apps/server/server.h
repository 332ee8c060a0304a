// voxir serve: the HTTP front end (docs/server.md). It translates requests into library calls
// (voxir::Query and search(), the ingest functions) and their answers into JSON; every search
// policy stays in the library, so the CLI and the server cannot answer the same query
// differently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace voxir::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;    // 0: any free port (tests)
  std::string token;  // bearer token every /api request must carry; empty: none
  // Connections served at once. httplib gives each open (keep-alive) connection a thread, so this
  // is set well above the cores; searches, which use the cores, are gated by search_slots.
  int threads = 64;
  int search_slots = 0;  // searches run at once; 0: the number of cores
  std::uint64_t max_upload_bytes = std::uint64_t{2} << 30;
  int timeout_s = 300;  // per-request socket read and write limit
  // Longest a search may run once it has a slot (SearchParams::deadline); a request may ask for
  // less ("time_limit_s"), never more. Past it the request gets 504.
  double search_time_limit_s = 60;
  // Where uploads are staged while a request runs; empty: the system's temp folder.
  std::filesystem::path upload_dir;
  // The web page's files (index.html, app.js, style.css), served at /; empty: the API only.
  std::filesystem::path web_dir;
  // Receives one access-log line per request; empty: none.
  std::function<void(std::string_view)> log;
};

// True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost).
[[nodiscard]] bool is_loopback(std::string_view host);

// Throws Error(kUsage) for options that must not run: a non-loopback host without a token, a
// port outside 0..65535, no threads, a zero upload limit, a search time limit <= 0.
void check_options(const ServerOptions& options);

// One route as the OpenAPI document writes it, e.g. {"GET", "/api/v1/volumes/{id}"}.
struct Route {
  std::string method;
  std::string path;
  bool operator==(const Route&) const = default;
};

class Server {
 public:
  // Opens the index in `index_dir` (throws Error when it cannot) and registers the routes.
  Server(std::filesystem::path index_dir, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket; returns the port (the chosen one for port 0). Throws Error(kIo).
  int bind();
  // Serves until stop(); requests in flight finish first, then background jobs.
  void run();
  // Safe from any thread.
  void stop();

  // Every route registered, in registration order.
  [[nodiscard]] const std::vector<Route>& routes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 document served at /api/v1/openapi.json (apps/server/openapi.json).
[[nodiscard]] std::string_view openapi_document();

}  // namespace voxir::server
