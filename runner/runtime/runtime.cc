#include "runner/runtime/runtime.h"

#include <algorithm>
#include <chrono>

#include "runner/expr/expr.h"
#include "runner/record/clock.h"
#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"

namespace streamrun {

std::string DeadLetterJson(const RecordError& error, const std::string& source_name,
                           const std::string& position_text, const std::string& node_name) {
  std::string out = "{\"error\":";
  AppendJsonString(error.message, &out);
  out += ",\"node\":";
  AppendJsonString(node_name, &out);
  out += ",\"source\":";
  AppendJsonString(source_name, &out);
  out += ",\"position\":";
  AppendJsonString(position_text, &out);
  out += ",\"partition\":" + std::to_string(error.position.partition);
  out += ",\"offset\":" + std::to_string(error.position.offset);
  if (error.position.line > 0) out += ",\"line\":" + std::to_string(error.position.line);
  out += ",\"raw\":";
  AppendJsonString(error.raw, &out);
  out += "}";
  return out;
}

namespace {

class Worker {
 public:
  Worker(const PipelinePlan& plan, const RunOptions& options) : plan_(plan), options_(options) {
    stats_.nodes.resize(plan.nodes.size());
    nodes_.resize(plan.nodes.size());
    for (size_t i = 0; i < plan.nodes.size(); ++i) {
      const PlanNode& n = plan.nodes[i];
      NodeState& s = nodes_[i];
      s.channel_watermarks.assign(n.inputs.size(), kNoTime);
      switch (n.kind) {
        case PlanNode::Kind::kSource:
          s.source = n.source->Instantiate(*n.universe, n.source_index);
          break;
        case PlanNode::Kind::kTransform:
          for (const auto& step : n.steps) s.steps.push_back(step.plan->Instantiate());
          if (n.rebase) s.rebase_decoder = std::make_unique<JsonDecoder>(n.input_universe->projection);
          for (size_t k = 0; k < n.steps.size(); ++k)
            s.outputs.push_back(StepOutput{this, static_cast<int>(i), static_cast<int>(k) + 1});
          break;
        case PlanNode::Kind::kSink:
          s.sink = n.sink->Instantiate();
          break;
      }
    }
  }

  RunStats Run() {
    auto start = std::chrono::steady_clock::now();
    std::vector<int> active;
    for (size_t i = 0; i < plan_.nodes.size(); ++i)
      if (plan_.nodes[i].kind == PlanNode::Kind::kSource) active.push_back(static_cast<int>(i));
    // Round-robin over the sources, one batch each, until all are done. After
    // each batch the source's watermark follows it downstream.
    while (!active.empty()) {
      bool idle = true;
      for (size_t k = 0; k < active.size();) {
        int node = active[k];
        if (options_.stop && options_.stop->load(std::memory_order_relaxed)) {
          active.clear();
          break;
        }
        Batch batch(static_cast<uint32_t>(plan_.nodes[node].universe->width));
        batch.Reserve(options_.batch_size);
        errors_.Clear();
        bool more = nodes_[node].source->Next(batch, options_.batch_size, errors_);
        if (!errors_.empty()) HandleErrors(node, errors_);
        if (!batch.empty()) {
          idle = false;
          stats_.nodes[node].records_out += batch.size();
          Push(node, kMainPort, batch);
        }
        int64_t watermark = more ? nodes_[node].source->Watermark(NowMs()) : kEndOfTime;
        if (watermark > nodes_[node].watermark) {
          nodes_[node].watermark = watermark;
          PushWatermark(node, watermark);
        }
        if (!more) {
          active.erase(active.begin() + static_cast<long>(k));
        } else {
          ++k;
        }
      }
      ProcessingTime();
      // Nothing new from any source: hand what the sinks buffer to their
      // destinations rather than hold it until more arrives.
      if (idle)
        for (auto& n : nodes_)
          if (n.sink) n.sink->Flush();
    }
    // A stop request leaves open windows as they are; a finished input has
    // already sent the final watermark, which fired them.
    for (size_t i = 0; i < plan_.nodes.size(); ++i)
      if (nodes_[i].sink) nodes_[i].sink->Close();
    stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return stats_;
  }

 private:
  struct StepOutput : Emitter {
    StepOutput(Worker* w, int node, int next) : worker(w), node(node), next_step(next) {}
    void Emit(Batch& batch) override { worker->RunSteps(node, next_step, batch); }
    void EmitWatermark(int64_t watermark) override { worker->RunWatermark(node, next_step, watermark); }
    void EmitLate(Batch& batch) override { worker->Push(node, kLatePort, batch); }
    Worker* worker;
    int node;
    int next_step;
  };

