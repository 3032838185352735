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
// - Under the rocksdb backend (state_db.h) the kept times and their expiry
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

#include "operators/steps/aggregates.h"
#include "operators/steps/steps.h"
#include "runner/config/duration.h"
#include "runner/record/json_decoder.h"
#include "runner/record/value_hash.h"
#include "runner/record/value_key.h"
#include "runner/state/keyed_state.h"

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
  bool dirty = false;   // rocksdb: changed since written to the database
  bool stored = false;  // rocksdb: the database has an entry for it
};

// rocksdb: `0x00 key` -> the kept times; `0x01 at(8) key` -> "" (a kept time
// expires at `at`; time-ordered, each key group's earliest in next_expiry_).
constexpr char kTimesSpace = 0x00;
constexpr char kExpirySpace = 0x01;
constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();

class DedupeInstance : public StepInstance {
 public:
  DedupeInstance(const expr::Expression* key, int64_t within_ms) : key_(key), within_(within_ms) {
    next_expiry_.fill(kNoExpiry);
  }

  bool UseStateDb(const StateDbContext& context) override {
    db_ = context;
    return true;
  }

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
    MaybeEvict();
    Flush(out);
  }

  void OnWatermark(int64_t watermark, StepEnv&, Emitter& out) override {
    Release(watermark, out);
    Flush(out);
    out.EmitWatermark(watermark);
  }

  // Per key group: each key and its kept event times (the expiry queue follows
  // from them). Global: the watermark.
  // Under rocksdb the changed keys are written back instead: the runtime
  // checkpoints the database (expiry timers included).
  void Snapshot(StateSnapshot& out) override {
    state_.ForEach([&](uint32_t group, const std::string& key, KeptTimes& kept) {
      if (db_.db) {
        WriteBack(group, key, kept);
        return;
      }
      SnapshotWriter w(&out.groups[group]);
      w.Str(key);
      w.U64(kept.times.size());
      for (int64_t t : kept.times) w.I64(t);
    });
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
    for (uint32_t group = 0; group < kKeyGroups; ++group) {
      SnapshotReader r(in.groups[group]);
      while (!r.done()) {
        const std::string key(r.Str());
        KeptTimes& kept = state_.GetOrCreate(group, key);
        kept.dirty = true;
        for (uint64_t n = r.U64(); n > 0; --n) {
          kept.times.push_back(r.I64());
          Schedule(group, key, SaturatingAdd(kept.times.back(), within_));
        }
        cache_used_ += KeyCost(key, kept);
        MaybeEvict();
      }
    }
    if (db_.db)
      for (uint32_t group = 0; group < kKeyGroups; ++group) NextExpiry(group);
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
    MaybeEvict();
    Advance(watermark);
  }

  void Flush(Emitter& out) {
    if (out_.empty()) return;
    out.Emit(out_);
    out_.Clear(width_);
  }

  // True if a record of `key` at `t` is kept: no kept record of the key is
  // less than `within` away. A kept time is remembered.
  bool Judge(uint32_t group, std::string_view key, int64_t t) {
    bool created = false;
    KeptTimes* kept = db_.db ? FindKey(group, key) : nullptr;
    if (!kept) {
      kept = &state_.GetOrCreate(group, key, &created);
      if (created) cache_used_ += KeyCost(key, *kept);
    }
    if (!created)
      for (int64_t t0 : kept->times)
        // |t - t0| < within, without overflow.
        if (t < SaturatingAdd(t0, within_) && t0 < SaturatingAdd(t, within_)) return false;
    kept->times.push_back(t);
    kept->dirty = true;
    cache_used_ += sizeof(int64_t);
    Schedule(group, key, SaturatingAdd(t, within_));
    return true;
  }

  void SaveHeld(const Held& h, SnapshotWriter& w) {
    const Batch& b = Chunk(h.chunk).batch;
    w.I64(h.order.time);
    w.I64(h.order.source);
    w.I64(h.order.topic);
    w.I64(h.order.partition);
    w.I64(h.order.offset);
    w.I64(b.position(h.row).line);
    w.U64(h.group);
    w.Str(h.key);
    w.U64(b.key_hash(h.row));
    w.I64(b.watermark(h.row));
    w.Str(b.raw(h.row));
    w.U64(b.width());
    StoredValue stored;
    for (uint32_t s = 0; s < b.width(); ++s) {
      stored.Set(b.row(h.row)[s]);
      stored.Save(w);
    }
  }

  void LoadHeld(SnapshotReader& r) {
    RecordPosition p;
    const int64_t t = r.I64();
    p.source = static_cast<int32_t>(r.I64());
    p.topic = static_cast<int32_t>(r.I64());
    p.partition = static_cast<int32_t>(r.I64());
    p.offset = r.I64();
    p.line = r.I64();
    const uint64_t group = r.U64();
    if (group >= kKeyGroups)
      throw SnapshotError("state snapshot: dedupe: key group " + std::to_string(group));
    scratch_.assign(r.Str());
    const uint64_t key_hash = r.U64();
    const int64_t row_watermark = r.I64();
    const std::string_view raw = r.Str();
    const uint64_t width = r.U64();
    if (width > 65536 || (width != width_ && width_ != 0))
      throw SnapshotError("state snapshot: dedupe: a held record has " + std::to_string(width) +
                          " fields, this pipeline " + std::to_string(width_));
    if (width_ == 0) {
      width_ = static_cast<uint32_t>(width);
      out_ = Batch(width_);
    }
    Batch one(static_cast<uint32_t>(width));
    const std::string_view raw_copy = raw.empty() ? raw : one.arena().Copy(raw, JsonPadding());
    const uint32_t row = one.AddRow(raw_copy, p, t);
    one.set_key_hash(row, key_hash);
    one.set_watermark(row, row_watermark);
    StoredValue stored;
    for (uint32_t s = 0; s < width; ++s) {
      stored.Load(r);
      Value v = stored.Get();
      if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject)
        v.str = one.arena().Copy(v.text()).data();
      one.row(row)[s] = v;
    }
    Hold(one, row, static_cast<uint32_t>(group));
  }

  struct Expiry {
    int64_t at;  // kept time + within: forget it once W >= at
    uint32_t group;
    std::string key;
    bool operator>(const Expiry& o) const { return at > o.at; }
  };

  // W = max(W, w); forgets kept times that no record at or after W can be within the bound of.
  void Advance(int64_t w) {
    if (w <= watermark_) return;
    watermark_ = w;
    if (db_.db) {
      AdvanceStored();
      return;
    }
    while (!expiry_.empty() && expiry_.top().at <= watermark_) {
      const Expiry& e = expiry_.top();
      if (auto* kept = state_.Find(e.group, e.key)) Forget(e.group, e.key, *kept);
      expiry_.pop();
    }
  }

  // Drops the key's expired times; the key goes when none is left.
  void Forget(uint32_t group, std::string_view key, KeptTimes& kept) {
    const size_t before = kept.times.size();
    kept.times.erase(std::remove_if(kept.times.begin(), kept.times.end(),
                                    [&](int64_t t0) { return SaturatingAdd(t0, within_) <= watermark_; }),
                     kept.times.end());
    if (kept.times.size() == before) return;
    kept.dirty = true;
    cache_used_ -= std::min(cache_used_, (before - kept.times.size()) * sizeof(int64_t));
    if (!kept.times.empty()) return;
    cache_used_ -= std::min(cache_used_, KeyCost(key, kept));
    if (db_.db && kept.stored) db_.db->Delete(group, db_.op, StateKey(key));
    state_.Erase(group, key);  // finds the entry before freeing it: `key` may be the table's own
  }

  // ---- rocksdb ----------------------------------------------------------------

  uint64_t KeyCost(std::string_view key, const KeptTimes& kept) const {
    return 96 + key.size() + kept.times.size() * sizeof(int64_t);
  }
  const std::string& StateKey(std::string_view key) {
    db_key_.assign(1, kTimesSpace);
    db_key_.append(key);
    return db_key_;
  }

  void Schedule(uint32_t group, std::string_view key, int64_t at) {
    if (!db_.db) {
      expiry_.push(Expiry{at, group, std::string(key)});
      return;
    }
    timer_key_.assign(1, kExpirySpace);
    AppendOrderedTime(at, &timer_key_);
    timer_key_.append(key);
    db_.db->Put(group, db_.op, timer_key_, {});
    next_expiry_[group] = std::min(next_expiry_[group], at);
  }

  void NextExpiry(uint32_t group) {
    next_expiry_[group] = kNoExpiry;
    db_.db->Scan(group, db_.op, std::string_view(&kExpirySpace, 1),
                 [&](std::string_view k, std::string_view) {
                   next_expiry_[group] = ReadOrderedTime(k.substr(1));
                   return false;
                 });
  }

  // The key's times: in memory, else read from the database into memory.
  KeptTimes* FindKey(uint32_t group, std::string_view key) {
    if (KeptTimes* kept = state_.Find(group, key)) return kept;
    if (!db_.db->Get(group, db_.op, StateKey(key), &db_value_)) return nullptr;
    KeptTimes& kept = state_.GetOrCreate(group, key);
    kept.stored = true;
    SnapshotReader r(db_value_);
    kept.times.resize(r.Count());
    for (auto& t : kept.times) t = r.I64();
    cache_used_ += KeyCost(key, kept);
    return &kept;
  }

  void WriteBack(uint32_t group, std::string_view key, KeptTimes& kept) {
    if (!kept.dirty) return;
    db_value_.clear();
    SnapshotWriter w(&db_value_);
    w.U64(kept.times.size());
    for (int64_t t : kept.times) w.I64(t);
    db_.db->Put(group, db_.op, StateKey(key), db_value_);
    kept.dirty = false;
    kept.stored = true;
  }

  // Past the cache budget, whole key groups are written back and dropped until
  // half of it is used (as window does).
  void MaybeEvict() {
    if (!db_.db) return;
    EvictKeyGroups(state_, db_.cache_bytes, &cache_used_, &evict_cursor_,
                   [&](uint32_t group, const std::string& key, KeptTimes& kept) {
                     WriteBack(group, key, kept);
                     cache_used_ -= std::min(cache_used_, KeyCost(key, kept));
                   });
  }

  // Each key group's due expiry timers: the keys forget their expired times.
  void AdvanceStored() {
    for (uint32_t group = 0; group < kKeyGroups; ++group) {
      if (next_expiry_[group] > watermark_) continue;
      next_expiry_[group] = kNoExpiry;
      db_.db->Scan(group, db_.op, std::string_view(&kExpirySpace, 1),
                   [&](std::string_view k, std::string_view) {
                     const int64_t at = ReadOrderedTime(k.substr(1));
                     if (at > watermark_) {
                       next_expiry_[group] = at;
                       return false;
                     }
                     db_.db->Delete(group, db_.op, k);
                     const std::string_view key = k.substr(9);  // the iterator's: valid through this call
                     if (KeptTimes* kept = FindKey(group, key)) Forget(group, key, *kept);
                     MaybeEvict();
                     return true;
                   });
    }
  }

  const expr::Expression* key_;
  int64_t within_;
  int64_t watermark_ = kNoTime;
  // Canonical key -> event times of the kept records still held (usually one);
  // under rocksdb, the hot keys.
  KeyedTable<KeptTimes> state_;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiry_;  // memory backend
  StateDbContext db_;  // rocksdb backend (db_.db null: memory)
  std::array<int64_t, kKeyGroups> next_expiry_;
  uint64_t cache_used_ = 0;
  uint32_t evict_cursor_ = 0;
  std::string db_key_, db_value_, timer_key_;
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
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<DedupeInstance>(key_.get(), within_);
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
