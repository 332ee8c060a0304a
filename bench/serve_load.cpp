// Load benchmark of `voxir serve`, loopback only and bounded in time (scripts/load-test starts a
// server and runs it). First one probe client sends the search back to back, alone: the baseline.
// Then N clients act like users of the web page for a fixed time, each in a loop: list volumes,
// open one, search, wait --think-ms; and the probe sends the same search again. Prints
// requests/s, p50/p95/p99 latency and errors per part, the probe's p95 under load against alone,
// and, given the server's pid, its peak RSS.
//   voxir_bench_serve --port P [--clients 50] [--seconds 10] [--think-ms 500] [--body JSON]
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// VmHWM (peak resident set) of a process, in MiB; -1 when unreadable.
double peak_rss_mib(int pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

struct Run {
  std::vector<double> ms;
  long errors = 0;
  double seconds = 0;
};

struct Recorder {
  std::mutex lock;
  Run run;
  void add(const std::vector<double>& ms, long errors) {
    std::lock_guard guard(lock);
    run.ms.insert(run.ms.end(), ms.begin(), ms.end());
    run.errors += errors;
  }
};

// Sends `request` until `end`, timing each answer; waits `think` after every `every` requests.
template <typename Request>
void loop(int port, Clock::time_point end, std::chrono::milliseconds think, Recorder& out, Request request,
          int every = 1) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120);
  client.set_keep_alive(true);
  std::vector<double> ms;
  long errors = 0;
  while (Clock::now() < end) {
    const auto t0 = Clock::now();
    const auto r = request(client);
    if (!r || r->status != 200) {
      ++errors;
    } else {
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    if (think.count() > 0 && (ms.size() + static_cast<std::size_t>(errors)) % static_cast<std::size_t>(every) == 0) {
      std::this_thread::sleep_for(think);
    }
  }
  out.add(ms, errors);
}

void print(const char* name, const Run& r) {
  fmt::print("{:<10} requests {:>7}  {:>8.1f} req/s  p50 {:>8.1f} ms  p95 {:>8.1f} ms  p99 {:>8.1f} ms  errors {}\n",
             name, r.ms.size(), static_cast<double>(r.ms.size()) / r.seconds, percentile(r.ms, 0.5),
             percentile(r.ms, 0.95), percentile(r.ms, 0.99), r.errors);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load benchmark of voxir serve (loopback only)"};
  int port = 0;
  int clients = 50;
  double seconds = 10;
  double baseline_seconds = 5;
  int server_pid = 0;
  int think_ms = 500;
  std::string body;
  std::string region = "liver";
  app.add_option("--port", port, "Port of a voxir serve on 127.0.0.1")->required();
  app.add_option("--clients", clients, "Concurrent clients")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--seconds", seconds, "Duration of the loaded run")->capture_default_str()->check(CLI::Range(1.0, 3600.0));
  app.add_option("--baseline-seconds", baseline_seconds, "Duration of the one-client run")->capture_default_str();
  app.add_option("--think-ms", think_ms, "Pause of each user after its search")->capture_default_str();
  app.add_option("--region", region, "Region searched with the index's first volume")->capture_default_str();
  app.add_option("--body", body, "JSON body of POST /api/v1/search (default: --region of the first volume)");
  app.add_option("--server-pid", server_pid, "Server process, for its peak RSS");
  CLI11_PARSE(app, argc, argv);

  // The first indexed volume: the one users open and, by default, search with.
  std::string volume;
  {
    httplib::Client c("127.0.0.1", port);
    const auto r = c.Get("/api/v1/volumes?limit=1");
    const std::string key = R"("id":")";
    const auto at = r ? r->body.find(key) : std::string::npos;
    if (!r || r->status != 200 || at == std::string::npos) {
      fmt::print(stderr, "no volumes from http://127.0.0.1:{}/api/v1/volumes\n", port);
      return 2;
    }
    volume = r->body.substr(at + key.size(), r->body.find('"', at + key.size()) - at - key.size());
  }
  if (body.empty()) body = fmt::format(R"({{"volume": "{}", "region": "{}", "exclude_self": true}})", volume, region);
  const std::string open_volume = "/api/v1/volumes/" + volume;
  fmt::print("search: {}\n", body);
  const auto search = [&body](httplib::Client& c) { return c.Post("/api/v1/search", body, "application/json"); };
  const auto timed = [](double s) { return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); };

  Recorder alone;
  const auto t_alone = Clock::now();
  loop(port, timed(baseline_seconds), std::chrono::milliseconds(0), alone, search);
  alone.run.seconds = std::chrono::duration<double>(Clock::now() - t_alone).count();

  Recorder users_rec, probe;
  const auto end = timed(seconds);
  const auto think = std::chrono::milliseconds(think_ms);
  std::vector<std::thread> users;
  const auto t_loaded = Clock::now();
  for (int c = 0; c < clients; ++c) {
    // A user of the page: list volumes, open one, search, read the results (--think-ms).
    users.emplace_back([&] {
      int step = 0;
      loop(
          port, end, think, users_rec,
          [&](httplib::Client& cl) {
            switch (step++ % 3) {
              case 0: return cl.Get("/api/v1/volumes?limit=100");
              case 1: return cl.Get(open_volume);
              default: return search(cl);
            }
          },
          3);
    });
  }
  std::thread prober([&] { loop(port, end, std::chrono::milliseconds(0), probe, search); });
  for (auto& t : users) t.join();
  prober.join();
  const double loaded_seconds = std::chrono::duration<double>(Clock::now() - t_loaded).count();
  users_rec.run.seconds = probe.run.seconds = loaded_seconds;

  print("alone", alone.run);
  print(fmt::format("{} users", clients).c_str(), users_rec.run);
  print("probe", probe.run);
  const double ratio = percentile(probe.run.ms, 0.95) / std::max(1e-9, percentile(alone.run.ms, 0.95));
  fmt::print("search p95 under load / alone: {:.2f}\n", ratio);
  if (server_pid > 0) fmt::print("server peak RSS: {:.0f} MiB\n", peak_rss_mib(server_pid));
  return alone.run.errors + users_rec.run.errors + probe.run.errors == 0 ? 0 : 1;
}
