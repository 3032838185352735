#pragma once
// The operator interfaces. A plan object (immutable after planning, shared by
// all workers) creates one mutable instance per worker (STYLE.md, after DuckDB).
// Steps transform batches; sources produce them; sinks write them.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runner/record/batch.h"
#include "runner/record/record_view.h"
#include "runner/state/keyed_service.h"
#include "runner/state/snapshot.h"

namespace streamrun {

namespace metrics {
class OperatorMetrics;  // runner/metrics/registry.h
}

// A record that failed: its raw bytes, where it came from and why. Steps and
// sources report these; the runtime applies the error policy (docs/errors.md).
struct RecordError {
  std::string raw;
  RecordPosition position;
  std::string message;
  // The raw bytes are a binary record (Protobuf, Avro): the dead letter keeps
  // them as base64, whatever bytes they happen to be.
  bool binary = false;
};

// Failed records of one batch. A step that reports a row must also leave it out
// of what it emits.
class RecordErrors {
 public:
  void Fail(const Batch& batch, uint32_t row, std::string message) {
    errors_.push_back(RecordError{std::string(batch.raw(row)), batch.position(row), std::move(message)});
  }
  void Add(RecordError e) { errors_.push_back(std::move(e)); }
  bool empty() const { return errors_.empty(); }
  std::vector<RecordError>& list() { return errors_; }
  void Clear() { errors_.clear(); }

 private:
  std::vector<RecordError> errors_;
};

// Where a step sends what it produces.
class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual void Emit(Batch& batch) = 0;
  // The watermark after everything emitted so far (never goes back).
  virtual void EmitWatermark(int64_t watermark) = 0;
  // Records for the transform's `.late` side output (window steps), unchanged.
  virtual void EmitLate(Batch& batch) = 0;
};

// State one run shares among the instances of one operator on every worker
// (DuckDB's global operator state, next to the per-worker local state that is
// the instance): a plan makes it once per run, before any instance, and it is
// destroyed after every instance. Instances on different threads reach it at
// once, so what it holds is atomic or guarded by its own mutex.
class RunShared {
 public:
  virtual ~RunShared() = default;
};

class RunScope;  // run_scope.h: what a run shares across operators

// What the runtime hands an operator instance when it makes it: where it runs,
// and what it shares with the instances on the other workers.
struct OperatorContext {
  int worker = 0;               // this instance's worker, 0 .. workers-1
  int workers = 1;              // the run's parallelism
  RunShared* shared = nullptr;  // what the plan's MakeRunShared made for this run (null: nothing)
  RunScope* scope = nullptr;    // what the run shares across operators (never null in a run)
  // Steps: where keyed state lives; a stateful step makes its KeyedStore over
  // it (runner/state/keyed_store.h) and the runtime checkpoints that store.
  // Never null for a step in a run.
  KeyedStateService* keyed_state = nullptr;
  // The instance's own metrics (a Kafka source's consumer lag, a plugin's
  // counters); what every operator counts (records, bytes, watermarks) the
  // runtime counts itself. Never null in a run.
  metrics::OperatorMetrics* metrics = nullptr;
  // Sources: the runtime can put the records of this source back in order
  // wherever order matters (runner/runtime/pieces.h), so the instances may
  // read one input in ordered pieces at once (a file in chunks). False at
  // parallelism 1, or when a step before the first exchange needs order.
  bool ordered_pieces = false;
};

// Per-batch facts every step may need.
struct StepEnv {
  int64_t now_ms = 0;  // processing time at the start of the batch (now())
  RecordErrors* errors = nullptr;
};

class StepInstance {
 public:
  virtual ~StepInstance() = default;
  // Processes a batch. Stateless steps change it in place and emit it; rows that
  // fail are reported to env.errors and left out of what is emitted.
  virtual void Process(Batch& batch, StepEnv& env, Emitter& out) = 0;
  // The input's watermark advanced (kEndOfTime once every input is done): fire
  // what it completes, then pass it on. Stateless steps just pass it on.
  virtual void OnWatermark(int64_t watermark, StepEnv& env, Emitter& out) { out.EmitWatermark(watermark); }
  // Processing time advanced (called about every 100 ms and between batches):
  // for processing-time timers such as `emit: {every: D}`.
  virtual void OnProcessingTime(int64_t now_ms, StepEnv& env, Emitter& out) {}
  // Checkpoints (docs/guarantees.md): the step's state that belongs to no key
  // (out.global: its watermark, records it holds). Its keyed state is in its
  // KeyedStore, which the runtime snapshots and restores by key group itself.
  // Stateless steps write nothing. Called only while the runtime is quiet (no
  // record in flight anywhere); Restore after the store's restore.
  virtual void Snapshot(StateSnapshot& out) {}
  virtual void Restore(const StateRestore& in) {}
  // After Restore: the watermark this step's output resumes from. A step
  // that holds records back (enrich_http, asynchronous plugin operators) had
  // passed on less than its input's watermark when the checkpoint was taken;
  // the runtime starts the exchanges after it there, so the records it still
  // holds are not late downstream. Others: the end of time (no limit).
  virtual int64_t RestoredWatermark() const { return kEndOfTime; }
  // The run is ending normally (not a crash, not a failure): after the final
  // checkpoint, before the sinks close. Not called on an inert instance.
  virtual void Close() {}
};

