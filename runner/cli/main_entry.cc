// The streamrun command line (docs/commands.md): the subcommands and their
// options. runner/main.cc calls it; so does a binary that adds steps of its own
// first (tests/operators/main.cc, operators/registry.h AddStep).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "runner/cli/commands.h"
#include "runner/cli/pipeline_file.h"
#include "runner/log/log.h"
#include "runner/plan/plan.h"

#ifndef STREAMRUN_VERSION
#define STREAMRUN_VERSION "dev"
#endif

namespace streamrun::cli {

int Main(int argc, char** argv) {
  // `streamrun PIPELINE.yaml` is `streamrun run PIPELINE.yaml`.
  static const std::set<std::string> kCommands = {"run",         "validate",  "explain", "test",
                                                  "version",     "schema",    "kafka",   "generate",
                                                  "checkpoints", "savepoint", "plugins", "status"};
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() > 1 && args[1][0] != '-' && !kCommands.count(args[1])) args.insert(args.begin() + 1, "run");

  CLI::App app{"streamrun: declarative stream pipelines in one binary", "streamrun"};
  app.require_subcommand(1);
  app.set_version_flag("--version", STREAMRUN_VERSION);

  RunArgs run_args;
  auto* run = app.add_subcommand("run", "Run a pipeline (also: streamrun PIPELINE.yaml)");
  run->add_option("pipeline", run_args.pipeline, "Pipeline file")->required();
  run->add_flag("-q,--quiet", run_args.quiet, "Do not print the summary at the end");
  run->add_option("-p,--parallelism", run_args.parallelism, "Worker threads (overrides runtime.parallelism)")
      ->check(CLI::Range(1, streamrun::MaxParallelism()));
  run->add_option("--stop-timeout", run_args.stop_timeout_s,
                  "Seconds a clean stop (SIGINT/SIGTERM) may take before the run gives up and exits 1 "
                  "(a dependency that does not answer); the next run restores the last complete checkpoint")
      ->check(CLI::Range(0.1, 86400.0));
  run->add_option("--from", run_args.from,
                  "Start from this checkpoint or savepoint folder (default: the newest complete checkpoint "
                  "of the pipeline, if it has checkpoints)");

  std::string validate_file;
  auto* validate =
      app.add_subcommand("validate", "Check a pipeline file and report every error (exit 2 if any)");
  validate->add_option("pipeline", validate_file, "Pipeline file")->required();

  std::string explain_file, explain_format = "text";
  auto* explain = app.add_subcommand("explain", "Show the operator graph of a pipeline");
  explain->add_option("pipeline", explain_file, "Pipeline file")->required();
  explain->add_option("--format", explain_format, "text or dot")->check(CLI::IsMember({"text", "dot"}));

  TestArgs test_args;
  auto* test = app.add_subcommand("test", "Run the golden pipeline cases under DIR (docs/commands.md)");
  test->add_option("dir", test_args.dir, "Folder of case folders")->required();
  test->add_option("--filter", test_args.filter, "Only cases whose name contains this");
  test->add_flag("-v,--verbose", test_args.verbose, "List passing cases too");
  test->add_flag("--restore-midway", test_args.restore_midway,
                 "Run each case with checkpoints, end it as a crash would after a checkpoint halfway through "
                 "its input, restore and finish: the output must still be the expected one");
  test->add_option("-p,--parallelism", test_args.parallelism, "Run every case with this many workers")
      ->check(CLI::Range(1, streamrun::MaxParallelism()));
  test->add_option("--state", test_args.state_backend,
                   "Run every case with this state backend and no hot keys: every key is encoded "
                   "after each use and decoded again (rocksdb: through the database)")
      ->check(CLI::IsMember({"memory", "rocksdb"}));
  test->add_option("--file-chunk-size", test_args.file_chunk_size,
                   "Read the cases' input files in chunks of this many bytes (the file source's "
                   "chunk_size), so that at parallelism 2 or more every worker reads a part of them")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  test->add_flag("--update", test_args.update,
                 "Write each case's expected.<sink>.jsonl from this run instead of comparing (review the "
                 "change before committing it)");

