// dedupe: drop a record whose key was kept within a time bound.
//
// Semantics ("keep first" by event time):
// - A record waits until the watermark passes its event time; then records are
//   judged in RecordOrder (event time; ties by where they were read: source,
//   partition, offset; batch.h). A record at t is dropped when a KEPT record
//   with an equal key, still held, has event time t0 with |t - t0| < within;
//   otherwise it is kept and t is remembered for its key. So of duplicates the
//   one earliest in event time is kept, at every parallelism and however the
//   workers' streams interleave. A late record (t below the watermark when it
//   arrives) is judged at once against what is still held.
// - Kept records leave in event-time order as the watermark releases them, each
//   carrying the watermark before that advance, so they are not late for a
//   window after them. The cost is latency: a record waits about
//   max_out_of_orderness, and the waiting records are held in memory (and in
//   checkpoints) under either backend.
// - Keys compare like `==`: 3 and 3.0 are equal, lists and objects compare by their
//   JSON text ignoring whitespace, null is a valid key (all null keys are equal).
//   The state holds each key's canonical text, not only its hash.
// - State: a kept time t0 is forgotten when the step's watermark W advances to
//   t0 + within or beyond. Memory is bounded by the kept records of roughly the
//   last `within` + out-of-orderness.
// - Under the rocksdb backend (keyed_store.h) the kept times and their expiry
//   timers live in the worker's database, hot keys cached in memory as under
//   window: dedupe of ids that never repeat is not bounded by memory.
// - Without event time, a record's time is the processing time at which the
//   source read it, so the bound is in processing time.
// - A key expression that fails is a record error. Kept records pass unchanged.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "operators/held_record.h"
#include "operators/steps/steps.h"
#include "runner/config/duration.h"
#include "runner/record/value_hash.h"
#include "runner/record/value_key.h"
#include "runner/state/keyed_store.h"

namespace streamrun {

const config::ComponentSpec& DedupeSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kStep;
    s.name = "dedupe";
    s.summary = "Drop a record whose key was seen within a time bound.";
    s.description =
        "The first record of a key by event time is kept; a record whose event time is less than "
        "`within` away (before or after) from a kept record with an equal key is dropped. Records wait "
        "until the watermark passes their event time and are then judged in event-time order (ties: the "
        "record read first from its source), so the result is the same at every parallelism; kept records "
        "leave in event-time order, about `max_out_of_orderness` later than they came. A late record "
        "(behind the watermark when it arrives) is judged at once. Keys compare like `==` (3 equals 3.0); "
        "null is a valid key. A kept time is forgotten once the watermark reaches it plus `within`, so "
        "state is bounded. Without event time the bound is in processing time. A key expression that "
        "fails is a record error. Kept records pass unchanged.";
    s.value = Required(
        Obj("",
            {Required(Example(Expr("key", "Expression giving the key records are compared by."), "order_id")),
             Required(Example(Dur("within",
                                  "How far apart in event time two records with an equal key must be "
                                  "for both to be kept (a positive duration)."),
                              "10m"))},
            "The key and the time bound."));
    s.example =
        "- dedupe: { key: order_id, within: 10m }\n- dedupe:\n    key: concat(user_id, ':', session)\n"
        "    within: 1h";
    return s;
  }();
  return spec;
}

namespace {

// A key's kept times (usually one).
struct KeptTimes {
  std::vector<int64_t> times;
};

// Kept times in checkpoints and the database: a count, then the times. Each
// kept time t0 has a timer at t0 + within (keyed_store.h), when it is forgotten.
class KeptCodec {
 public:
  explicit KeptCodec(int64_t within) : within_(within) {}
  void Save(const KeptTimes& k, SnapshotWriter& w) const {
    w.U64(k.times.size());
    for (int64_t t : k.times) w.I64(t);
  }
  void Load(SnapshotReader& r, KeptTimes* k, int) const {
    k->times.resize(r.Count());
    for (auto& t : k->times) t = r.I64();
  }
  uint64_t Bytes(const KeptTimes& k) const { return k.times.capacity() * sizeof(int64_t); }
  void LegacyTimers(const KeptTimes& k, std::vector<KeyedTimer>* timers) const {
    for (int64_t t : k.times) timers->push_back(KeyedTimer{SaturatingAdd(t, within_), 0, 0});
  }