class StepPlan {
 public:
  virtual ~StepPlan() = default;
  // Made once per run, before any instance (a plan stays immutable: what a
  // run shares lives here, not in the plan).
  virtual std::unique_ptr<RunShared> MakeRunShared(int workers) const { return nullptr; }
  virtual std::unique_ptr<StepInstance> Instantiate(const OperatorContext& context) const = 0;
  // One line for `streamrun explain`, e.g. "filter page_url is not null".
  virtual std::string Describe() const = 0;
  // True if the step must see every record of the stream in one instance (a
  // global ranking, a window without a key): the runtime gathers its input on
  // worker 0. Keyed steps see their keys' records wherever the key_by sent them.
  virtual bool NeedsAllRecords() const { return false; }
  // True if the step sets a new key (key_by): records then cross to the worker
  // that owns their key group.
  virtual bool Rekeys() const { return false; }
  // True if the step sends records it could not use to the transform's
  // `.late` output (window).
  virtual bool EmitsLate() const { return false; }
  // True if the step looks at each record on its own and emits it at once:
  // no state, no watermark, no timers, no order (filter, set, select, drop,
  // key_by). Records of a source read in pieces may pass such steps out of
  // order; they are put back in order at the next exchange.
  virtual bool OrderFree() const { return false; }
};

class SourceInstance {
 public:
  virtual ~SourceInstance() = default;
  // Fills `batch` (already cleared to the right width) with up to `max_rows`
  // records. Records that fail to decode go to `errors`. Returns false once the
  // source is exhausted and nothing was added.
  virtual bool Next(Batch& batch, size_t max_rows, RecordErrors& errors) = 0;
  // The source's watermark after the records returned so far (docs/time-and-windows.md);
  // kEndOfTime once it is exhausted. `now_ms` lets idle partitions stop holding
  // it back and drives processing time for sources without event time.
  virtual int64_t Watermark(int64_t now_ms) = 0;
  // True when this instance has no partition to read at all (another worker
  // has them): its end of input is known before the run starts.
  virtual bool Empty() const { return false; }
  // "file clicks.jsonl line 12" for error messages.
  virtual std::string DescribePosition(const RecordPosition& pos) const = 0;
  // The run ended normally: settle positions (a Kafka commit). Called on every
  // worker's instance before any of them is destroyed.
  virtual void Close() {}
  // Checkpoints (docs/guarantees.md): the position after the last record returned,
  // per partition this instance reads, named so that any instance can find it
  // (a file's path, "topic:partition"), with its watermark state. A restore
  // hands every instance the positions of all partitions; each takes its own.
  // `watermark` is the lowest watermark any instance of the source had.
  struct SavedPosition {
    std::string bytes;  // for RestorePositions
    std::string text;   // for `streamrun checkpoints inspect`, e.g. "offset 1234"
  };
  virtual void SnapshotPositions(std::map<std::string, SavedPosition>* positions) const {}
  virtual void RestorePositions(const std::map<std::string, std::string>& positions, int64_t watermark) {}
  // Ordered pieces (OperatorContext::ordered_pieces): every batch Next
  // returns holds records of one piece (Batch::piece). After the batch that
  // ends a piece, this gives the piece's end once: its index and the
  // watermark its records reach on their own (the highest event time in it
  // minus max_out_of_orderness), which orders the pieces after it.
  struct PieceEnd {
    int64_t piece = -1;
    int64_t watermark = kNoTime;
  };
  virtual bool TakePieceEnd(PieceEnd* end) { return false; }
};

