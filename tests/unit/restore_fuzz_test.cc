// Checkpoint restore over mutated worker states (docs/trust-and-limits.md): a
// real checkpoint of a pipeline with every stateful step (a sliding window with
// collect/first/sum, dedupe holding records, top_n, an exactly-once file
// sink) is mutated at random (bits flipped, bytes cut, inserted or spliced),
// its manifest checksums forged to match so the bytes reach every reader, and
// restored. Each restore must end in a clean run or a RunError: never a crash,
// a hang or an allocation the state's size does not justify. The seed is
// printed on failure (STREAMRUN_FUZZ_SEED repeats it; STREAMRUN_FUZZ_RUNS sets
// how many mutations, default 300).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "runner/config/loader.h"
#include "runner/record/checksum.h"
#include "runner/runtime/runtime.h"

namespace streamrun {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::unique_ptr<PipelinePlan> Plan(const std::string& yaml) {
  config::Diagnostics diags;
  auto root = config::LoadYamlText(
      yaml, "fuzz.yaml", [](const std::string&) { return std::nullopt; }, diags);
  REQUIRE(root);
  auto plan = BuildPlan(*root, "fuzz.yaml", {}, diags);
  INFO(diags.ToString());
  REQUIRE(plan);
  return plan;
}

std::string Mutate(std::string s, std::mt19937_64& rng) {
  if (s.empty()) return s;
  std::uniform_int_distribution<size_t> at(0, s.size() - 1);
  switch (rng() % 5) {
    case 0:  // flip bits
      for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k)
        s[at(rng)] ^= static_cast<char>(1 << (rng() % 8));
      break;
    case 1:  // cut the end
      s.resize(at(rng));
      break;
    case 2:  // insert bytes
      s.insert(at(rng), std::string(1 + rng() % 8, static_cast<char>(rng())));
      break;
    case 3: {  // a huge varint where a count may be
      const std::string huge = "\xff\xff\xff\xff\xff\xff\xff\xff\x7f";
      s.replace(at(rng), std::min<size_t>(huge.size(), s.size()), huge);
      break;
    }
    default: {  // splice a copy of one part over another
      const size_t from = at(rng), to = at(rng), n = 1 + rng() % 32;
      s.replace(to, std::min(n, s.size() - to), s.substr(from, n));
    }
  }
  return s;
}

TEST_CASE("restores of mutated worker states end cleanly or with a RunError") {
  const fs::path dir = fs::temp_directory_path() / ("streamrun-restore-fuzz-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream in(dir / "in.jsonl");
    for (int i = 0; i < 400; ++i)
      in << "{\"k\":\"k" << i % 7 << "\",\"ts\":" << 1000 + i * 137 % 9000 + i * 50
         << ",\"v\":" << (i % 11) * 1.25 << ",\"s\":\"s" << i % 13 << "\"}\n";
  }
  const std::string yaml =
      "name: fuzz\n"
      "runtime: { checkpoint: { storage: 'file://" +
      (dir / "ckpt").string() +
      "' } }\n"
      "sources:\n  in: { type: file, path: '" +
      (dir / "in.jsonl").string() +
      "', event_time: { field: ts, watermark: { max_out_of_orderness: 3s } } }\n"
      "transforms:\n"
      "  w:\n    input: in\n    steps:\n"
      "      - dedupe: { key: s, within: 1s }\n"
      "      - key_by: k\n"
      "      - window: { sliding: 4s, slide: 2s, allowed_lateness: 1s, aggregate: { n: count(), all: "
      "collect(s), "
      "f: first(v), t: sum(v) } }\n"
      "      - top_n: { n: 3, by: t }\n"
      "sinks:\n  out: { type: file, path: '" +
      (dir / "out" / "o.jsonl").string() + "', input: w }\n";
  auto plan = Plan(yaml);
  // A checkpoint halfway, ended as a crash would.
  RunOptions first;
  first.parallelism = 2;
  first.batch_size = 1;
  first.checkpoint_after_records = 200;
  first.crash_after_checkpoint = true;
  CHECK_THROWS_AS(Run(*plan, first), RunError);
  fs::path chk;
  for (const auto& e : fs::directory_iterator(dir / "ckpt" / "fuzz"))
    if (e.path().filename().string().rfind("chk-", 0) == 0) chk = e.path();
  REQUIRE(!chk.empty());
  const std::string manifest = ReadAll(chk / "_manifest.json");
  std::vector<std::string> states;
  for (int w = 0; w < 2; ++w) states.push_back(ReadAll(chk / ("worker-" + std::to_string(w) + ".state")));
  const fs::path out_dir = dir / "out";
  const std::string output = ReadAll(out_dir / "o.jsonl");
  // Restores from the folder, writing no checkpoints of their own.
  std::string no_checkpoints = yaml;
  no_checkpoints.replace(no_checkpoints.find("runtime:"),
                         no_checkpoints.find("sources:") - no_checkpoints.find("runtime:"), "");
  auto restore_plan = Plan(no_checkpoints);

  const uint64_t seed = std::getenv("STREAMRUN_FUZZ_SEED")
                            ? std::strtoull(std::getenv("STREAMRUN_FUZZ_SEED"), nullptr, 10)
                            : std::random_device{}();
  const int runs = std::getenv("STREAMRUN_FUZZ_RUNS") ? std::atoi(std::getenv("STREAMRUN_FUZZ_RUNS")) : 300;
  INFO("seed " << seed << " (STREAMRUN_FUZZ_SEED=" << seed << " repeats it)");
  std::mt19937_64 rng(seed);
  int clean = 0, refused = 0;
  for (int i = 0; i < runs; ++i) {
    // The pristine checkpoint and output, one worker state mutated, checksums forged.
    const int w = static_cast<int>(rng() % 2);
    std::vector<std::string> mutated = states;
    mutated[w] = Mutate(mutated[w], rng);
    auto m = nlohmann::json::parse(manifest);
    m["files"][w]["bytes"] = mutated[w].size();
    m["files"][w]["crc32"] = Crc32(mutated[w]);
    WriteAll(chk / "_manifest.json", m.dump());
    for (int k = 0; k < 2; ++k) WriteAll(chk / ("worker-" + std::to_string(k) + ".state"), mutated[k]);
    fs::remove_all(out_dir);
    fs::create_directories(out_dir);
    WriteAll(out_dir / "o.jsonl", output);
    RunOptions again;
    again.parallelism = 1 + static_cast<int>(rng() % 3);
    again.restore_from = chk.string();
    try {
      Run(*restore_plan, again);
      ++clean;
    } catch (const RunError&) {
      ++refused;
    }
  }
  MESSAGE(runs << " mutated restores: " << clean << " ran, " << refused << " refused");
  CHECK(clean + refused == runs);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace streamrun
