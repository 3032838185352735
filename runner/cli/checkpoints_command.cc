// `streamrun checkpoints list|inspect PIPELINE [ID|FOLDER]`: the pipeline's
// complete checkpoints in its runtime.checkpoint.storage (docs/commands.md).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "runner/checkpoint/checkpoints.h"
#include "runner/cli/commands.h"
#include "runner/cli/pipeline_file.h"
#include "runner/job/member.h"
#include "runner/runtime/runtime.h"

namespace streamrun::cli {

namespace {

std::string Field(const nlohmann::json& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return "?";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void PrintInspect(const PipelinePlan& plan, const checkpoint::Loaded& c) {
  const auto m = nlohmann::json::parse(c.manifest_json);
  std::printf("checkpoint %lld of pipeline '%s' (%s, %s), %s workers, %s bytes\n  at %s\n",
              static_cast<long long>(c.id), Field(m, "pipeline").c_str(), Field(m, "kind").c_str(),
              Field(m, "mode").c_str(), Field(m, "workers").c_str(), Field(m, "bytes").c_str(),
              c.location.c_str());
  if (m.contains("sources")) {
    for (const auto& [source, positions] : m["sources"].items()) {
      std::printf("source %s:\n", source.c_str());
      for (const auto& [partition, text] : positions.items())
        std::printf("  %-32s %s\n", partition.c_str(), text.get<std::string>().c_str());
    }
  }
  if (m.contains("watermarks")) {
    std::printf("watermarks:\n");
    for (const auto& [node, w] : m["watermarks"].items())
      std::printf("  %-32s %s\n", node.c_str(), w.is_null() ? "none yet" : w.dump().c_str());
  }
  if (m.contains("state_files")) {
    const auto& f = m["state_files"];
    std::printf("rocksdb state: %s files, %s bytes (%zu shared with other checkpoints)\n",
                Field(f, "files").c_str(), Field(f, "bytes").c_str(),
                m.contains("shared") ? m["shared"].size() : size_t{0});
  }
  // What the sinks hold, as things are now (a pending file the commit has
  // since published is no longer held back); the manifest's text is as it was
  // when the checkpoint was taken.
  for (const auto& [sink, texts] : DescribeSinkStates(plan, c.workers)) {
    std::printf("sink %s, what the checkpoint holds until it commits:\n", sink.c_str());
    for (const auto& text : texts) std::printf("  %s\n", text.c_str());
  }
  if (m.contains("operators")) {
    for (const auto& op : m["operators"]) {
      std::printf("state of %s step %s (%s): %s bytes in %zu key groups\n", Field(op, "node").c_str(),
                  Field(op, "step").c_str(), Field(op, "name").c_str(), Field(op, "bytes").c_str(),
                  op.contains("key_groups") ? op["key_groups"].size() : size_t{0});
      if (op.contains("key_groups"))
        for (const auto& [group, bytes] : op["key_groups"].items())
          std::printf("  key group %-4s %s bytes\n", group.c_str(), bytes.dump().c_str());
    }
  }
}

// The plan's checkpoint store; null, with the reason printed, if it has none
// or it cannot be opened.
std::unique_ptr<checkpoint::Checkpoints> OpenCheckpoints(const PipelinePlan& plan, const char* command) {
  const CheckpointConfig& config = plan.checkpoint;
  if (!config.enabled()) {
    std::fprintf(stderr, "streamrun %s: pipeline '%s' has no runtime.checkpoint.storage\n", command,
                 plan.name.c_str());
    return nullptr;
  }
  std::string error;
  auto store = checkpoint::OpenStore(
      checkpoint::StoreConfig{config.storage, config.endpoint, config.region, config.path_style}, &error);
  if (!store) {
    std::fprintf(stderr, "streamrun %s: %s\n", command, error.c_str());
    return nullptr;
  }
  return std::make_unique<checkpoint::Checkpoints>(std::move(store), plan.CheckpointName());
}

}  // namespace

int CheckpointsCommand(const std::string& action, const std::string& pipeline, const std::string& which) {
  auto loaded = LoadPipeline(pipeline, config::ProcessEnv(), {});
  if (!loaded.plan) {
    std::fprintf(stderr, "%s", loaded.diags.ToString().c_str());
    return kExitConfigError;
  }
  try {
    // A folder given by path needs no storage.
    if (action == "inspect" && !which.empty() && which.find_first_not_of("0123456789") != std::string::npos) {
      PrintInspect(*loaded.plan, checkpoint::LoadFolder(which));
      return kExitOk;
    }
    auto checkpoints = OpenCheckpoints(*loaded.plan, "checkpoints");
    if (!checkpoints) return kExitConfigError;
    const auto ids = checkpoints->Complete();
    if (action == "list") {
      if (ids.empty())
        std::printf("no complete checkpoint of '%s' in %s\n", loaded.plan->name.c_str(),
                    loaded.plan->checkpoint.storage.c_str());
      for (int64_t id : ids) {  // the manifests only, not the states
        const auto m = nlohmann::json::parse(checkpoints->Manifest(id).value_or("{}"));
        std::printf("%-6lld %-10s created_ms %s  %s workers  %10s bytes  %s\n", static_cast<long long>(id),
                    Field(m, "kind").c_str(), Field(m, "created_ms").c_str(), Field(m, "workers").c_str(),
                    Field(m, "bytes").c_str(), checkpoints->Location(id).c_str());
      }
      return kExitOk;
    }
    if (ids.empty()) {
      std::fprintf(stderr, "streamrun checkpoints: no complete checkpoint of '%s'\n",
                   loaded.plan->name.c_str());
      return kExitRunFailure;
    }
    PrintInspect(*loaded.plan, checkpoints->Load(which.empty() ? ids.back() : std::stoll(which)));
    return kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streamrun checkpoints: %s\n", e.what());
    return kExitRunFailure;
  }
}

int StatusCommand(const std::string& pipeline) {
  auto loaded = LoadPipeline(pipeline, config::ProcessEnv(), {});
  if (!loaded.plan) {
    std::fprintf(stderr, "%s", loaded.diags.ToString().c_str());
    return kExitConfigError;
  }
  if (!loaded.plan->checkpoint.enabled()) {
    std::fprintf(stderr, "streamrun status: pipeline '%s' has no runtime.checkpoint.storage\n",
                 loaded.plan->name.c_str());
    return kExitConfigError;
  }
  try {
    std::printf("%s", job::JobStatus(*loaded.plan).c_str());
    return kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streamrun status: %s\n", e.what());
    return kExitRunFailure;
  }
}

int SavepointCommand(const std::string& pipeline, const std::string& target) {
  auto loaded = LoadPipeline(pipeline, config::ProcessEnv(), {});
  if (!loaded.plan) {
    std::fprintf(stderr, "%s", loaded.diags.ToString().c_str());
    return kExitConfigError;
  }
  try {
    auto store = OpenCheckpoints(*loaded.plan, "savepoint");
    if (!store) return kExitConfigError;
    checkpoint::Checkpoints& checkpoints = *store;
    const checkpoint::RunningProcess running = checkpoints.Running();
    const pid_t pid = static_cast<pid_t>(running.pid);
    if (!running.host.empty() && running.host != checkpoint::RunningProcess::Self().host) {
      std::fprintf(stderr, "streamrun savepoint: the job of '%s' runs on %s (pid %ld): run this there\n",
                   loaded.plan->CheckpointName().c_str(), running.host.c_str(), running.pid);
      return kExitRunFailure;
    }
    if (pid <= 0 || ::kill(pid, 0) != 0) {
      std::fprintf(stderr, "streamrun savepoint: no running job of '%s' (it records its pid in %s)\n",
                   loaded.plan->name.c_str(), loaded.plan->checkpoint.storage.c_str());
      return kExitRunFailure;
    }
    const int64_t before = checkpoints.HighestId();
    ::kill(pid, SIGUSR1);
    // The job takes it at its next turn; wait for a complete savepoint after `before`.
    for (int i = 0; i < 600; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      for (int64_t id : checkpoints.Complete()) {
        if (id <= before) continue;
        const auto m = nlohmann::json::parse(checkpoints.Manifest(id).value_or("{}"));
        if (Field(m, "kind") != "savepoint") continue;
        const std::string from = checkpoints.Location(id);
        std::filesystem::create_directories(target);
        std::filesystem::copy(
            from, target,
            std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
        if (loaded.plan->member.rfind("task-", 0) == 0)  // a task of a job restores from its own folder
          std::printf("savepoint %lld of task %s of '%s' in %s\n", static_cast<long long>(id),
                      loaded.plan->member.c_str(), loaded.plan->name.c_str(), target.c_str());
        else
          std::printf("savepoint %lld of '%s' in %s (restore with: streamrun run %s --from %s)\n",
                      static_cast<long long>(id), loaded.plan->name.c_str(), target.c_str(), pipeline.c_str(),
                      target.c_str());
        return kExitOk;
      }
    }
    std::fprintf(stderr, "streamrun savepoint: the job (pid %d) took no savepoint within 60 s\n",
                 static_cast<int>(pid));
    return kExitRunFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streamrun savepoint: %s\n", e.what());
    return kExitRunFailure;
  }
}

}  // namespace streamrun::cli