class SinkInstance {
 public:
  virtual ~SinkInstance() = default;
  // Writes the batch's records as `view` describes them. A record the sink
  // cannot write (its Kafka key expression fails) is reported to `errors` and
  // not written: the runtime applies the error policy, as for a step.
  virtual void Write(const Batch& batch, const RecordView& view, RecordErrors& errors) = 0;
  // Writes records already encoded as JSON text (the dead-letter path).
  virtual void WriteEncoded(const std::vector<std::string>& json_records) = 0;
  virtual void Flush() {}
  virtual void Close() { Flush(); }
  // Exactly-once (docs/guarantees.md), with checkpoints on. Called once before the
  // run: `recovered` is what PreCommit returned, in the checkpoint the run
  // restores from, on the workers this instance takes over (none for a fresh
  // start; a per-worker sink restored at lower parallelism gets several). From
  // then on what is written stays unpublished until a checkpoint covering it
  // completes. Sinks that cannot hold output back (console, stdout) ignore it:
  // they are at least once.
  virtual void BeginExactlyOnce(const std::vector<std::string>& recovered) {}
  // Checkpoints at least once, and the run restores one: keep the output
  // written so far (a file is continued, not started anew), after publishing
  // what `recovered` held back (states as for BeginExactlyOnce; there are some
  // only if the checkpoint was taken exactly once).
  virtual void ResumeAtLeastOnce(const std::vector<std::string>& recovered) {}
  // Checkpoint `id` is being taken (nothing is in flight): flush, and make all
  // written since the last commit ready to publish. The result is stored in the
  // checkpoint.
  virtual std::string PreCommit(int64_t id) {
    Flush();
    return {};
  }
  // Checkpoint `id` is complete: publish what PreCommit prepared up to it.
  virtual void Commit(int64_t id) {}
  // The watermark of the sink's input advanced (it never goes back). Only a
  // sink that passes event time on needs it (runner/job's repartition sink).
  virtual void OnWatermark(int64_t watermark) {}
};

class SourcePlan {
 public:
  virtual ~SourcePlan() = default;
  // Made once per run, before any instance (the Kafka source's group of
  // workers, its embedded topics).
  virtual std::unique_ptr<RunShared> MakeRunShared(int workers) const { return nullptr; }
  // One instance per worker: context.worker of context.workers reads its share
  // of the partitions (a file's partition is its index in the sorted glob). The
  // decoder extracts into the slots of `universe`, final once the pipeline is planned.
  virtual std::unique_ptr<SourceInstance> Instantiate(const OperatorContext& context,
                                                      const struct Universe& universe,
                                                      int source_index) const = 0;
  virtual std::string Describe() const = 0;
  // A job of several processes (runner/job, docs/scaling.md) splits its input
  // into tasks, one per Kafka partition. True, with what the job's member
  // needs to join the consumer group, for a source that can be read so (an
  // unbounded Kafka source).
  struct JobKafkaInput {
    std::string brokers;
    std::vector<std::string> topics;
    std::vector<std::pair<std::string, std::string>> properties;  // the user's librdkafka properties
    int partitions = 4;  // topics created on the embedded broker get this many
  };
  virtual bool JobInput(JobKafkaInput* input) const { return false; }
  // Before a task's run, on the task's own plan: read exactly these
  // partitions of the source's topic, from the task's checkpoint (else from
  // `start`), with no consumer group of its own.
  virtual void AssignTask(const std::vector<int32_t>& partitions) {}
};

class SinkPlan {
 public:
  virtual ~SinkPlan() = default;
  // Made once per run, before any instance.
  virtual std::unique_ptr<RunShared> MakeRunShared(int workers) const { return nullptr; }
  // The instance on worker context.worker (0 for a sink that is not PerWorker).
  virtual std::unique_ptr<SinkInstance> Instantiate(const OperatorContext& context) const = 0;
  virtual std::string Describe() const = 0;
  // True if every worker writes its own records through its own instance (a
  // Kafka producer per worker, as Kafka Streams has); else the records of every
  // worker meet on worker 0 (one file, one terminal).
  virtual bool PerWorker() const { return false; }
  // What a checkpoint holds for one instance (a PreCommit result), for
  // `streamrun checkpoints inspect`; empty: nothing worth showing.
  virtual std::string DescribeState(std::string_view state) const { return {}; }
  // True if a restore can take back output published after its checkpoint (a
  // file is cut back); false if what was published stays (Kafka): a restore
  // from an older checkpoint than the newest then publishes that span again.
  virtual bool TakesBackOutput() const { return false; }
  // True if the sink evaluates expressions over record fields (a Kafka key):
  // it then takes one input, whose slots the expressions were compiled for.
  virtual bool ReadsFields() const { return false; }
};

}  // namespace streamrun
