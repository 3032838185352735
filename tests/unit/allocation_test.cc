// No heap allocation per record on the way from a file's bytes to a sink
// (docs/architecture.md "Allocations"): the clickstream job (key_by page_url,
// 5 s tumbling count, top 10) over a file of JSON lines, with a file sink, at
// parallelism 1 and 2. Global operator new is counted (counting_new.h); the
// allocations a run makes beyond a run over half the records, divided by the
// batches the extra records make, must stay within a small per-batch budget.
// What a run allocates once (threads, plans, buffers, pools) cancels out.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "runner/config/loader.h"
#include "runner/runtime/runtime.h"
#include "tests/unit/counting_new.h"

namespace streamrun {
namespace {

namespace fs = std::filesystem;

constexpr int kPages = 50;
constexpr int kBatch = 1024;

// `n` clicks, 10 per ms of event time (a 5 s window holds 50,000, as the
// benchmark's 100,000 per second of event time gives 500,000), some a little
// out of order. State allocates per key and window (a key's state is freed
// when its last window fires); at this rate that is about one per batch.
void WriteClicks(const fs::path& path, int n) {
  std::ofstream out(path, std::ios::trunc);
  for (int i = 0; i < n; ++i) {
    const long ts = 1700000000000L + i / 10 - (i % 7 == 0 ? 3 : 0);
    out << "{\"user_id\":\"u" << (i * 7919) % 1000 << "\",\"page_url\":\"/page/" << (i * 31) % kPages
        << "\",\"ts\":" << ts << ",\"referrer\":\"https://example.com/\",\"device\":\"web\"}\n";
  }
}

std::unique_ptr<PipelinePlan> Clickstream(const fs::path& input, const fs::path& output) {
  const std::string yaml = "name: alloc\nsources:\n  clicks:\n    type: file\n    path: " + input.string() +
                           "\n    chunk_size: 262144\n"
                           "    event_time: { field: ts, watermark: { max_out_of_orderness: 10ms } }\n"
                           "transforms:\n  top:\n    input: clicks\n    steps:\n"
                           "      - key_by: page_url\n"
                           "      - window: { tumbling: 5s, aggregate: { clicks: count() } }\n"
                           "      - top_n: { n: 10, by: clicks, order: desc }\n"
                           "sinks:\n  out: { input: top, type: file, path: " +
                           output.string() + " }\n";
  config::Diagnostics diags;
  auto root = config::LoadYamlText(
      yaml, "alloc.yaml", [](const std::string&) { return std::nullopt; }, diags);
  REQUIRE(root);
  auto plan = BuildPlan(*root, "alloc.yaml", {}, diags);
  INFO(diags.ToString());
  REQUIRE(plan);
  return plan;
}

// Heap allocations of one run over `records` clicks.
long AllocationsOfRun(const fs::path& dir, int records, int parallelism) {
  const fs::path input = dir / ("clicks-" + std::to_string(records) + ".jsonl");
  if (!fs::exists(input)) WriteClicks(input, records);
  auto plan = Clickstream(input, dir / "top.jsonl");
  RunOptions options;
  options.parallelism = parallelism;
  options.batch_size = kBatch;
  const long before = g_allocations.load();
  Run(*plan, options);
  return g_allocations.load() - before;
}

// `budget`: allocations allowed per batch of 1,024 records.
void CheckBudget(int parallelism, double budget) {
  const fs::path dir = fs::temp_directory_path() /
                       ("streamrun-alloc-" + std::to_string(::getpid()) + "-" + std::to_string(parallelism));
  fs::create_directories(dir);
  constexpr int kHalf = 50000, kFull = 100000;
  AllocationsOfRun(dir, kHalf, parallelism);  // warm-up: pools, caches
  const long half = AllocationsOfRun(dir, kHalf, parallelism);
  const long full = AllocationsOfRun(dir, kFull, parallelism);
  const double batches = static_cast<double>(kFull - kHalf) / kBatch;
  const double per_batch = static_cast<double>(full - half) / batches;
  const double per_record = static_cast<double>(full - half) / (kFull - kHalf);
  std::printf(
      "allocation_test: parallelism %d: %ld allocations for %d clicks, %ld for %d: %.1f per batch of %d "
      "(%.3f per record)\n",
      parallelism, half, kHalf, full, kFull, per_batch, kBatch, per_record);
  // Once per record would be 1,024 per batch.
  CHECK(per_batch <= budget);
  fs::remove_all(dir);
}

// One worker: a window's new key or window now and then.
TEST_CASE("the clickstream job makes no allocation per record, at parallelism 1") { CheckBudget(1, 16); }

// Two workers: besides, a batch's records cross in pooled batches whose
// arenas are borrowed; when more are in flight than the pools keep (a
// receiver that falls behind), a batch or an arena chunk is made anew.
TEST_CASE("the clickstream job makes no allocation per record, at parallelism 2") { CheckBudget(2, 32); }

}  // namespace
}  // namespace streamrun
