#pragma once
// One worker of a run: an instance of every source, step and sink of the plan
// (inert where routing.h puts a step's records on worker 0), driven by one
// thread. Its jobs are spread over worker.cc (the loop, records and
// watermarks through the graph), worker_checkpoint.cc (the checkpoint
// protocol, snapshot and restore) and error_policy.cc (record errors).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runner/record/json_decoder.h"
#include "runner/runtime/exchange.h"
#include "runner/runtime/pieces.h"
#include "runner/runtime/shared.h"
#include "runner/runtime/worker_state.h"

namespace streamrun::runtime {

class Worker {
 public:
  Worker(Shared& shared, int index);

  // Runs until every source of every worker is done and no message is in
  // flight, or until a stop request drains the same way without end of input.
  // Before the threads start: sources with no partition on this worker send
  // their end of input now, so no other worker ever judges records against a
  // watermark this worker holds back only because its thread has not run yet.
  //
  // Steps whose records are all on worker 0 (routing.h) never get a record
  // here: their inert instances on the other workers pass on the end of time
  // now, so the exchanges and transforms after them never wait for this worker.
  void Prime();

  // Single-threaded, during priming: hands on and takes in what is queued.
  bool PrimeExchange();

  // The worker loop (a thread per worker but worker 0, which runs on the
  // caller's): reads, processes, hands on, takes part in checkpoints.
  void Run();

  // Worker 0: asks for the next checkpoint once the interval has passed and
  // every worker is done with the last one; none near the end (a final one follows).
  void MaybeStartCheckpoint();

  // One turn of checkpoint `id` on this worker; true if it did something.
  bool CheckpointStep(int64_t id);

  bool stopped() const { return stopped_; }

  // After a run that ended with its input (no stop): every transform must have
  // seen the end of time, or records may still sit in open windows. Names the
  // first that did not (an internal error: it would be silent loss).
  std::string HeldBack() const;

  void CloseSources();

  void CloseSinks();
  // Steps: the run ended normally (StepInstance::Close).
  void CloseSteps();

  RunStats& stats() { return stats_; }

  // ---- checkpoints (worker_checkpoint.cc) -----------------------------------

  // This worker's state for checkpoint `id`; only while nothing is in flight.
  // Per node: its name and watermark, then a source's positions, a transform's
  // input watermarks and each step's state by key group, or a sink's pre-commit.
  std::string Snapshot(int64_t id);

  // Before the run: this worker's share of a checkpoint taken by `saved.size()`
  // workers (any number). Sources take the positions of the partitions they
  // read now; steps the key groups this worker owns now (all of them for a step
  // that gathers on worker 0); watermarks start at the lowest any worker had.
  void Restore(const std::vector<SavedWorker>& saved);

  // Exactly once: sinks hold output back until checkpoints complete.
  void BeginExactlyOnce();

  // At least once after a restore: sinks go on with their output (and publish
  // what an exactly-once checkpoint held back).
  void ResumeAtLeastOnce();

  void CommitSinks(int64_t id);