 private:
  int64_t within_;
};

class DedupeInstance : public StepInstance {
 public:
  DedupeInstance(const expr::Expression* key, int64_t within_ms, KeyedStateService& keyed)
      : key_(key), within_(within_ms), state_(keyed, KeptCodec(within_ms), TimerLayout::kTime) {}

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    if (width_ != batch.width()) {
      width_ = batch.width();
      out_ = Batch(width_);
    }
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    for (uint32_t i = 0; i < batch.size(); ++i) {
      if (batch.watermark(i) > watermark_) Release(batch.watermark(i), out);
      Value v;
      if (!key_->Eval(batch.row(i), ctx, &v)) {
        env.errors->Fail(batch, i, "dedupe: key " + key_->text() + ": " + ctx.error);
        ctx.error.clear();
        continue;
      }
      scratch_.clear();
      AppendValueKey(v, &scratch_);
      const int64_t t = batch.event_time(i);
      const uint32_t group = KeyGroupOf(Mix64(HashBytes(scratch_, 0x646564)));
      if (t < watermark_) {
        // Late: everything before it in event time has been judged; judge it now.
        if (Judge(group, scratch_, t)) CopyRow(batch, i, out_);
        continue;
      }
      Hold(batch, i, group);
    }
    Flush(out);
  }

  void OnWatermark(int64_t watermark, StepEnv&, Emitter& out) override {
    Release(watermark, out);
    Flush(out);
    out.EmitWatermark(watermark);
  }

  // Global: the watermark and the records still waiting for it. The kept
  // times and their timers are the store's.
  void Snapshot(StateSnapshot& out) override {
    SnapshotWriter w(&out.global);
    w.I64(watermark_);
    // The records still waiting for the watermark, with everything they carry.
    w.U64(held_.size());
    for (const Held& h : held_) SaveHeld(h, w);  // in any order: a restore makes the heap again
  }

  void Restore(const StateRestore& in) override {
    for (const auto& global : in.globals) {
      if (global.empty()) continue;
      SnapshotReader r(global);
      watermark_ = std::max(watermark_, r.I64());
      if (r.done()) continue;  // written before records were held
      for (uint64_t n = r.U64(); n > 0; --n) LoadHeld(r);
    }
  }

 private:
  // A record waiting until the watermark passes its event time: records are
  // judged in RecordOrder (event time, then where they were read), so which of
  // two duplicates is kept does not depend on how the workers' streams
  // interleave.
  struct Held {
    RecordOrder order;  // its event time first (RecordOrder, batch.h)
    uint64_t chunk;     // where its copy is (see chunks_)
    uint32_t row;
    uint32_t group;
    std::string key;  // canonical key
    bool operator>(const Held& o) const { return o.order < order; }
  };
  // Held copies live in chunks of up to a batch; a chunk is freed once every
  // row of it was released. Records arrive roughly in time order, so chunks
  // free roughly first in, first out.
  struct HeldChunk {
    Batch batch;
    uint32_t live = 0;
  };

  HeldChunk& Chunk(uint64_t id) { return chunks_[id - chunks_base_]; }

  // A copy of row `i` waits for the watermark.
  void Hold(const Batch& batch, uint32_t i, uint32_t group) {
    if (chunks_.empty() || chunks_.back().batch.size() >= kDefaultBatchSize ||
        chunks_.back().batch.width() != batch.width())
      chunks_.push_back(HeldChunk{Batch(batch.width()), 0});
    HeldChunk& c = chunks_.back();
    CopyRow(batch, i, c.batch);
    ++c.live;
    held_.push_back(Held{RecordOrder::Of(batch, i, seq_++), chunks_base_ + chunks_.size() - 1,
                         c.batch.size() - 1, group, scratch_});
    std::push_heap(held_.begin(), held_.end(), std::greater<Held>());
  }

  // The watermark reaches `watermark`: the held records before it are judged
  // in order (and carry the watermark before this advance), then kept times
  // that no later record can be within the bound of are forgotten.
  void Release(int64_t watermark, Emitter& out) {
    const int64_t before = watermark_;
    while (!held_.empty() && held_.front().order.time < watermark) {
      std::pop_heap(held_.begin(), held_.end(), std::greater<Held>());
      const Held& h = held_.back();
      HeldChunk& c = Chunk(h.chunk);
      if (Judge(h.group, h.key, h.order.time)) {
        CopyRow(c.batch, h.row, out_);
        out_.set_watermark(out_.size() - 1, before);
        if (out_.size() >= kDefaultBatchSize) Flush(out);
      }
      --c.live;
      held_.pop_back();
      while (!chunks_.empty() && chunks_.front().live == 0 && chunks_.size() > 1) {
        chunks_.pop_front();
        ++chunks_base_;
      }
    }
    if (held_.empty()) {
      chunks_.clear();
      chunks_base_ = 0;
    }
    Advance(watermark);
  }

