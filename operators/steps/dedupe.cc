// dedupe: drop a record whose key was kept within a time bound (SPEC section 4).
//
// Semantics (Flink-like "keep first"):
// - Records are judged in arrival order. A record at event time t is dropped when
//   a previously KEPT record with an equal key, still held, has event time t0 with
//   |t - t0| < within; otherwise it is kept and t is remembered for its key. So the
//   first occurrence is kept, and a duplicate is dropped whether it is later or
//   (out of order) earlier in event time than the kept one, as long as the two are
//   less than `within` apart.
// - Keys compare like `==`: 3 and 3.0 are equal, lists and objects compare by their
//   JSON text ignoring whitespace, null is a valid key (all null keys are equal).
//   The state holds each key's canonical text, not only its hash.
// - State: a kept time t0 is forgotten when the step's watermark W advances to
//   t0 + within or beyond (W is the maximum of the watermarks the records carry
//   and of the input watermark; it is checked on each advance, so a late record
//   kept while W stands still is remembered until W next advances). Every record
//   that is not late (t >= W) is therefore judged exactly; a late record is
//   judged against what is still held. Memory is bounded by the kept records of
//   roughly the last `within` + out-of-orderness.
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
#include <limits>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "operators/steps/steps.h"
#include "runner/config/duration.h"
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
        "Records are judged in arrival order: the first record of a key is kept, and a later-arriving "
        "record with an equal key is dropped when its event time is less than `within` away (before or "
        "after) from a kept record of that key. Keys compare like `==` (3 equals 3.0); null is a valid "
        "key. A kept time is forgotten once the watermark reaches it plus `within`, so state is bounded; "
        "a record that is not late (event time >= watermark) is always judged exactly, a late one against "
        "what is still held. Without event time the bound is in processing "
        "time. A key expression that fails is a record error. Kept records pass unchanged.";
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

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kEndOfTime : kNoTime;
  return r;
}

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
    keep_.assign(batch.size(), 0);
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    for (uint32_t i = 0; i < batch.size(); ++i) {
      Advance(batch.watermark(i));
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
      bool created = false;
      KeptTimes* kept = db_.db ? FindKey(group, scratch_) : nullptr;
      if (!kept) {
        kept = &state_.GetOrCreate(group, scratch_, &created);
        if (created) cache_used_ += KeyCost(scratch_, *kept);
      }
      std::vector<int64_t>& times = kept->times;
      if (!created) {
        bool duplicate = false;
        for (int64_t t0 : times) {
          // |t - t0| < within, without overflow.
          if (t < SaturatingAdd(t0, within_) && t0 < SaturatingAdd(t, within_)) {
            duplicate = true;
            break;
          }
        }
        if (duplicate) continue;
      }
      times.push_back(t);
      kept->dirty = true;
      cache_used_ += sizeof(int64_t);
      keep_[i] = 1;
      Schedule(group, scratch_, SaturatingAdd(t, within_));
    }
    MaybeEvict();
    batch.Compact(keep_);
    if (!batch.empty()) out.Emit(batch);
  }

  void OnWatermark(int64_t watermark, StepEnv&, Emitter& out) override {
    Advance(watermark);
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
    SnapshotWriter(&out.global).I64(watermark_);
  }

  void Restore(const StateRestore& in) override {
    for (const auto& global : in.globals)
      if (!global.empty()) watermark_ = std::max(watermark_, SnapshotReader(global).I64());
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
    kept.times.resize(r.U64());
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
  std::vector<uint8_t> keep_;
  std::string scratch_;
};

class DedupePlan : public StepPlan {
 public:
  DedupePlan(std::unique_ptr<expr::Expression> key, int64_t within_ms)
      : key_(std::move(key)), within_(within_ms) {}
  std::unique_ptr<StepInstance> Instantiate() const override {
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
  const config::ConfNode* key_node = value.Find("key");
  const config::ConfNode* within_node = value.Find("within");
  if (!key_node || !within_node) {
    // The spec check has reported the missing key.
    return nullptr;
  }
  auto key = ctx.Compile(*key_node);
  std::optional<int64_t> within;
  if (within_node->IsScalar()) within = config::ParseDurationMs(within_node->scalar);
  if (!within) {
    ctx.Error(within_node->mark, "'" + within_node->scalar + "' is not a duration (e.g. 10m)");
  } else if (*within <= 0) {
    ctx.Error(within_node->mark, "within must be a positive duration");
    within.reset();
  }
  if (!key || !within) return nullptr;
  return std::make_unique<DedupePlan>(std::move(key), *within);
}

}  // namespace streamrun