  struct NodeState {
    std::unique_ptr<SourceInstance> source;
    std::vector<std::unique_ptr<StepInstance>> steps;
    std::vector<StepOutput> outputs;  // outputs[k]: where step k emits
    std::unique_ptr<JsonDecoder> rebase_decoder;
    std::unique_ptr<SinkInstance> sink;
    std::vector<int64_t> channel_watermarks;  // per input
    int64_t watermark = kNoTime;              // the minimum over the inputs, as passed on
    std::string scratch;
  };

  // Sends `batch`, produced by `node` on `port`, to every consumer of that port.
  // The last consumer gets the batch itself; the others get copies sharing its arena.
  void Push(int node, int port, Batch& batch) {
    const PlanNode& n = plan_.nodes[node];
    const auto& consumers = port == kLatePort ? n.late_consumers : n.consumers;
    if (port == kLatePort && consumers.empty()) {
      stats_.records_late_dropped += batch.size();
      return;
    }
    for (size_t c = 0; c < consumers.size(); ++c) {
      if (c + 1 == consumers.size()) {
        Deliver(consumers[c], node, port, batch);
      } else {
        Batch copy = batch.ShallowCopy();
        Deliver(consumers[c], node, port, copy);
      }
    }
  }

  // The index of (from, port) among `node`'s inputs.
  size_t Channel(int node, int from, int port) const {
    const PlanNode& n = plan_.nodes[node];
    for (size_t c = 0; c < n.inputs.size(); ++c)
      if (n.inputs[c] == from && n.input_ports[c] == port) return c;
    return 0;
  }

  void Deliver(int node, int from, int port, Batch& batch) {
    const PlanNode& n = plan_.nodes[node];
    stats_.nodes[node].records_in += batch.size();
    if (n.kind == PlanNode::Kind::kSink) {
      nodes_[node].sink->Write(batch, plan_.nodes[from].OutputView(port));
      stats_.nodes[node].records_out += batch.size();
      return;
    }
    if (n.inputs.size() > 1) {
      // Each record is judged against the minimum over the inputs, with its own
      // input at the watermark the record carries.
      NodeState& s = nodes_[node];
      size_t c = Channel(node, from, port);
      for (uint32_t i = 0; i < batch.size(); ++i) {
        s.channel_watermarks[c] = std::max(s.channel_watermarks[c], batch.watermark(i));
        batch.set_watermark(i, *std::min_element(s.channel_watermarks.begin(), s.channel_watermarks.end()));
      }
    }
    if (n.rebase) {
      Batch rebased = Rebase(node, plan_.nodes[from].OutputView(port), batch);
      RunSteps(node, 0, rebased);
      return;
    }
    RunSteps(node, 0, batch);
  }

  // Sends a watermark from `node` to the consumers of both its ports.
  void PushWatermark(int node, int64_t watermark) {
    const PlanNode& n = plan_.nodes[node];
    for (int c : n.consumers) DeliverWatermark(c, node, kMainPort, watermark);
    for (int c : n.late_consumers) DeliverWatermark(c, node, kLatePort, watermark);
  }

  void DeliverWatermark(int node, int from, int port, int64_t watermark) {
    const PlanNode& n = plan_.nodes[node];
    if (n.kind != PlanNode::Kind::kTransform) return;
    NodeState& s = nodes_[node];
    size_t c = Channel(node, from, port);
    s.channel_watermarks[c] = std::max(s.channel_watermarks[c], watermark);
    int64_t combined = *std::min_element(s.channel_watermarks.begin(), s.channel_watermarks.end());
    if (combined <= s.watermark) return;
    s.watermark = combined;
    RunWatermark(node, 0, combined);
  }

  void RunWatermark(int node, int step, int64_t watermark) {
    const PlanNode& n = plan_.nodes[node];
    if (step == static_cast<int>(n.steps.size())) {
      PushWatermark(node, watermark);
      return;
    }
    RecordErrors errors;
    StepEnv env{NowMs(), &errors};
    nodes_[node].steps[step]->OnWatermark(watermark, env, nodes_[node].outputs[step]);
    if (!errors.empty()) HandleErrors(node, errors);
  }

  void ProcessingTime() {
    int64_t now = NowMs();
    for (size_t i = 0; i < plan_.nodes.size(); ++i) {
      for (size_t k = 0; k < nodes_[i].steps.size(); ++k) {
        RecordErrors errors;
        StepEnv env{now, &errors};
        nodes_[i].steps[k]->OnProcessingTime(now, env, nodes_[i].outputs[k]);
        if (!errors.empty()) HandleErrors(static_cast<int>(i), errors);
      }
    }
  }

