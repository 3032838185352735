// `streamrun test DIR` (docs/commands.md): golden pipeline cases.
//
// A case folder holds pipeline.yaml, input.<source>.jsonl (or .csv, or .txt for
// raw lines) for each source it replaces, expected.<sink>.jsonl for each sink it
// checks, and optionally case.yaml:
//   ordered: true          compare rows in order (default: as a multiset)
//   expect_exit: 2         0 (default), 1 (run failure) or 2 (configuration error)
//   expect_error: [..]     substrings the error output must contain
//   env: {NAME: value}     environment for ${NAME} in the pipeline
//   parallelism: 1         run only at this parallelism, whatever --parallelism says
//   restore_midway: false  --restore-midway runs it without the interruption
// With --file-chunk-size N the input files are read in chunks of N bytes, every
// worker reading some at parallelism > 1 (the file source's chunk_size).
// Every sink is captured in memory, so a case never writes files.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runner/cli/commands.h"
#include "runner/cli/pipeline_file.h"
#include "runner/config/scalars.h"
#include "runner/log/log.h"
#include "runner/runtime/runtime.h"

namespace streamrun::cli {

namespace fs = std::filesystem;
using config::ConfNode;

namespace {

// Collects a sink's records as JSON lines.
class CaptureSinkInstance : public SinkInstance {
 public:
  explicit CaptureSinkInstance(std::vector<std::string>* rows) : rows_(rows) {}
  void Write(const Batch& batch, const RecordView& view, RecordErrors&) override {
    for (uint32_t i = 0; i < batch.size(); ++i) {
      std::string line;
      if (view.modified())
        EncodeJson(view, batch.row(i), batch.raw(i), &line);
      else
        line.assign(batch.raw(i));
      Out().push_back(std::move(line));
    }
  }
  void WriteEncoded(const std::vector<std::string>& records) override {
    Out().insert(Out().end(), records.begin(), records.end());
  }
  // Exactly once (--restore-midway): rows count once a checkpoint covering them completes.
  void BeginExactlyOnce(const std::vector<std::string>&) override { exactly_once_ = true; }
  std::string PreCommit(int64_t id) override {
    prepared_.emplace_back(id, std::move(pending_));
    pending_.clear();
    return {};
  }
  void Commit(int64_t id) override {
    size_t done = 0;
    for (; done < prepared_.size() && prepared_[done].first <= id; ++done)
      rows_->insert(rows_->end(), prepared_[done].second.begin(), prepared_[done].second.end());
    prepared_.erase(prepared_.begin(), prepared_.begin() + static_cast<std::ptrdiff_t>(done));
  }

 private:
  std::vector<std::string>& Out() { return exactly_once_ ? pending_ : *rows_; }
  std::vector<std::string>* rows_;
  bool exactly_once_ = false;
  std::vector<std::string> pending_;
  std::vector<std::pair<int64_t, std::vector<std::string>>> prepared_;
};

class CaptureSinkPlan : public SinkPlan {
 public:
  explicit CaptureSinkPlan(std::vector<std::string>* rows) : rows_(rows) {}
  std::unique_ptr<SinkInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<CaptureSinkInstance>(rows_);
  }
  std::string Describe() const override { return "capture (test)"; }

 private:
  std::vector<std::string>* rows_;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadLines(const fs::path& p) {
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(p));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    lines.push_back(line);
  }
  return lines;
}

// Canonical text of a JSON row: keys sorted, numbers keep int vs float.
std::string Canonical(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) return "<not JSON> " + line;
  return j.dump();
}

ConfNode Scalar(const std::string& text, const config::Mark& mark) {
  ConfNode n;
  n.type = ConfNode::Type::kScalar;
  n.scalar = text;
  n.mark = mark;
  n.text_column = mark.column;
  return n;
}

struct CaseConfig {
  bool ordered = false;
  int parallelism =
      0;  // only at this parallelism (a case whose result may differ at others, docs/time-and-windows.md)
  // false: --restore-midway runs it plainly (its result depends on how records of
  // several sources interleave, which reading one record per batch changes).
  bool restore_midway = true;
  int expect_exit = 0;
  std::vector<std::string> expect_error;
  std::map<std::string, std::string> env;
};

