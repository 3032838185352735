// count_by_key: a TEST operator, built only into streamrun-testops
// (tests/operators/main.cc, tests/cli/count_by_key.sh). It shows what a keyed
// operator written against the runtime's keyed-state service takes: this one
// file and one AddStep line. It has no timer, cache or checkpoint code of its
// own: its KeyedStore (runner/state/keyed_store.h) keeps the state and timers
// under both backends, and the runtime snapshots, restores and re-distributes
// them by key group.
//
//   - key_by: user
//   - count_by_key: { field: n, idle: 10s }
//
// After a key_by, each record gets the int field `n`: how many records of its
// key came so far, itself included, and passes on. A key whose newest event
// time is `idle` behind the watermark is forgotten (an event-time timer at
// newest + idle erases its state), so its next record counts from 1 again.
// Timers fire, before a record is counted, up to the watermark the record
// carries (the one in effect when it was read), so the counts are the same at
// every parallelism and across a restore.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "runner/config/duration.h"
#include "runner/config/spec.h"
#include "runner/record/value_key.h"
#include "runner/state/keyed_store.h"

namespace streamrun {

const config::ComponentSpec& CountByKeySpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kStep;
    s.name = "count_by_key";
    s.summary = "Number the records of each key (a test operator of streamrun-testops).";
    s.description =
        "Follows a key_by. Sets `field` on each record to how many records of its key came so far, "
        "itself included. A key whose newest event time is `idle` behind the watermark is forgotten: "
        "its next record counts from 1 again.";
    s.value = Required(
        Obj("",
            {Required(Example(Str("field", "The field to set to the count (an int)."), "n")),
             Required(Example(Dur("idle", "How long after its newest record a key is forgotten."), "10m"))},
            "The output field and the idle time."));
    s.example = "- key_by: user_id\n- count_by_key: { field: n, idle: 10m }";
    return s;
  }();
  return spec;
}

namespace {

// A key's state: its count and its newest event time (its timer is at
// last_time + idle; older timers of the key find it moved on and do nothing).
struct KeyCount {
  int64_t count = 0;
  int64_t last_time = 0;
};

struct KeyCountCodec {
  void Save(const KeyCount& v, SnapshotWriter& w) const {
    w.I64(v.count);
    w.I64(v.last_time);
  }
  void Load(SnapshotReader& r, KeyCount* v, int /*format: no format-2 checkpoints*/) const {
    v->count = r.I64();
    v->last_time = r.I64();
  }
  uint64_t Bytes(const KeyCount&) const { return 0; }
  void LegacyTimers(const KeyCount&, std::vector<KeyedTimer>*) const {}
};

struct CountByKeyConfig {
  int slot = -1;
  int64_t idle_ms = 0;
  std::vector<std::unique_ptr<expr::Expression>> key;  // the key_by fields
};

class CountByKeyInstance : public StepInstance {
 public:
  CountByKeyInstance(const CountByKeyConfig* c, KeyedStateService& keyed)
      : c_(*c), state_(keyed, KeyCountCodec{}, TimerLayout::kTime) {}

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    for (uint32_t i = 0; i < batch.size(); ++i) {
      Advance(batch.watermark(i));
      key_.clear();
      for (const auto& field : c_.key) {
        Value v;
        if (!field->Eval(batch.row(i), ctx, &v)) v = Value::Null();  // as key_by hashes it
        AppendValueKey(v, &key_);
      }
      KeyCount* k = state_.SetCurrentKey(KeyGroupOf(batch.key_hash(i)), key_, /*create=*/true);
      const int64_t t = batch.event_time(i);
      ++k->count;
      if (k->count == 1 || t > k->last_time) {
        k->last_time = t;
        state_.RegisterTimer(KeyedTimer{SaturatingAdd(t, c_.idle_ms), 0, 0});
      }
      batch.row(i)[c_.slot] = Value::Int(k->count);
    }
    out.Emit(batch);
  }

  void OnWatermark(int64_t watermark, StepEnv&, Emitter& out) override {
    Advance(watermark);
    out.EmitWatermark(watermark);
  }

 private:
  // Timers up to `watermark` fire; the one a key's newest record set erases it.
  void Advance(int64_t watermark) {
    state_.AdvanceTo(watermark, [&](const KeyedTimer& t, KeyCount& k) {
      if (t.time == SaturatingAdd(k.last_time, c_.idle_ms)) state_.EraseCurrent();
    });
  }

  const CountByKeyConfig& c_;
  KeyedStore<KeyCount, KeyCountCodec> state_;
  std::string key_;
};

class CountByKeyPlan : public StepPlan {
 public:
  CountByKeyPlan(std::unique_ptr<CountByKeyConfig> c, std::string field)
      : c_(std::move(c)), field_(std::move(field)) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext& context) const override {
    return std::make_unique<CountByKeyInstance>(c_.get(), *context.keyed_state);
  }
  std::string Describe() const override {
    return "count_by_key " + field_ + ", idle " + config::FormatDurationMs(c_->idle_ms);
  }

 private:
  std::unique_ptr<CountByKeyConfig> c_;
  std::string field_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanCountByKey(const config::ConfNode& value, PlanContext& ctx) {
  if (!value.IsMap()) {
    ctx.Error(value.mark, "expected {field: NAME, idle: DURATION}");
    return nullptr;
  }
  const config::Options o = ctx.Options(value, CountByKeySpec());
  const std::optional<std::string> field = o.OptString("field");
  const std::optional<int64_t> idle = o.OptDurationMs("idle");
  if (!field || !idle) return nullptr;  // reported by the spec check
  if (field->empty()) {
    ctx.Error(o.Node("field")->mark, "field must name the field to set");
    return nullptr;
  }
  if (*idle <= 0) {
    ctx.Error(o.Node("idle")->mark, "idle must be a positive duration");
    return nullptr;
  }
  if (ctx.key().empty()) {
    ctx.Error(value.mark, "count_by_key counts per key: put a key_by before it");
    return nullptr;
  }
  auto c = std::make_unique<CountByKeyConfig>();
  c->idle_ms = *idle;
  if (!ctx.CompileKey(value.mark, &c->key)) return nullptr;  // as window reads the key
  c->slot = ctx.NewSlot();
  ctx.SetField(*field, c->slot);
  return std::make_unique<CountByKeyPlan>(std::move(c), *field);
}

}  // namespace streamrun
