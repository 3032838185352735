// The worker loop and the way records and watermarks go through the graph
// on one worker: sources read in batches, steps run in order, records cross to
// other workers at the exchanges routing.h places, sinks write on worker 0
// (or on every worker for a per-worker sink).
//
// Invariants: a worker's watermark at any point is the minimum over its
// inputs (channels, and at an exchange every sending worker), and only ever
// rises; a record carries the watermark it was judged against; records and
// watermarks from one worker arrive in order (exchange.h).
#include "runner/runtime/worker.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "runner/record/clock.h"
#include "runner/record/json_writer.h"

namespace streamrun::runtime {
namespace {

Batch DeepCopy(const Batch& src) {
  Batch dst(src.width());
  dst.set_read_ms(src.read_ms());
  dst.CopyPieceFrom(src);
  dst.Reserve(src.size());
  for (uint32_t i = 0; i < src.size(); ++i) CopyRow(src, i, dst);
  return dst;
}

uint64_t RawBytes(const Batch& batch) {
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < batch.size(); ++i) bytes += batch.stored(i).size();
  return bytes;
}

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Worker::Worker(Shared& shared, int index)
    : shared_(shared),
      plan_(shared.plan),
      options_(shared.options),
      self_(index),
      exchange_(shared, index, &stats_.queue_full) {
  const int workers = shared.workers;
  stats_.nodes.resize(plan_.nodes.size());
  shared.metrics->SetWorkerStats(index, &stats_);
  nodes_.resize(plan_.nodes.size());
  for (size_t i = 0; i < plan_.nodes.size(); ++i) {
    const PlanNode& n = plan_.nodes[i];
    NodeState& s = nodes_[i];
    s.channel_watermarks.assign(n.inputs.size(), kNoTime);
    switch (n.kind) {
      case PlanNode::Kind::kSource:
        s.source = n.source->Instantiate(Context(i, 0), *n.universe, n.source_index);
        break;
      case PlanNode::Kind::kTransform:
        for (size_t k = 0; k < n.steps.size(); ++k) {
          s.keyed.push_back(
              std::make_unique<KeyedStateService>(shared.dbs.empty() ? nullptr : &shared.dbs[self_]->db(),
                                                  OperatorId(i, k), shared.state_cache_bytes));
          OperatorContext context = Context(i, k);
          context.keyed_state = s.keyed.back().get();
          s.steps.push_back(n.steps[k].plan->Instantiate(context));
        }
        if (n.rebase) s.rebase_decoder = std::make_unique<JsonDecoder>(n.input_universe->projection);
        for (size_t k = 0; k < n.steps.size(); ++k)
          s.outputs.push_back(StepOutput{this, static_cast<int>(i), static_cast<int>(k) + 1});
        s.exchange_watermarks.assign(n.steps.size() + 1, std::vector<int64_t>(workers, kNoTime));
        s.exchange_combined.assign(n.steps.size() + 1, kNoTime);
        break;
      case PlanNode::Kind::kSink:
        // Sinks run on worker 0, the others send it their records; a per-worker
        // sink (Kafka) has an instance on every worker.
        if (self_ == 0 || n.sink->PerWorker()) s.sink = n.sink->Instantiate(Context(i, 0));
        break;
    }
  }
}

void Worker::Prime() {
  if (self_ != 0)
    for (size_t i = 0; i < plan_.nodes.size(); ++i)
      for (size_t k = 0; k < plan_.nodes[i].steps.size(); ++k)
        if (shared_.routing.exchange(i, k) == ExchangeKind::kGather)
          RunWatermark(static_cast<int>(i), static_cast<int>(k), kEndOfTime);
  for (size_t i = 0; i < plan_.nodes.size(); ++i) {
    if (plan_.nodes[i].kind != PlanNode::Kind::kSource) continue;
    if (!nodes_[i].source->Empty()) {
      active_.push_back(static_cast<int>(i));
      continue;
    }
    bool read = false;
    ReadSource(static_cast<int>(i), &read);
    shared_.active_sources.fetch_sub(1);
  }
}

OperatorContext Worker::Context(size_t node, size_t step) const {
  OperatorContext c;
  c.worker = self_;
  c.workers = shared_.workers;
  c.shared = shared_.run_shared[node][step].get();
  c.scope = &shared_.scope;
  c.ordered_pieces = shared_.routing.piece_points(node) != nullptr;
  c.metrics = shared_.metrics->Operator(static_cast<int>(node), self_);
  return c;
}

bool Worker::PrimeExchange() {
  bool progress = exchange_.Flush();
  progress |= DrainIncoming();
  return progress;
}

void Worker::Run() {
  std::vector<int>& active = active_;
  int64_t last_tick = 0;
  bool& stopped = stopped_;
  auto& ckpt = shared_.checkpointing;
  // Each turn's time counts once: blocked (it held records a full queue
  // would not take, so it read nothing: backpressure, charged also to the
  // node whose records wait first), busy (it did something) or idle. One
  // clock reading ends a turn and starts the next.
  enum class Turn { kIdle, kBusy, kBlocked };
  Turn turn = Turn::kIdle;
  int held_node = -1;
  int64_t turn_start = SteadyNs();
  while (!shared_.failed.load(std::memory_order_relaxed)) {
    const int64_t turn_end = SteadyNs();
    const auto took = static_cast<uint64_t>(turn_end - turn_start);
    turn_start = turn_end;
    if (turn == Turn::kBusy) {
      stats_.busy_ns += took;
    } else if (turn == Turn::kBlocked) {
      stats_.blocked_ns += took;
      if (held_node >= 0) stats_.nodes[static_cast<size_t>(held_node)].blocked_ns += took;
    }
    turn = Turn::kIdle;
    bool progress = exchange_.Flush();
    progress |= DrainIncoming();
    if (ckpt.enabled) {
      if (self_ == 0) MaybeStartCheckpoint();
      const int64_t requested = ckpt.requested.load();
      if (requested > checkpoint_done_) {
        // A checkpoint is in progress: read nothing, fire no timers.
        progress |= CheckpointStep(requested);
        if (!progress) std::this_thread::sleep_for(std::chrono::microseconds(50));
        turn = progress ? Turn::kBusy : Turn::kIdle;
        continue;
      }
    }
    if (!stopped && options_.stop && options_.stop->load(std::memory_order_relaxed)) {
      // Stop reading; open windows stay as they are (no end of input).
      stopped = true;
      shared_.active_sources.fetch_sub(static_cast<int>(active.size()));
      active.clear();
    }
    bool read = false;
    // A worker with messages it could not hand on reads nothing new: that is
    // how a full queue pushes back on the sources.
    const bool blocked = exchange_.holding();
    held_node = blocked ? exchange_.held_node() : -1;
    if (!blocked) {
      for (size_t k = 0; k < active.size();) {
        int node = active[k];
        bool more = ReadSource(node, &read);
        if (!more) {
          active.erase(active.begin() + static_cast<long>(k));
          shared_.active_sources.fetch_sub(1);
        } else {
          ++k;
        }
      }
    }
    progress |= read;
    int64_t now = NowMs();
    if (now - last_tick >= 50) {
      last_tick = now;
      ProcessingTime(now);
      if (now - last_gauges_ms_ >= 1000) UpdateGauges();
    }
    turn = blocked ? Turn::kBlocked : progress ? Turn::kBusy : Turn::kIdle;
    if (!progress) {
      if (!exchange_.holding() && shared_.active_sources.load() == 0 && shared_.inflight.load() == 0) {
        ckpt.exited.fetch_add(1);
        break;
      }
      for (auto& n : nodes_)
        if (n.sink) n.sink->Flush();
      std::this_thread::sleep_for(std::chrono::microseconds(active.empty() ? 200 : 20));
    }
  }
}

std::string Worker::HeldBack() const {
  for (size_t i = 0; i < plan_.nodes.size(); ++i)
    if (plan_.nodes[i].kind == PlanNode::Kind::kTransform && nodes_[i].watermark != kEndOfTime)
      return "transform '" + plan_.nodes[i].name + "' on worker " + std::to_string(self_) +
             " ended with its watermark at " + std::to_string(nodes_[i].watermark);
  return {};
}

void Worker::CloseSources() {
  for (auto& n : nodes_)
    if (n.source) n.source->Close();
}

void Worker::CloseSteps() {
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (size_t k = 0; k < nodes_[i].steps.size(); ++k)
      if (self_ == 0 || !shared_.routing.OnWorker0(i, k)) nodes_[i].steps[k]->Close();
}

void Worker::CloseSinks() {
  for (auto& n : nodes_)
    if (n.sink) n.sink->Close();
}

bool Worker::ReadSource(int node, bool* read) {
  Batch batch = TakeBatch(static_cast<uint32_t>(plan_.nodes[node].universe->width));
  batch.Reserve(options_.batch_size);
  errors_.Clear();
  SourceInstance& source = *nodes_[node].source;
  bool more = source.Next(batch, options_.batch_size, errors_);
  if (batch.piece() >= 0) {
    batch.set_piece(node, batch.piece());
    current_piece_source_ = node;
    current_piece_ = batch.piece();
  }
  if (!errors_.empty()) HandleErrors(node, errors_);
  if (!batch.empty()) {
    *read = true;
    shared_.records_read.fetch_add(batch.size(), std::memory_order_relaxed);
    NodeStats& ns = stats_.nodes[node];
    ns.records_out += batch.size();
    ns.bytes_out += RawBytes(batch);
    batch.set_read_ms(NowMs());
    Push(node, kMainPort, batch);
  }
  current_piece_source_ = -1;
  current_piece_ = -1;
  SourceInstance::PieceEnd end;
  while (source.TakePieceEnd(&end)) {
    EndPiece(node, end);
    *read = true;
  }
  RecycleBatch(std::move(batch));
  int64_t watermark = more ? source.Watermark(NowMs()) : kEndOfTime;
  if (watermark > nodes_[node].watermark) {
    nodes_[node].watermark = watermark;
    PushWatermark(node, watermark);
  }
  return more;
}

bool Worker::DrainIncoming() {
  return exchange_.Drain([this](int from, Message& m) { Receive(from, m); });
}

void Worker::Receive(int from, Message& m) {
  switch (m.kind) {
    case Message::Kind::kBatch:
      ArriveAtStep(m.node, m.step, from, m.batch);
      RecycleBatch(std::move(m.batch));
      break;
    case Message::Kind::kWatermark:
      WatermarkArrives(m.node, m.step, from, m.watermark);
      break;
    case Message::Kind::kSinkBatch:
      if (!HoldForPiece(PiecePoint::Kind::kSink, m.node, 0, m.from, m.port, m.batch))
        WriteSink(m.node, m.from, m.port, m.batch);
      break;
    case Message::Kind::kDeadLetters:
      if (m.piece >= 0)
        PieceDeadLettersArrive(m.from, m.piece, std::move(m.dead_letters), m.failure);
      else
        WriteDeadLetters(m.dead_letters);
      break;
    case Message::Kind::kPieceEnd:
      PieceEnds(m.node, m.step, m.piece, m.watermark);
      break;
  }
}

void Worker::Push(int node, int port, Batch& batch) {
  const PlanNode& n = plan_.nodes[node];
  const auto& consumers = port == kLatePort ? n.late_consumers : n.consumers;
  if (port == kLatePort && consumers.empty()) {
    stats_.records_late_dropped += batch.size();
    stats_.nodes[node].late_dropped += batch.size();
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

size_t Worker::Channel(int node, int from, int port) const {
  const PlanNode& n = plan_.nodes[node];
  for (size_t c = 0; c < n.inputs.size(); ++c)
    if (n.inputs[c] == from && n.input_ports[c] == port) return c;
  return 0;
}

void Worker::CombineWatermarks(std::vector<int64_t>& channels, size_t channel, Batch& batch) {
  for (uint32_t i = 0; i < batch.size(); ++i) {
    channels[channel] = std::max(channels[channel], batch.watermark(i));
    batch.set_watermark(i, *std::min_element(channels.begin(), channels.end()));
  }
}

void Worker::Deliver(int node, int from, int port, Batch& batch) {
  const PlanNode& n = plan_.nodes[node];
  if (n.kind == PlanNode::Kind::kSink) {
    if (self_ == 0 || n.sink->PerWorker()) {
      if (!HoldForPiece(PiecePoint::Kind::kSink, node, 0, from, port, batch))
        WriteSink(node, from, port, batch);
    } else {
      Message m;
      m.kind = Message::Kind::kSinkBatch;
      m.node = node;
      m.from = from;
      m.port = port;
      m.batch = DeepCopy(batch);
      exchange_.Send(0, std::move(m));
    }
    return;
  }
  stats_.nodes[node].records_in += batch.size();
  stats_.nodes[node].bytes_in += RawBytes(batch);
  if (n.inputs.size() > 1)
    CombineWatermarks(nodes_[node].channel_watermarks, Channel(node, from, port), batch);
  if (n.rebase) {
    Batch rebased = Rebase(node, plan_.nodes[from].OutputView(port), batch);
    ToStep(node, 0, rebased);
    return;
  }
  ToStep(node, 0, batch);
}

void Worker::WriteSink(int node, int from, int port, const Batch& batch) {
  NodeStats& ns = stats_.nodes[node];
  ns.records_in += batch.size();
  const uint64_t bytes = RawBytes(batch);
  ns.bytes_in += bytes;
  RecordErrors errors;
  const RecordView& view = plan_.nodes[from].OutputView(port);
  nodes_[node].sink->Write(batch, view, errors);
  ns.records_out += batch.size() - errors.list().size();
  if (errors.empty()) ns.bytes_out += bytes;
  SinkWrote(node, view, batch, errors);
  if (!errors.empty()) HandleErrors(node, errors);
}

void Worker::SinkWrote(int node, const RecordView& view, const Batch& batch, const RecordErrors& errors) {
  NodeStats& ns = stats_.nodes[node];
  const int64_t now = NowMs();
  metrics::Histogram::Local event;
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const int64_t t = batch.event_time(i);
    if (t != kNoTime) event.Observe(static_cast<double>(now - t) / 1000);
  }
  ns.latency_event.Add(event);
  if (batch.read_ms() != kNoTime) {
    ns.latency_ingestion.Observe(static_cast<double>(now - batch.read_ms()) / 1000, batch.size());
  }
  if (!plan_.nodes[node].preview || batch.empty() || !shared_.metrics->previews_served()) return;
  // The web view's rows (runner/ui): the last Registry::kPreviewRows of the batch.
  const uint32_t first =
      batch.size() > metrics::Registry::kPreviewRows ? batch.size() - metrics::Registry::kPreviewRows : 0;
  for (uint32_t i = first; i < batch.size(); ++i) {
    std::string text;
    EncodeJson(view, batch.row(i), batch.raw(i), &text);
    preview_rows_.push_back(std::move(text));
  }
  shared_.metrics->AddPreviewRows(node, preview_rows_);
  preview_rows_.clear();
}

void Worker::UpdateGauges() {
  last_gauges_ms_ = NowMs();
  size_t queued = 0, capacity = 0;
  for (int from = 0; from < shared_.workers; ++from) {
    if (from == self_) continue;
    queued += shared_.queues[from][self_]->SizeApprox();
    capacity += kQueueCapacity;
  }
  stats_.queue_fill.set(capacity == 0 ? 0.0 : static_cast<double>(queued) / static_cast<double>(capacity));
  for (size_t i = 0; i < nodes_.size(); ++i) {
    uint64_t bytes = 0;
    for (const auto& keyed : nodes_[i].keyed)
      if (keyed->store() != nullptr) bytes += keyed->store()->MemoryBytes();
    stats_.nodes[i].state_bytes.set(bytes);
  }
}

void Worker::ToStep(int node, int step, Batch& batch) {
  const ExchangeKind exchange =
      shared_.routing.exchange(static_cast<size_t>(node), static_cast<size_t>(step));
  if (exchange == ExchangeKind::kNone) {
    RunSteps(node, step, batch);
    return;
  }
  if (exchange == ExchangeKind::kGather && self_ == 0) {
    ArriveAtStep(node, step, self_, batch);
    return;
  }
  Batch local;
  if (exchange_.Scatter(exchange, node, step, batch, &local)) ArriveAtStep(node, step, self_, local);
  RecycleBatch(std::move(local));
}

void Worker::ArriveAtStep(int node, int step, int from_worker, Batch& batch) {
  if (HoldForPiece(PiecePoint::Kind::kStep, node, step, from_worker, 0, batch)) return;
  CombineWatermarks(nodes_[node].exchange_watermarks[step], static_cast<size_t>(from_worker), batch);
  RunSteps(node, step, batch);
}

void Worker::RunSteps(int node, int step, Batch& batch) {
  const PlanNode& n = plan_.nodes[node];
  if (step == static_cast<int>(n.steps.size())) {
    stats_.nodes[node].records_out += batch.size();
    stats_.nodes[node].bytes_out += RawBytes(batch);
    if (!batch.empty()) Push(node, kMainPort, batch);
    return;
  }
  RecordErrors errors;
  StepEnv env{NowMs(), &errors};
  nodes_[node].steps[step]->Process(batch, env, nodes_[node].outputs[step]);
  if (!errors.empty()) HandleErrors(node, errors);
}

void Worker::PushWatermark(int node, int64_t watermark) {
  const PlanNode& n = plan_.nodes[node];
  stats_.nodes[node].output_watermark.set(watermark);
  for (int c : n.consumers) DeliverWatermark(c, node, kMainPort, watermark);
  for (int c : n.late_consumers) DeliverWatermark(c, node, kLatePort, watermark);
}

void Worker::DeliverWatermark(int node, int from, int port, int64_t watermark) {
  const PlanNode& n = plan_.nodes[node];
  if (n.kind == PlanNode::Kind::kSink && nodes_[node].sink) nodes_[node].sink->OnWatermark(watermark);
  if (n.kind != PlanNode::Kind::kTransform) return;
  NodeState& s = nodes_[node];
  size_t c = Channel(node, from, port);
  s.channel_watermarks[c] = std::max(s.channel_watermarks[c], watermark);
  int64_t combined = *std::min_element(s.channel_watermarks.begin(), s.channel_watermarks.end());
  if (combined <= s.watermark) return;
  s.watermark = combined;
  stats_.nodes[node].input_watermark.set(combined);
  WatermarkToStep(node, 0, combined);
}

void Worker::WatermarkToStep(int node, int step, int64_t watermark) {
  const ExchangeKind exchange =
      shared_.routing.exchange(static_cast<size_t>(node), static_cast<size_t>(step));
  if (exchange == ExchangeKind::kNone) {
    RunWatermark(node, step, watermark);
    return;
  }
  // Every receiver of this exchange hears every worker's watermark.
  exchange_.SendWatermark(exchange, node, step, watermark);
  if (exchange == ExchangeKind::kKeyed || self_ == 0) WatermarkArrives(node, step, self_, watermark);
}

void Worker::WatermarkArrives(int node, int step, int from_worker, int64_t watermark) {
  NodeState& s = nodes_[node];
  auto& channels = s.exchange_watermarks[step];
  channels[from_worker] = std::max(channels[from_worker], watermark);
  int64_t combined = *std::min_element(channels.begin(), channels.end());
  if (combined <= s.exchange_combined[step]) return;
  s.exchange_combined[step] = combined;
  RunWatermark(node, step, combined);
}

void Worker::RunWatermark(int node, int step, int64_t watermark) {
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

void Worker::ProcessingTime(int64_t now) {
  for (size_t i = 0; i < plan_.nodes.size(); ++i) {
    for (size_t k = 0; k < nodes_[i].steps.size(); ++k) {
      RecordErrors errors;
      StepEnv env{now, &errors};
      nodes_[i].steps[k]->OnProcessingTime(now, env, nodes_[i].outputs[k]);
      if (!errors.empty()) HandleErrors(static_cast<int>(i), errors);
    }
  }
}

Batch Worker::Rebase(int node, const RecordView& view, const Batch& batch) {
  const PlanNode& n = plan_.nodes[node];
  Batch out(static_cast<uint32_t>(n.input_universe->width));
  out.set_read_ms(batch.read_ms());
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
      throw RunError(ErrorKind::kInternal, "re-decoding a record for '" + n.name + "': " + error);
    }
  }
  return out;
}

}  // namespace streamrun::runtime