bool ReadCaseConfig(const fs::path& dir, CaseConfig* c, std::string* problem) {
  fs::path p = dir / "case.yaml";
  if (!fs::exists(p)) return true;
  config::Diagnostics diags;
  auto root = config::LoadYamlFile(
      p.string(), [](const std::string&) { return std::nullopt; }, diags);
  if (!root || !diags.empty()) {
    *problem = diags.ToString();
    return false;
  }
  for (const auto& [k, v] : root->entries) {
    if (k.scalar == "ordered")
      c->ordered = config::ParseBool(v.scalar).value_or(false);
    else if (k.scalar == "expect_exit")
      c->expect_exit = std::atoi(v.scalar.c_str());
    else if (k.scalar == "restore_midway")
      c->restore_midway = config::ParseBool(v.scalar).value_or(true);
    else if (k.scalar == "parallelism")
      c->parallelism = std::atoi(v.scalar.c_str());
    else if (k.scalar == "expect_error") {
      if (v.IsScalar()) c->expect_error.push_back(v.scalar);
      for (const auto& i : v.items) c->expect_error.push_back(i.scalar);
    } else if (k.scalar == "env") {
      for (const auto& [ek, ev] : v.entries) c->env[ek.scalar] = ev.scalar;
    } else if (k.scalar == "description") {
    } else {
      *problem = p.string() + ":" + std::to_string(k.mark.line) + ": unknown key '" + k.scalar +
                 "' (ordered, parallelism, restore_midway, expect_exit, expect_error, env, description)";
      return false;
    }
  }
  return true;
}

// Points each replaced source at its input file.
bool ReplaceSources(ConfNode& root, const fs::path& dir, int64_t chunk_size, std::string* problem) {
  ConfNode* sources = nullptr;
  for (auto& [k, v] : root.entries)
    if (k.scalar == "sources") sources = &v;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string file = entry.path().filename().string();
    if (file.rfind("input.", 0) != 0) continue;
    std::string rest = file.substr(6);
    size_t dot = rest.rfind('.');
    if (dot == std::string::npos) continue;
    std::string source = rest.substr(0, dot), ext = rest.substr(dot + 1);
    std::string format = ext == "jsonl"  ? "json"
                         : ext == "csv"  ? "csv"
                         : ext == "txt"  ? "raw"
                         : ext == "pb"   ? "protobuf"
                         : ext == "avro" ? "avro"
                                         : "";
    if (format.empty()) {
      *problem = file + ": input files end in .jsonl, .csv, .txt, .pb or .avro";
      return false;
    }
    ConfNode* node = nullptr;
    if (sources)
      for (auto& [k, v] : sources->entries)
        if (k.scalar == source) node = &v;
    if (!node) {
      *problem = file + ": the pipeline has no source '" + source + "'";
      return false;
    }
    ConfNode replaced;
    replaced.type = ConfNode::Type::kMap;
    replaced.mark = node->mark;
    replaced.entries.emplace_back(Scalar("type", node->mark), Scalar("file", node->mark));
    // Relative: cases run inside their folder, so positions in errors are stable.
    replaced.entries.emplace_back(Scalar("path", node->mark), Scalar(file, node->mark));
    replaced.entries.emplace_back(Scalar("format", node->mark), Scalar(format, node->mark));
    if (chunk_size > 0)
      replaced.entries.emplace_back(Scalar("chunk_size", node->mark),
                                    Scalar(std::to_string(chunk_size), node->mark));
    if (node->IsMap())
      for (const auto& [k, v] : node->entries)
        if (k.scalar == "event_time" || k.scalar == "max_record_size" ||
            ((k.scalar == "schema" || k.scalar == "message" || k.scalar == "writer_schema") &&
             (format == "protobuf" || format == "avro")))
          replaced.entries.emplace_back(k, v);
    *node = std::move(replaced);
  }
  return true;
}

struct CaseResult {
  bool passed = true;
  bool restored = false;  // --restore-midway: ended at a checkpoint halfway and restored
  std::string report;
};

void Fail(CaseResult& r, const std::string& text) {
  r.passed = false;
  r.report += text;
  if (!text.empty() && text.back() != '\n') r.report += "\n";
}

void CompareRows(const std::string& sink, const std::vector<std::string>& expected_lines,
                 const std::vector<std::string>& actual_lines, bool ordered, CaseResult& r) {
  std::vector<std::string> expected, actual;
  for (const auto& l : expected_lines) expected.push_back(Canonical(l));
  for (const auto& l : actual_lines) actual.push_back(Canonical(l));
  if (ordered) {
    if (expected == actual) return;
    std::string diff = "  sink '" + sink + "' (ordered): rows differ\n";
    size_t n = std::max(expected.size(), actual.size());
    for (size_t i = 0; i < n; ++i) {
      const std::string* e = i < expected.size() ? &expected[i] : nullptr;
      const std::string* a = i < actual.size() ? &actual[i] : nullptr;
      if (e && a && *e == *a) continue;
      diff += "    row " + std::to_string(i + 1) + ":\n";
      if (e) diff += "      - " + *e + "\n";
      if (a) diff += "      + " + *a + "\n";
    }
    Fail(r, diff);
    return;
  }
  std::map<std::string, int> counts;
  for (const auto& e : expected) ++counts[e];
  for (const auto& a : actual) --counts[a];
  std::string missing, unexpected;
  for (const auto& [row, c] : counts) {
    for (int k = 0; k < c; ++k) missing += "      - " + row + "\n";
    for (int k = 0; k < -c; ++k) unexpected += "      + " + row + "\n";
  }
  if (missing.empty() && unexpected.empty()) return;
  std::string diff = "  sink '" + sink + "': " + std::to_string(actual.size()) + " rows, expected " +
                     std::to_string(expected.size()) + "\n";
  if (!missing.empty()) diff += "    expected but not produced:\n" + missing;
  if (!unexpected.empty()) diff += "    produced but not expected:\n" + unexpected;
  Fail(r, diff);
}

