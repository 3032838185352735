#pragma once
// The subcommands of docs/commands.md. Each returns the process exit status:
// 0 success, 1 failure at run time, 2 configuration error.
#include <cstdint>
#include <string>
#include <vector>

#include "runner/record/status.h"

namespace streamrun::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRunFailure = 1;
inline constexpr int kExitConfigError = 2;

// An error that ended a run, as a command reports it: the message, marked as
// our bug when it is one.
inline std::string DescribeRunError(const Error& e) {
  if (e.kind() != ErrorKind::kInternal) return e.what();
  return std::string("internal error: ") + e.what() +
         " (a bug in streamrun: please report it with the pipeline)";
}
// The exit status an error's kind calls for: 2 for the pipeline's
// configuration, 1 for anything else at run time.
inline int ExitStatusOf(const Error& e) {
  return e.kind() == ErrorKind::kConfig ? kExitConfigError : kExitRunFailure;
}

struct RunArgs {
  std::string pipeline;
  bool quiet = false;
  int parallelism = 0;  // 0: the pipeline's runtime.parallelism
  std::string from;     // a checkpoint folder to start from
  // After a stop request, how long the run may take to stop cleanly (its final
  // checkpoint, sinks flushing) before it gives up and exits with status 1.
  double stop_timeout_s = 30;
};

struct KafkaArgs {
  int brokers = 1;
  int partitions = 4;
  std::vector<std::string> topics;
  std::string bootstrap_file;
  bool control = false;  // read fault-injection commands from stdin
};

struct GenerateArgs {
  std::string kind;
  uint64_t seed = 1;
  int64_t count = -1;
  std::string rate;             // e.g. 2000/s; empty: as fast as possible
  std::string event_time_rate;  // event-time spacing only, e.g. 100000/s; empty: rate
  std::string out_of_order;     // FRACTION:MAX_DELAY
  std::string out;              // file; empty: stdout
  std::string topic;            // Kafka topic instead of a file (with brokers)
  std::string brokers;          // bootstrap servers for --topic
  std::string start_time;       // event time of the first event: epoch ms or `now`; empty: 2026-01-01
  std::string format = "json";  // json, csv, protobuf, avro
  std::string schema;           // protobuf/avro: default schemas/<kind>.proto|.avsc
  std::string message;          // protobuf: the message's full name (default: the file's first)
  std::string registry;         // with --topic: registry URL; values carry its framing
};

int RunCommand(const RunArgs& args);
int GenerateCommand(const GenerateArgs& args);
int KafkaCommand(const KafkaArgs& args);
int ValidateCommand(const std::string& pipeline);
int ExplainCommand(const std::string& pipeline, const std::string& format);
struct TestArgs {
  std::string dir;
  std::string filter;  // only cases whose name contains it
  bool verbose = false;
  int parallelism = 0;  // 0: the pipeline's own
  bool restore_midway = false;
  std::string state_backend;
  bool update = false;          // write expected.<sink>.jsonl from this run instead of comparing
  int64_t file_chunk_size = 0;  // > 0: the input files' chunk_size (file source)
};
int TestCommand(const TestArgs& args);
int SchemaCommand(const std::string& what);
// `schema check OLD NEW`: 0 if the change is compatible in `mode` (backward,
// forward or full), 1 if not, 2 for unreadable or mismatched schemas.
int SchemaCheckCommand(const std::vector<std::string>& files, const std::string& message,
                       const std::string& mode);
// `checkpoints list PIPELINE` / `checkpoints inspect PIPELINE [ID|FOLDER]`.
int CheckpointsCommand(const std::string& action, const std::string& pipeline, const std::string& which);
// `savepoint PIPELINE DIR`: asks the running job (SIGUSR1) for a savepoint and copies it to DIR.
int SavepointCommand(const std::string& pipeline, const std::string& target);

// `status PIPELINE`: the members of a job, their tasks, checkpoints and lag.
int StatusCommand(const std::string& pipeline);

// `plugins [LIB...]`: the operators of plugin libraries.
int PluginsCommand(const std::vector<std::string>& libraries);

// The whole command line (main_entry.cc): parses argv (`streamrun PIPELINE.yaml`
// is `streamrun run PIPELINE.yaml`) and runs the subcommand. runner/main.cc is
// only this; a binary with steps of its own adds them (AddStep) before it.
int Main(int argc, char** argv);

}  // namespace streamrun::cli
