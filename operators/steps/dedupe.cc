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
// - Without event time, a record's time is the processing time at which the
//   source read it, so the bound is in processing time.
// - A key expression that fails is a record error. Kept records pass unchanged.
#include <algorithm>
#include <cmath>
#include <cstdio>
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

class DedupeInstance : public StepInstance {
 public:
  DedupeInstance(const expr::Expression* key, int64_t within_ms) : key_(key), within_(within_ms) {}

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
      std::vector<int64_t>& times = state_.GetOrCreate(group, scratch_, &created);
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
      keep_[i] = 1;
      expiry_.push(Expiry{SaturatingAdd(t, within_), group, scratch_});
    }
    batch.Compact(keep_);
    if (!batch.empty()) out.Emit(batch);
  }

  void OnWatermark(int64_t watermark, StepEnv&, Emitter& out) override {
    Advance(watermark);
    out.EmitWatermark(watermark);
  }

  // Per key group: each key and its kept event times (the expiry queue follows
  // from them). Global: the watermark.
  void Snapshot(StateSnapshot& out) override {
    state_.ForEach([&](uint32_t group, const std::string& key, const std::vector<int64_t>& times) {
      SnapshotWriter w(&out.groups[group]);
      w.Str(key);
      w.U64(times.size());
      for (int64_t t : times) w.I64(t);
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
        std::vector<int64_t>& times = state_.GetOrCreate(group, key);
        for (uint64_t n = r.U64(); n > 0; --n) {
          times.push_back(r.I64());
          expiry_.push(Expiry{SaturatingAdd(times.back(), within_), group, key});
        }
      }
    }
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
    while (!expiry_.empty() && expiry_.top().at <= watermark_) {
      const Expiry& e = expiry_.top();
      if (auto* times = state_.Find(e.group, e.key)) {
        times->erase(std::remove_if(times->begin(), times->end(),
                                    [&](int64_t t0) { return SaturatingAdd(t0, within_) <= watermark_; }),
                     times->end());
        if (times->empty()) state_.Erase(e.group, e.key);
      }
      expiry_.pop();
    }
  }

  const expr::Expression* key_;
  int64_t within_;
  int64_t watermark_ = kNoTime;
  // Canonical key -> event times of the kept records still held (usually one).
  ListState<int64_t> state_;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiry_;
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
