#pragma once
// Durations (`250ms`, `5s`, `30m`, `1h`, `1d`, and sums such as `1h30m`) and rates
// (`2000/s`, `100/ms`, `5/m`) and sizes (`256MB`) as written in pipeline files.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace streamrun::config {

// Milliseconds; nullopt when `text` is not a duration. "0" is accepted as 0.
std::optional<int64_t> ParseDurationMs(std::string_view text);
// Events per second; nullopt when `text` is not a rate.
std::optional<double> ParseRatePerSecond(std::string_view text);
// Bytes: "256MB", "2GB", "64MiB", "512KB", "1048576" (KB/MB/GB are powers of
// 1024, as memory is measured); nullopt when `text` is not a size.
std::optional<uint64_t> ParseByteSize(std::string_view text);
// 5000 -> "5s", 90000 -> "1m30s", 250 -> "250ms".
std::string FormatDurationMs(int64_t ms);

}  // namespace streamrun::config
