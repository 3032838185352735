#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

#include "runner/cli/commands.h"
#include "runner/cli/pipeline_file.h"
#include "runner/job/member.h"
#include "runner/log/log.h"
#include "runner/runtime/runtime.h"

namespace streamrun::cli {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_savepoints{0};

extern "C" void OnSavepointSignal(int) { g_savepoints.fetch_add(1); }

std::atomic<int64_t> g_first_stop_ms{0};

int64_t MonotonicMs() {  // clock_gettime is async-signal-safe
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The first SIGINT/SIGTERM asks for a clean stop. Deliveries within a second of
// it are the same request (`timeout -s INT` and a terminal's Ctrl-C signal the
// process and its group at once); a signal after that means the user insists.
extern "C" void OnStopSignal(int) {
  const int64_t now = MonotonicMs();
  if (!g_stop.exchange(true)) {
    g_first_stop_ms.store(now);
    return;
  }
  if (now - g_first_stop_ms.load() >= 1000) _exit(130);
}

// The tree as `path=value` pairs ("sinks.out.properties.sasl.password=..."),
// for a debug line that shows the configuration as interpolated.
void Flatten(const config::ConfNode& node, const std::string& path, std::string* out) {
  if (node.IsScalar() || node.IsNull()) {
    *out += (out->empty() ? "" : ", ") + path + "=" + node.scalar;
    return;
  }
  for (size_t i = 0; i < node.items.size(); ++i)
    Flatten(node.items[i], path + "[" + std::to_string(i) + "]", out);
  for (const auto& [key, value] : node.entries)
    Flatten(value, path.empty() ? key.scalar : path + "." + key.scalar, out);
}

std::string Rate(double n, double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", seconds > 0 ? n / seconds : 0.0);
  return buf;
}

}  // namespace

int RunCommand(const RunArgs& args) {
  auto loaded = LoadPipeline(args.pipeline, config::ProcessEnv(), {});
  if (!loaded.plan) {
    std::fprintf(stderr, "%s", loaded.diags.ToString().c_str());
    std::fprintf(stderr, "%zu configuration error%s in %s\n", loaded.diags.size(),
                 loaded.diags.size() == 1 ? "" : "s", args.pipeline.c_str());
    return kExitConfigError;
  }
  log::SetPipeline(loaded.plan->name);
  if (log::Enabled(log::Level::kDebug)) {
    std::string flat;  // secrets in it are masked as every line's (pipeline_file.h RegisterSecrets)
    Flatten(*loaded.root, "", &flat);
    log::Debug("", "pipeline file {}: {}", args.pipeline, flat);
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction usr1 {};
  usr1.sa_handler = OnSavepointSignal;
  sigemptyset(&usr1.sa_mask);
  sigaction(SIGUSR1, &usr1, nullptr);

  // A stop is honoured within --stop-timeout whatever a source or sink waits
  // for: past it, the process says what it gave up on and exits. Nothing is
  // lost: the checkpoint protocol makes the next run start from the last
  // complete checkpoint, as after a crash.
  std::atomic<bool> finished{false};
  std::thread watchdog([&finished, &args, name = loaded.plan->name] {
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const int64_t first = g_first_stop_ms.load();  // 0 until a stop signal came
      if (first == 0 || finished.load()) continue;
      const int64_t since = MonotonicMs() - first;
      if (since < static_cast<int64_t>(args.stop_timeout_s * 1000)) continue;
      std::fprintf(
          stderr,
          "streamrun: pipeline '%s' did not stop within %.1f s of the stop request (a source or sink "
          "is waiting on a dependency that does not answer, such as an unreachable broker); exiting "
          "without its final checkpoint: the next run restores the last complete one\n",
          name.c_str(), args.stop_timeout_s);
      std::fflush(stderr);
      _exit(kExitRunFailure);
    }
  });
  struct JoinWatchdog {
    std::atomic<bool>& finished;
    std::thread& thread;
    ~JoinWatchdog() {
      finished.store(true);
      thread.join();
    }
  } join_watchdog{finished, watchdog};

  RunOptions options;
  options.stop = &g_stop;
  options.parallelism = args.parallelism;
  options.restore_from = args.from;
  options.savepoint_requests = &g_savepoints;
  options.serve_endpoints = true;
#ifdef STREAMRUN_VERSION
  options.version = STREAMRUN_VERSION;
#endif
  if (!loaded.plan->member.empty()) {
    // One member of a job of several processes: the group assigns it tasks,
    // each restored from its own checkpoints and run by one worker.
    if (!args.from.empty() || args.parallelism > 0) {
      std::fprintf(stderr,
                   "streamrun: --%s: a member of a job runs each task from the task's own checkpoints on one "
                   "worker (docs/scaling.md)\n",
                   args.from.empty() ? "parallelism" : "from");
      return kExitConfigError;
    }
    try {
      job::MemberOptions member;
      member.stop = &g_stop;
      member.savepoint_requests = &g_savepoints;
      member.version = options.version;
      const job::MemberSummary summary = job::RunMember(*loaded.root, args.pipeline, *loaded.plan, member);
      if (!args.quiet)
        std::fprintf(
            stderr, "streamrun: member '%s' of job '%s' stopped after %.3f s: %d tasks started, %d stopped\n",
            loaded.plan->member.c_str(), loaded.plan->name.c_str(), summary.seconds, summary.tasks_started,
            summary.tasks_stopped);
      return kExitOk;
    } catch (const RunError& e) {
      std::fprintf(stderr, "streamrun: member '%s' of job '%s' failed: %s\n", loaded.plan->member.c_str(),
                   loaded.plan->name.c_str(), DescribeRunError(e).c_str());
      return ExitStatusOf(e);
    }
  }
  try {
    RunStats stats = Run(*loaded.plan, options);
    if (!args.quiet) {
      uint64_t in = 0;
      for (size_t i = 0; i < loaded.plan->nodes.size(); ++i)
        if (loaded.plan->nodes[i].kind == PlanNode::Kind::kSource) in += stats.nodes[i].records_out;
      std::fprintf(
          stderr,
          "streamrun: pipeline '%s' %s: %llu records read in %.3f s (%s records/s) on %d worker%s, %llu "
          "skipped, %llu dead-lettered, %llu late dropped, %llu full-queue waits\n",
          loaded.plan->name.c_str(), g_stop.load() ? "stopped" : "done", static_cast<unsigned long long>(in),
          stats.seconds, Rate(in, stats.seconds).c_str(), stats.workers, stats.workers == 1 ? "" : "s",
          static_cast<unsigned long long>(stats.records_skipped),
          static_cast<unsigned long long>(stats.records_dead_lettered),
          static_cast<unsigned long long>(stats.records_late_dropped),
          static_cast<unsigned long long>(stats.queue_full));
      if (stats.checkpoints > 0 || stats.checkpoints_failed > 0 || stats.restored_from > 0)
        std::fprintf(stderr, "  checkpoints: %llu complete, %llu failed%s\n",
                     static_cast<unsigned long long>(stats.checkpoints),
                     static_cast<unsigned long long>(stats.checkpoints_failed),
                     stats.restored_from > 0
                         ? (", resumed from checkpoint " + std::to_string(stats.restored_from)).c_str()
                         : "");
      for (size_t i = 0; i < loaded.plan->nodes.size(); ++i) {
        const auto& n = loaded.plan->nodes[i];
        const auto& s = stats.nodes[i];
        std::fprintf(stderr, "  %-24s in %-10llu out %-10llu errors %llu\n", n.name.c_str(),
                     static_cast<unsigned long long>(s.records_in),
                     static_cast<unsigned long long>(s.records_out),
                     static_cast<unsigned long long>(s.errors));
      }
    }
    return kExitOk;
  } catch (const RunError& e) {
    std::fprintf(stderr, "streamrun: pipeline '%s' failed: %s\n", loaded.plan->name.c_str(),
                 DescribeRunError(e).c_str());
    return ExitStatusOf(e);
  }
}

int ValidateCommand(const std::string& pipeline) {
  auto loaded = LoadPipeline(pipeline, config::ProcessEnv(), {});
  if (!loaded.plan) {
    std::fprintf(stderr, "%s", loaded.diags.ToString().c_str());
    std::fprintf(stderr, "%zu configuration error%s in %s\n", loaded.diags.size(),
                 loaded.diags.size() == 1 ? "" : "s", pipeline.c_str());
    return kExitConfigError;
  }
  int sources = 0, transforms = 0, sinks = 0;
  for (const auto& n : loaded.plan->nodes) {
    sources += n.kind == PlanNode::Kind::kSource;
    transforms += n.kind == PlanNode::Kind::kTransform;
    sinks += n.kind == PlanNode::Kind::kSink;
  }
  std::printf("%s: pipeline '%s' is valid (%d source%s, %d transform%s, %d sink%s)\n", pipeline.c_str(),
              loaded.plan->name.c_str(), sources, sources == 1 ? "" : "s", transforms,
              transforms == 1 ? "" : "s", sinks, sinks == 1 ? "" : "s");
  return kExitOk;
}

int ExplainCommand(const std::string& pipeline, const std::string& format) {
  auto loaded = LoadPipeline(pipeline, config::ProcessEnv(), {});
  if (!loaded.plan) {
    std::fprintf(stderr, "%s", loaded.diags.ToString().c_str());
    return kExitConfigError;
  }
  std::string topics;
  if (!loaded.plan->member.empty()) {
    // A job of several processes: the plan its tasks run, cut at the
    // repartition topics. Their partition counts come from the input topic at
    // run time; here the source's `partitions` stands in for it.
    job::JobLayout layout;
    std::string error;
    if (!job::LayoutJob(
            *loaded.plan,
            [](const SourcePlan::JobKafkaInput& input, const std::string&) { return input.partitions; },
            &layout, &error)) {
      std::fprintf(stderr, "runtime.member: %s (docs/scaling.md)\n", error.c_str());
      return kExitConfigError;
    }
    job::SplitPlan(*loaded.plan, layout, "explain");
    topics = "repartition topics (partitions: the input topic's; a gather has 1):\n";
    for (const auto& t : layout.topics)
      topics += "  " + t.name + (t.gather ? "  gather, 1 partition" : "  by key group") +
                ", written by the tasks of " + t.upstream_topic + "\n";
    if (layout.topics.empty()) topics = "repartition topics: none (every task runs the whole pipeline)\n";
    topics += "tasks: one per partition of";
    for (const auto& c : layout.components) topics += " " + c.topic;
    topics += "\n";
  }
  std::string text = format == "dot" ? ExplainDot(*loaded.plan) : ExplainText(*loaded.plan) + topics;
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace streamrun::cli
