#pragma once
// Processing time, in epoch milliseconds.
#include <chrono>
#include <cstdint>

namespace streamrun {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace streamrun
