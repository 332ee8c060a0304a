// Background jobs of the server (adding and removing volumes): one worker runs them in order, so
// the server's own index writes never race each other, while searches go on being served from the
// generation that is live.
#pragma once

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace voxir::server {

class Jobs {
 public:
  // A job's work reports progress through this (done, total) and returns its result.
  using Progress = std::function<void(std::int64_t done, std::int64_t total)>;
  using Work = std::function<nlohmann::ordered_json(const Progress&)>;
  // Runs when a job is dropped unrun at shutdown (to remove what it staged).
  using Cleanup = std::function<void()>;

  Jobs();
  // Finishes the running job; queued ones are dropped (their Cleanup runs).
  ~Jobs();
  Jobs(const Jobs&) = delete;
  Jobs& operator=(const Jobs&) = delete;

  // Queues `work`; returns the job's id.
  std::string submit(std::string kind, Work work, Cleanup cleanup = {});
  // {"id", "kind", "state": queued|running|done|failed, "progress": {done, total}, "result" |
  // "error": {kind, message}}; nullopt for an unknown id.
  [[nodiscard]] std::optional<nlohmann::ordered_json> status(const std::string& id) const;

 private:
  struct Job {
    std::string kind;
    std::string state = "queued";
    std::int64_t done = 0, total = 0;
    nlohmann::ordered_json result;
    nlohmann::ordered_json error;
    Work work;
    Cleanup cleanup;
  };
  void loop();

  mutable std::mutex lock_;
  std::condition_variable wake_;
  std::map<std::string, Job> jobs_;
  std::deque<std::string> queue_;
  std::uint64_t next_ = 1;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace voxir::server