// Runs inside the case folder (restoring the working directory after), so a
// case's relative paths and the positions in its errors do not depend on where
// the tests run from.
class InDirectory {
 public:
  explicit InDirectory(const fs::path& dir) : previous_(fs::current_path()) { fs::current_path(dir); }
  ~InDirectory() { fs::current_path(previous_); }

 private:
  fs::path previous_;
};

// Records in a file of length-prefixed binary records.
int64_t DelimitedRecords(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int64_t n = 0;
  size_t p = 0;
  while (p < bytes.size()) {
    uint64_t len = 0;
    int shift = 0;
    while (p < bytes.size() && shift < 70) {
      const auto b = static_cast<uint8_t>(bytes[p++]);
      len |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    p += len;
    ++n;
  }
  return n;
}

// Records in the case's input files (lines), for --restore-midway.
int64_t InputRecords(const fs::path& dir) {
  int64_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("input.", 0) != 0) continue;
    if (name.size() > 3 &&
        (name.substr(name.size() - 3) == ".pb" || name.substr(name.size() - 5) == ".avro")) {
      n += DelimitedRecords(entry.path());
      continue;
    }
    for (const auto& line : ReadLines(entry.path())) n += !line.empty();
  }
  return n;
}

CaseResult RunCase(const fs::path& case_dir, const TestArgs& args) {
  const int parallelism = args.parallelism;
  const bool restore_midway = args.restore_midway;
  const std::string& state = args.state_backend;
  CaseResult r;
  const fs::path dir = fs::absolute(case_dir);
  InDirectory in_case(dir);
  CaseConfig cc;
  std::string problem;
  if (!ReadCaseConfig(dir, &cc, &problem)) {
    Fail(r, "  bad case.yaml: " + problem);
    return r;
  }
  config::EnvLookup env = [&cc](const std::string& name) -> std::optional<std::string> {
    if (auto it = cc.env.find(name); it != cc.env.end()) return it->second;
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
  std::string pipeline = "pipeline.yaml";
  config::Diagnostics diags;
  auto root = config::LoadYamlFile(pipeline, env, diags);
  std::map<std::string, std::vector<std::string>> captured;
  int exit_code = 0;
  std::string error_text;
  std::unique_ptr<PipelinePlan> plan;
  if (root) {
    RegisterSecrets(*root);
    LoadListedPlugins(*root, pipeline, diags);
  }
  if (root && ReplaceSources(*root, dir, args.file_chunk_size, &problem)) {
    PlanOptions options;
    options.sink_override = [&captured](const std::string& sink) {
      return std::make_unique<CaptureSinkPlan>(&captured[sink]);
    };
    config::Diagnostics plan_diags;
    plan = BuildPlan(*root, pipeline, options, plan_diags);
    diags.Append(plan_diags);
  } else if (!problem.empty()) {
    Fail(r, "  " + problem);
    return r;
  }
  if (!diags.empty() || !plan) {
    exit_code = kExitConfigError;
    error_text = diags.ToString();
  } else {
    log::SetPipeline(plan->name);
    RunOptions options;
    options.parallelism = cc.parallelism > 0 ? cc.parallelism : parallelism;
    static int serial = 0;
    const std::string run_name =
        "streamrun-test-" + std::to_string(::getpid()) + "-" + std::to_string(++serial);
    fs::path state_dir;
    if (!state.empty()) {
      options.state_backend = state;
      // No hot keys: every key is encoded after each use and decoded again.
      plan->state_cache_bytes = 0;
      if (state == "rocksdb") {
        state_dir = fs::temp_directory_path() / (run_name + "-state");
        options.state_path = state_dir.string();
      }
    }
    const int64_t records =
        restore_midway && cc.restore_midway && cc.expect_exit == 0 ? InputRecords(dir) : 0;
    fs::path checkpoints;
    if (records >= 2) {
      // Checkpoint once half the input is read (one record per batch), end the
      // run there as a crash would, then restore and finish: the committed
      // rows of both runs must be the expected ones.
      checkpoints = fs::temp_directory_path() / run_name;
      fs::remove_all(checkpoints);
      plan->checkpoint.storage = "file://" + checkpoints.string();
      plan->checkpoint.interval_ms = 3600 * 1000;
      plan->checkpoint.exactly_once = true;
      RunOptions first = options;
      first.batch_size = 1;
      first.checkpoint_after_records = records / 2;
      first.crash_after_checkpoint = true;
      try {
        Run(*plan, first);  // finishes if the checkpoint never came (sources read in one go)
      } catch (const RunError& e) {
        if (std::string(e.what()).rfind("simulated crash", 0) != 0) {
          exit_code = ExitStatusOf(e);
          error_text = DescribeRunError(e);
        } else {
          r.restored = true;
        }
      }
    }
    if (checkpoints.empty() && plan->checkpoint.enabled()) {
      // A pipeline with checkpoints of its own (pipelines/fraud.yaml) keeps
      // them in a fresh folder: a case never restores what an earlier run
      // left, and leaves nothing in its folder.
      checkpoints = fs::temp_directory_path() / run_name;
      fs::remove_all(checkpoints);
      plan->checkpoint.storage = "file://" + checkpoints.string();
      plan->checkpoint.endpoint.clear();
    }
    if (exit_code == 0) {
      try {
        Run(*plan, options);
      } catch (const RunError& e) {
        exit_code = ExitStatusOf(e);
        error_text = DescribeRunError(e);
      }
    }
    if (!checkpoints.empty()) fs::remove_all(checkpoints);
    if (!state_dir.empty()) fs::remove_all(state_dir);
  }
  if (exit_code != cc.expect_exit) {
    Fail(r, "  exit status " + std::to_string(exit_code) + ", expected " + std::to_string(cc.expect_exit));
    if (!error_text.empty()) Fail(r, "  error output:\n    " + error_text);
  }
  for (const auto& want : cc.expect_error) {
    if (error_text.find(want) == std::string::npos)
      Fail(r, "  error output does not contain \"" + want + "\"; it was:\n    " +
                  (error_text.empty() ? "(nothing)" : error_text));
  }
  if (args.update) {
    // Every sink's rows as this run produced them; a failed run writes nothing.
    if (!r.passed || !plan || exit_code != 0) return r;
    for (const auto& n : plan->nodes) {
      if (n.kind != PlanNode::Kind::kSink) continue;
      std::ofstream out(dir / ("expected." + n.name + ".jsonl"), std::ios::binary | std::ios::trunc);
      for (const auto& row : captured[n.name]) out << row << '\n';
      if (!out) Fail(r, "  cannot write expected." + n.name + ".jsonl");
    }
    return r;
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string file = entry.path().filename().string();
    const std::string prefix = "expected.", suffix = ".jsonl";
    if (file.rfind(prefix, 0) != 0 || file.size() <= prefix.size() + suffix.size() ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string sink = file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
    if (plan && plan->FindNode(sink) < 0) {
      Fail(r, "  " + file + ": the pipeline has no sink '" + sink + "'");
      continue;
    }
    CompareRows(sink, ReadLines(entry.path()), captured[sink], cc.ordered, r);
  }
  return r;
}

}  // namespace

int TestCommand(const TestArgs& args) {
  const std::string& dir = args.dir;
  const std::string& filter = args.filter;
  std::vector<fs::path> cases;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    std::fprintf(stderr, "streamrun test: '%s' is not a directory\n", dir.c_str());
    return kExitConfigError;
  }
  if (fs::exists(fs::path(dir) / "pipeline.yaml")) cases.push_back(dir);
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_directory() && fs::exists(e.path() / "pipeline.yaml")) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  int passed = 0, failed = 0, restored = 0;
  for (const auto& c : cases) {
    std::string name = fs::relative(c, dir).string();
    if (name == ".") name = c.filename().string();
    if (!filter.empty() && name.find(filter) == std::string::npos) continue;
    CaseResult r = RunCase(c, args);
    restored += r.restored;
    if (r.passed) {
      ++passed;
      if (args.verbose) std::printf("%s %s\n", args.update ? "WROTE" : "PASS", name.c_str());
    } else {
      ++failed;
      std::printf("FAIL %s\n%s", name.c_str(), r.report.c_str());
    }
  }
  if (args.restore_midway)
    std::printf("%d passed, %d failed (%d of them ended at a checkpoint halfway and restored)\n", passed,
                failed, restored);
  else
    std::printf("%d passed, %d failed\n", passed, failed);
  if (passed + failed == 0) {
    std::fprintf(stderr, "streamrun test: no case folder (with pipeline.yaml) under %s\n", dir.c_str());
    return kExitRunFailure;
  }
  return failed == 0 ? kExitOk : kExitRunFailure;
}

}  // namespace streamrun::cli