  std::string schema_what, schema_message, schema_mode = "full";
  std::vector<std::string> schema_files;
  auto* schema = app.add_subcommand(
      "schema", "Print a file generated from the operator specs, or check a schema change (check OLD NEW)");
  schema->add_option("what", schema_what, "json-schema, reference or check")
      ->required()
      ->check(CLI::IsMember({"json-schema", "reference", "check"}));
  schema->add_option("files", schema_files, "check: the OLD and NEW .avsc or .proto files");
  schema->add_option("--message", schema_message,
                     "check, protobuf: the message type (default: the file's first)");
  schema
      ->add_option("--mode", schema_mode,
                   "check: what must hold for exit 0: backward, forward or full (default)")
      ->check(CLI::IsMember({"backward", "forward", "full"}));

  KafkaArgs kafka_args;
  auto* kafka =
      app.add_subcommand("kafka", "Run the embedded Kafka-protocol broker; prints its bootstrap address");
  kafka->add_option("--brokers", kafka_args.brokers, "Number of brokers")->check(CLI::Range(1, 16));
  kafka->add_option("--partitions", kafka_args.partitions, "Partitions of each --topic")
      ->check(CLI::Range(1, 1024));
  kafka->add_option("--topic", kafka_args.topics, "Topic to create up front (repeatable)");
  kafka->add_option("--bootstrap-file", kafka_args.bootstrap_file,
                    "Also write the bootstrap address to this file");
  kafka->add_flag("--control", kafka_args.control,
                  "Read commands from stdin for fault injection: `down N`, `up N` (broker N, 1-based), "
                  "`fail API CODE...` (the next requests of Kafka API number API get error CODE, one each)");

  GenerateArgs generate_args;
  auto* generate = app.add_subcommand(
      "generate",
      "Write synthetic events as JSON lines or to a Kafka topic (clicks, cart, transactions, nexmark)");
  generate->add_option("kind", generate_args.kind, "clicks, cart, transactions or nexmark")->required();
  generate->add_option("--count", generate_args.count, "How many events (default: unbounded)");
  generate->add_option("--seed", generate_args.seed, "Random seed: the same seed gives the same events");
  generate->add_option("--rate", generate_args.rate,
                       "Events per second, e.g. 2000/s (default: as fast as possible)");
  generate->add_option("--event-time-rate", generate_args.event_time_rate,
                       "Events per second of event time, without pacing (default: --rate, or 1000/s)");
  generate->add_option("--out-of-order", generate_args.out_of_order, "FRACTION:MAX_DELAY, e.g. 0.1:5s");
  generate->add_option("-o,--out", generate_args.out, "Write to this file instead of stdout");
  generate->add_option("--format", generate_args.format, "json (default), csv, protobuf or avro")
      ->check(CLI::IsMember({"json", "csv", "protobuf", "avro"}));
  generate->add_option("--schema", generate_args.schema,
                       "protobuf/avro: the schema file (default: schemas/KIND.proto or schemas/KIND.avsc)");
  generate->add_option("--message", generate_args.message,
                       "protobuf: the message type (default: the file's first)");
  generate->add_option("--registry", generate_args.registry,
                       "With --topic: a schema registry URL; the schema is registered under TOPIC-value and "
                       "every value carries the registry framing");
  generate->add_option("--topic", generate_args.topic,
                       "Produce to this Kafka topic instead (needs --brokers)");
  generate->add_option("--brokers", generate_args.brokers, "Kafka bootstrap servers for --topic");
  generate->add_option("--start-time", generate_args.start_time,
                       "Event time of the first event: epoch ms, or `now` (default 2026-01-01T00:00:00Z)");

  std::string checkpoints_action, checkpoints_pipeline, checkpoints_which;
  auto* checkpoints = app.add_subcommand("checkpoints", "List a pipeline's checkpoints or inspect one");
  checkpoints->add_option("action", checkpoints_action, "list or inspect")
      ->required()
      ->check(CLI::IsMember({"list", "inspect"}));
  checkpoints->add_option("pipeline", checkpoints_pipeline, "Pipeline file")->required();
  checkpoints->add_option("checkpoint", checkpoints_which,
                          "inspect: a checkpoint id or folder (default: the newest complete one)");