 private:
  // Calls `start` on each sink of this worker with the states it restored.
  template <typename F>
  void StartSinks(F&& start) {
    static const std::vector<std::string> kNone;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i].sink) continue;
      auto it = recovered_sinks_.find(i);
      start(*nodes_[i].sink, it == recovered_sinks_.end() ? kNone : it->second);
    }
  }

  struct StepOutput : Emitter {
    StepOutput(Worker* w, int node, int next) : worker(w), node(node), next_step(next) {}
    void Emit(Batch& batch) override { worker->ToStep(node, next_step, batch); }
    void EmitWatermark(int64_t watermark) override { worker->WatermarkToStep(node, next_step, watermark); }
    void EmitLate(Batch& batch) override { worker->Push(node, kLatePort, batch); }
    Worker* worker;
    int node;
    int next_step;
  };

  struct NodeState {
    std::unique_ptr<SourceInstance> source;
    std::vector<std::unique_ptr<StepInstance>> steps;
    std::vector<StepOutput> outputs;                        // outputs[k]: where step k emits
    std::vector<std::vector<int64_t>> exchange_watermarks;  // [step][sending worker]
    std::vector<int64_t> exchange_combined;                 // [step]: minimum passed on
    std::unique_ptr<JsonDecoder> rebase_decoder;
    std::unique_ptr<SinkInstance> sink;
    std::vector<int64_t> channel_watermarks;  // per input
    int64_t watermark = kNoTime;              // the minimum over the inputs, as passed on
    // [step]: where its keyed state lives and its store (made before the step,
    // at a stable address: the step keeps a reference to it).
    std::vector<std::unique_ptr<KeyedStateService>> keyed;
    std::string scratch;
  };

  // What an instance of node `node`'s step `step` (0 for a source or sink) gets.
  OperatorContext Context(size_t node, size_t step) const;

  // ---- sources --------------------------------------------------------------

  // One batch from a source; false once it is exhausted (its end of input sent).
  bool ReadSource(int node, bool* read);

  // ---- messages between workers --------------------------------------------

  // Takes in what other workers sent (exchange.h).
  bool DrainIncoming();

  void Receive(int from, Message& m);

  // ---- records through the graph -------------------------------------------

  // Sends `batch`, produced by `node` on `port`, to every consumer of that port.
  // The last consumer gets the batch itself; the others get copies sharing its arena.
  void Push(int node, int port, Batch& batch);

  // The index of (from, port) among `node`'s inputs.
  size_t Channel(int node, int from, int port) const;

  // Each record is judged against the minimum over the channels, with its own
  // channel at the watermark the record carries.
  static void CombineWatermarks(std::vector<int64_t>& channels, size_t channel, Batch& batch);

  void Deliver(int node, int from, int port, Batch& batch);

  void WriteSink(int node, int from, int port, const Batch& batch);

  // Records on their way to step `step` of transform `node`: across an
  // exchange when there is one before that step.
  void ToStep(int node, int step, Batch& batch);

  void ArriveAtStep(int node, int step, int from_worker, Batch& batch);

  void RunSteps(int node, int step, Batch& batch);

  // ---- watermarks ------------------------------------------------------------

  // Sends a watermark from `node` to the consumers of both its ports.
  void PushWatermark(int node, int64_t watermark);

  void DeliverWatermark(int node, int from, int port, int64_t watermark);

  void WatermarkToStep(int node, int step, int64_t watermark);

  void WatermarkArrives(int node, int step, int from_worker, int64_t watermark);

  void RunWatermark(int node, int step, int64_t watermark);

  void ProcessingTime(int64_t now);

  // ---- metrics ---------------------------------------------------------------

  // About once a second: gauges the record path does not keep (queue fill,
  // state size).
  void UpdateGauges();
  // A sink wrote `batch`: latency, and the rows of a `preview` sink.
  void SinkWrote(int node, const RecordView& view, const Batch& batch, const RecordErrors& errors);

  // Re-encodes records through the producer's view and decodes them into
  // `node`'s own slots.
  Batch Rebase(int node, const RecordView& view, const Batch& batch);

  // ---- sources read in ordered pieces (pieces.cc, pieces.h) -----------------

  // Source `source` ended a piece: every worker with a point of it hears so,
  // after the piece's records (the queues keep each sender's order).
  void EndPiece(int source, const SourceInstance::PieceEnd& end);
  // The index of the point (kind, node, step) among source `source`'s, or -1.
  int PointOf(int source, PiecePoint::Kind kind, int node, int step) const;
  // A batch of a piece reached (kind, node, step): if that is a point of its
  // source, it is taken there (passes or waits) and true is returned.
  bool HoldForPiece(PiecePoint::Kind kind, int node, int step, int from, int port, Batch& batch);
  // Worker 0: dead letters or the failure of `piece` of `source`.
  void PieceDeadLettersArrive(int source, int64_t piece, std::vector<std::string> texts, bool failure);
  // An item of `piece` reached point `point` of `source`: it passes now, or waits.
  void PieceArrives(int source, int point, int64_t piece, PieceItem item);
  void PieceEnds(int source, int point, int64_t piece, int64_t watermark);
  void PassPiece(int source, int point, PieceItem& item, int64_t watermark);

  // ---- record errors (error_policy.cc) --------------------------------------

  void WriteDeadLetters(const std::vector<std::string>& records);

  void HandleErrors(int node, RecordErrors& errors);

  // Dead letters (or, with `failure`, the failure under error_policy fail) of
  // the piece being read: to its source's dead-letter point on worker 0.
  void PieceDeadLetters(std::vector<std::string> texts, bool failure);

  const std::string& SourceName(int source_index) const;

  std::string DescribePosition(const RecordPosition& pos) const;

  static std::string NodeLabel(const PlanNode& n);

  Shared& shared_;
  const PipelinePlan& plan_;
  const RunOptions& options_;
  const int self_;
  RunStats stats_;
  Exchange exchange_;        // after stats_: it counts into stats_.queue_full
  std::vector<int> active_;  // source nodes this worker still reads
  bool stopped_ = false;     // a stop request ended reading (open windows stay open)
  std::vector<NodeState> nodes_;
  RecordErrors errors_;
  std::vector<std::string> dead_letters_;
  std::map<size_t, std::vector<std::string>> recovered_sinks_;  // node -> pre-commit states restored
  int64_t checkpoint_paused_ = 0;                               // the last checkpoint this worker paused for
  int64_t checkpoint_snapshotted_ = 0;                          // ... snapshotted for
  int64_t checkpoint_done_ = 0;                                 // ... is done with
  int savepoints_taken_ = 0;                                    // worker 0: savepoint requests served
  int64_t last_gauges_ms_ = 0;
  std::vector<std::string> preview_rows_;
  std::map<std::pair<int, int>, PieceOrder> piece_orders_;  // (source node, point) on this worker
  // While a piece's records go from its source to its points: errors they
  // cause are dead letters of that piece (the source node, the piece).
  int current_piece_source_ = -1;
  int64_t current_piece_ = -1;
};

}  // namespace streamrun::runtime