  // Re-encodes records through the producer's view and decodes them into
  // `node`'s own slots.
  Batch Rebase(int node, const RecordView& view, const Batch& batch) {
    const PlanNode& n = plan_.nodes[node];
    Batch out(static_cast<uint32_t>(n.input_universe->width));
    out.Reserve(batch.size());
    std::string& text = nodes_[node].scratch;
    std::string error;
    for (uint32_t i = 0; i < batch.size(); ++i) {
      std::string_view raw = batch.raw(i);
      if (view.modified()) {
        text.clear();
        EncodeJson(view, batch.row(i), raw, &text);
        raw = text;
      }
      std::string_view copy = out.arena().Copy(raw, JsonPadding());
      uint32_t row = out.AddRow(copy, batch.position(i), batch.event_time(i));
      out.set_key_hash(row, batch.key_hash(i));
      out.set_watermark(row, batch.watermark(i));
      if (!nodes_[node].rebase_decoder->Decode(copy, out.row(row), out.arena(), &error)) {
        throw RunError("internal error: re-decoding a record for '" + n.name + "': " + error);
      }
    }
    return out;
  }

  void RunSteps(int node, int step, Batch& batch) {
    const PlanNode& n = plan_.nodes[node];
    if (step == static_cast<int>(n.steps.size())) {
      stats_.nodes[node].records_out += batch.size();
      if (!batch.empty()) Push(node, kMainPort, batch);
      return;
    }
    RecordErrors errors;
    StepEnv env{NowMs(), &errors};
    nodes_[node].steps[step]->Process(batch, env, nodes_[node].outputs[step]);
    if (!errors.empty()) HandleErrors(node, errors);
  }

  void HandleErrors(int node, RecordErrors& errors) {
    const PlanNode& n = plan_.nodes[node];
    stats_.nodes[node].errors += errors.list().size();
    for (const RecordError& e : errors.list()) {
      const std::string& source_name = SourceName(e.position.source);
      std::string where = DescribePosition(e.position);
      std::string full = where + " (partition " + std::to_string(e.position.partition) + ", offset " +
                         std::to_string(e.position.offset) + ")";
      switch (plan_.error_policy) {
        case ErrorPolicy::kFail:
          throw RunError("record error in " + NodeLabel(n) + " at " + full + ": " + e.message);
        case ErrorPolicy::kSkip:
          ++stats_.records_skipped;
          break;
        case ErrorPolicy::kDeadLetter:
          dead_letters_.push_back(DeadLetterJson(e, source_name, where, n.name));
          ++stats_.records_dead_lettered;
          break;
      }
    }
    errors.Clear();
    if (!dead_letters_.empty()) {
      int dlq = plan_.dead_letter_sink;
      stats_.nodes[dlq].records_in += dead_letters_.size();
      stats_.nodes[dlq].records_out += dead_letters_.size();
      nodes_[dlq].sink->WriteEncoded(dead_letters_);
      dead_letters_.clear();
    }
  }

  const std::string& SourceName(int source_index) const {
    static const std::string kUnknown = "?";
    for (const auto& n : plan_.nodes)
      if (n.kind == PlanNode::Kind::kSource && n.source_index == source_index) return n.name;
    return kUnknown;
  }

  std::string DescribePosition(const RecordPosition& pos) const {
    for (size_t i = 0; i < plan_.nodes.size(); ++i) {
      const auto& n = plan_.nodes[i];
      if (n.kind == PlanNode::Kind::kSource && n.source_index == pos.source)
        return nodes_[i].source->DescribePosition(pos);
    }
    return "?";
  }

  static std::string NodeLabel(const PlanNode& n) {
    switch (n.kind) {
      case PlanNode::Kind::kSource:
        return "source '" + n.name + "'";
      case PlanNode::Kind::kTransform:
        return "transform '" + n.name + "'";
      case PlanNode::Kind::kSink:
        return "sink '" + n.name + "'";
    }
    return n.name;
  }

  const PipelinePlan& plan_;
  const RunOptions& options_;
  RunStats stats_;
  std::vector<NodeState> nodes_;
  RecordErrors errors_;
  std::vector<std::string> dead_letters_;
};

}  // namespace

RunStats Run(const PipelinePlan& plan, const RunOptions& options) {
  try {
    Worker worker(plan, options);
    return worker.Run();
  } catch (const RunError&) {
    throw;
  } catch (const std::exception& e) {
    throw RunError(e.what());
  }
}

}  // namespace streamrun