  void Flush(Emitter& out) {
    if (out_.empty()) return;
    out.Emit(out_);
    out_.Clear(width_);
  }

  // True if a record of `key` at `t` is kept: no kept record of the key is
  // less than `within` away. A kept time is remembered until t + within.
  bool Judge(uint32_t group, std::string_view key, int64_t t) {
    bool created = false;
    KeptTimes* kept = state_.SetCurrentKey(group, key, true, &created);
    if (!created)
      for (int64_t t0 : kept->times)
        // |t - t0| < within, without overflow.
        if (t < SaturatingAdd(t0, within_) && t0 < SaturatingAdd(t, within_)) return false;
    kept->times.push_back(t);
    state_.RegisterTimer(KeyedTimer{SaturatingAdd(t, within_), 0, 0});
    return true;
  }
  // A held record as operators/held_record.h writes it, with its key group
  // and key between the two halves.
  void SaveHeld(const Held& h, SnapshotWriter& w) {
    const Batch& b = Chunk(h.chunk).batch;
    SaveHeldPosition(b, h.row, w);
    w.U64(h.group);
    w.Str(h.key);
    SaveHeldBody(b, h.row, w);
  }

  void LoadHeld(SnapshotReader& r) {
    const HeldPosition at = LoadHeldPosition(r);
    const uint64_t group = r.U64();
    if (group >= kKeyGroups)
      throw SnapshotError("state snapshot: dedupe: key group " + std::to_string(group));
    scratch_.assign(r.Str());
    Batch one(width_);
    const uint32_t row = LoadHeldBody(r, at, one);
    if (width_ == 0) {
      width_ = one.width();
      out_ = Batch(width_);
    }
    Hold(one, row, static_cast<uint32_t>(group));
  }

  // W = max(W, w); forgets kept times that no record at or after W can be within the bound of.
  void Advance(int64_t w) {
    if (w <= watermark_) return;
    watermark_ = w;
    state_.AdvanceTo(watermark_, [&](const KeyedTimer&, KeptTimes& kept) {
      kept.times.erase(std::remove_if(kept.times.begin(), kept.times.end(),
                                      [&](int64_t t0) { return SaturatingAdd(t0, within_) <= watermark_; }),
                       kept.times.end());
      if (kept.times.empty()) state_.EraseCurrent();
    });
  }

  const expr::Expression* key_;
  int64_t within_;
  int64_t watermark_ = kNoTime;
  // Canonical key -> event times of the kept records still held (usually one).
  KeyedStore<KeptTimes, KeptCodec> state_;
  std::string scratch_;
  // Records waiting for the watermark (memory under either backend: they are
  // at most the input's out-of-orderness long).
  std::vector<Held> held_;  // a min-heap by RecordOrder (std::push_heap with std::greater)
  std::deque<HeldChunk> chunks_;
  uint64_t chunks_base_ = 0;  // id of chunks_.front()
  uint64_t seq_ = 0;
  uint32_t width_ = 0;
  Batch out_;
};
class DedupePlan : public StepPlan {
 public:
  DedupePlan(std::unique_ptr<expr::Expression> key, int64_t within_ms)
      : key_(std::move(key)), within_(within_ms) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext& context) const override {
    return std::make_unique<DedupeInstance>(key_.get(), within_, *context.keyed_state);
  }
  std::string Describe() const override {
    return "dedupe key " + key_->text() + " within " + config::FormatDurationMs(within_);
  }
  // Its key is its own expression, not the key_by key: one instance sees all records.
  bool NeedsAllRecords() const override { return true; }

 private:
  std::unique_ptr<expr::Expression> key_;
  int64_t within_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanDedupe(const config::ConfNode& value, PlanContext& ctx) {
  if (!value.IsMap()) {
    ctx.Error(value.mark, "expected {key: EXPR, within: DURATION}");
    return nullptr;
  }
  const config::Options o = ctx.Options(value, DedupeSpec());
  const config::ConfNode* key_node = o.Node("key");
  const std::optional<int64_t> within = o.OptDurationMs("within");
  auto key = key_node ? ctx.Compile(*key_node) : nullptr;
  if (!key_node || !within) return nullptr;  // reported by the spec check
  if (*within <= 0 || *within > 36500LL * 24 * 3600 * 1000) {
    ctx.Error(o.Node("within")->mark, "within must be a positive duration of at most 36500d (100 years)");
    return nullptr;
  }
  if (!key || !within) return nullptr;
  return std::make_unique<DedupePlan>(std::move(key), *within);
}

}  // namespace streamrun
