// The clickstream top 10 written by hand, with no framework: the yardstick for
// streamrun's figure on the same job (bench/run.sh prints the ratio).
// Same input as bench/nexmark/clickstream.yaml: the clicks generator's JSON
// text, event time `ts`, watermark = highest ts - 0 s; per 5 s tumbling window
// the count per page_url, the 10 largest (ties by page) when the watermark
// passes the window's end. Single-threaded; one hash map per open window.
// Usage: clickstream_baseline EVENTS EVENTS_PER_EVENT_TIME_SECOND
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "runner/generate/generators.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: clickstream_baseline EVENTS EVENTS_PER_EVENT_TIME_SECOND\n");
    return 2;
  }
  streamrun::generate::Options options;
  options.kind = "clicks";
  options.count = std::atoll(argv[1]);
  options.events_per_second = std::atof(argv[2]);
  std::string error;
  auto generator = streamrun::generate::Make(options, &error);
  if (!generator) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 2;
  }
  constexpr int64_t kWindowMs = 5000;
  const auto start = std::chrono::steady_clock::now();
  simdjson::ondemand::parser parser;
  std::map<int64_t, std::unordered_map<std::string, int64_t>> windows;  // window start -> counts
  std::string line;
  int64_t t = 0, watermark = INT64_MIN, events = 0, rows = 0, checksum = 0;
  std::vector<std::pair<int64_t, const std::string*>> order;
  auto fire_until = [&](int64_t w) {
    while (!windows.empty() && windows.begin()->first + kWindowMs <= w) {
      auto& counts = windows.begin()->second;
      order.clear();
      for (const auto& [page, n] : counts) order.emplace_back(n, &page);
      size_t k = std::min<size_t>(10, order.size());
      std::partial_sort(order.begin(), order.begin() + static_cast<long>(k), order.end(),
                        [](const auto& a, const auto& b) {
                          return a.first != b.first ? a.first > b.first : *a.second < *b.second;
                        });
      for (size_t i = 0; i < k; ++i) checksum += order[i].first * static_cast<int64_t>(i + 1);
      rows += static_cast<int64_t>(k);
      windows.erase(windows.begin());
    }
  };
  while (true) {
    line.clear();
    if (!generator->Next(&line, &t)) break;
    line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    simdjson::ondemand::document doc = parser.iterate(line.data(), line.size(), line.capacity());
    std::string_view page;
    int64_t ts = 0;
    for (auto field : doc.get_object()) {
      std::string_view key = field.unescaped_key();
      if (key == "page_url") {
        if (field.value().get_string().get(page)) page = {};
      } else if (key == "ts") {
        ts = field.value().get_int64();
      }
    }
    ++events;
    if (ts < watermark) continue;  // late (none with in-order input)
    int64_t window = ts - ((ts % kWindowMs) + kWindowMs) % kWindowMs;
    ++windows[window][std::string(page)];
    if (ts > watermark) {
      watermark = ts;
      fire_until(watermark);
    }
  }
  fire_until(INT64_MAX);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("clickstream_baseline: %lld events in %.3f s (%.0f events/s), %lld rows (checksum %lld)\n",
              static_cast<long long>(events), seconds, static_cast<double>(events) / seconds,
              static_cast<long long>(rows), static_cast<long long>(checksum));
  return 0;
}
