#pragma once
// RunScope (operator.h OperatorContext::scope), in a header of its own so that
// the mutex stays out of every operator's includes.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace streamrun {

// Objects one run shares across operators, by name (the Kafka sinks of a
// worker that share one transaction): made on first use, destroyed after every
// instance of the run. A run has its own, so nothing is shared between runs
// (`streamrun test` runs many in one process). Safe from any worker's thread.
class RunScope {
 public:
  // The object named `name`, made by make() the first time anyone asks.
  template <typename T, typename Make>
  std::shared_ptr<T> Get(const std::string& name, Make&& make) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = objects_[name];
    if (!slot) slot = std::shared_ptr<T>(make());
    return std::static_pointer_cast<T>(slot);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<void>> objects_;
};

// A task of a job of several processes (runner/job) is one run: its source
// says here whether its input is idle (no partition holds event time back),
// and the repartition sink tells the tasks downstream, which then leave it out
// of their watermark, as one process leaves an idle worker out.
inline constexpr const char* kInputIdle = "input idle";
struct InputIdle {
  std::atomic<bool> idle{false};
};

}  // namespace streamrun
