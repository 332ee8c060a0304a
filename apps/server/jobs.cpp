#include "jobs.h"

#include "errors.h"

#include <fmt/format.h>

namespace voxir::server {

Jobs::Jobs() : worker_([this] { loop(); }) {}

Jobs::~Jobs() {
  std::deque<std::string> dropped;
  {
    std::lock_guard guard(lock_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  wake_.notify_all();
  worker_.join();
  for (const auto& id : dropped) {
    if (jobs_[id].cleanup) jobs_[id].cleanup();
  }
}

std::string Jobs::submit(std::string kind, Work work, Cleanup cleanup) {
  std::string id;
  {
    std::lock_guard guard(lock_);
    id = fmt::format("job-{}", next_++);
    Job& job = jobs_[id];
    job.kind = std::move(kind);
    job.work = std::move(work);
    job.cleanup = std::move(cleanup);
    queue_.push_back(id);
  }
  wake_.notify_all();
  return id;
}

std::optional<nlohmann::ordered_json> Jobs::status(const std::string& id) const {
  std::lock_guard guard(lock_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  const Job& job = it->second;
  nlohmann::ordered_json out = {{"id", id},
                                {"kind", job.kind},
                                {"state", job.state},
                                {"progress", {{"done", job.done}, {"total", job.total}}}};
  if (job.state == "done") out["result"] = job.result;
  if (job.state == "failed") out["error"] = job.error;
  return out;
}

void Jobs::loop() {
  for (;;) {
    std::string id;
    Work work;
    {
      std::unique_lock guard(lock_);
      wake_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left to run
      id = queue_.front();
      queue_.pop_front();
      jobs_[id].state = "running";
      work = std::move(jobs_[id].work);
    }
    const Progress progress = [this, &id](std::int64_t done, std::int64_t total) {
      std::lock_guard guard(lock_);
      jobs_[id].done = done;
      jobs_[id].total = total;
    };
    nlohmann::ordered_json result;
    std::optional<ApiError> failure;
    try {
      result = work(progress);
    } catch (...) {
      failure = api_error_from_current_exception();
    }
    Cleanup cleanup;
    {
      std::lock_guard guard(lock_);
      Job& job = jobs_[id];
      if (failure) {
        job.state = "failed";
        job.error = {{"kind", failure->kind}, {"message", failure->message}};
        cleanup = std::move(job.cleanup);
      } else {
        job.state = "done";
        job.result = std::move(result);
      }
      job.cleanup = nullptr;
    }
    if (cleanup) cleanup();
  }
}

}  // namespace voxir::server