  std::string savepoint_pipeline, savepoint_dir;
  auto* savepoint = app.add_subcommand("savepoint", "Ask the running job for a savepoint and copy it to DIR");
  savepoint->add_option("pipeline", savepoint_pipeline, "Pipeline file")->required();
  savepoint->add_option("dir", savepoint_dir, "Where to put the savepoint")->required();

  std::string status_pipeline;
  auto* status = app.add_subcommand(
      "status", "A job's members, the tasks each runs, their last checkpoints and lag (docs/scaling.md)");
  status->add_option("pipeline", status_pipeline, "Pipeline file")->required();

  // A job of several processes (docs/scaling.md): this process's member name.
  std::string member;
  for (auto* command : {run, explain, checkpoints, savepoint})
    command->add_option("--member", member,
                        "This process's name in a job of several processes (overrides runtime.member)");

  std::vector<std::string> plugins_libs;
  auto* plugins = app.add_subcommand(
      "plugins", "List the operators of plugin libraries: versions, flags and options (docs/plugins.md)");
  plugins->add_option("library", plugins_libs,
                      "Plugin libraries (default: the .so files in the folders of $STREAMRUN_PLUGIN_PATH)");

  auto* version = app.add_subcommand("version", "Print the version");

  // Operator plugins for commands that read pipelines: loaded before the
  // command, as if listed under the pipeline's `plugins:`.
  std::vector<std::string> plugin_paths;
  for (auto* command : {run, validate, explain, test, schema})
    command->add_option("--plugin", plugin_paths, "Load this operator plugin library first (repeatable)");

  // The log (docs/metrics.md "Logs") of commands that run a pipeline or talk
  // to a running one; their results and final error stay plain output.
  std::string log_level = "info", log_format = "text";
  for (auto* command : {run, test, savepoint}) {
    command
        ->add_option("--log-level", log_level,
                     "Log lines at this level and above: trace, debug, info (default), warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    command
        ->add_option("--log-format", log_format, "Log lines as text (default) or json, one object per line")
        ->check(CLI::IsMember({"text", "json"}));
  }

  std::vector<const char*> cargv;
  for (const auto& a : args) cargv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfigError;
  }

  log::Configure(log::ParseLevel(log_level).value_or(log::Level::kInfo),
                 log::ParseFormat(log_format).value_or(log::Format::kText));
  // Credentials the process holds in its environment never reach a log line
  // (those in the pipeline file: RegisterSecrets, as it is loaded).
  for (const char* name : {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"})
    if (const char* value = std::getenv(name)) log::AddSecret(value);

  SetMemberOption(member);
  if (plugins->parsed()) return PluginsCommand(plugins_libs);
  if (!LoadPluginOptions(plugin_paths)) return kExitConfigError;
  if (run->parsed()) return RunCommand(run_args);
  if (validate->parsed()) return ValidateCommand(validate_file);
  if (explain->parsed()) return ExplainCommand(explain_file, explain_format);
  if (test->parsed()) return TestCommand(test_args);
  if (schema->parsed())
    return schema_what == "check" ? SchemaCheckCommand(schema_files, schema_message, schema_mode)
                                  : SchemaCommand(schema_what);
  if (kafka->parsed()) return KafkaCommand(kafka_args);
  if (generate->parsed()) return GenerateCommand(generate_args);
  if (savepoint->parsed()) return SavepointCommand(savepoint_pipeline, savepoint_dir);
  if (status->parsed()) return StatusCommand(status_pipeline);
  if (checkpoints->parsed())
    return CheckpointsCommand(checkpoints_action, checkpoints_pipeline, checkpoints_which);
  if (version->parsed()) {
    std::printf("streamrun %s\n", STREAMRUN_VERSION);
    return kExitOk;
  }
  return kExitConfigError;
}

}  // namespace streamrun::cli
