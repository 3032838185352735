// set: add or overwrite fields; every expression sees the input record (SPEC section 4).
#include <vector>

#include "operators/steps/steps.h"

namespace streamrun {

const config::ComponentSpec& SetSpec() {
  static const config::ComponentSpec spec = [] {
    config::ComponentSpec s;
    s.kind = config::ComponentKind::kStep;
    s.name = "set";
    s.summary = "Add or overwrite fields.";
    s.description =
        "Each entry names a top-level field and the expression that computes it. All "
        "expressions see the record as it came into the step, so `{a: b, b: a}` swaps. "
        "An overwritten field keeps its position in the output; new fields are appended "
        "in the order written.";
    s.value = config::Required(
        config::MapOf("", config::Expr("", "Expression for the field."), "Field name -> expression."));
    s.example = "- set:\n    page: lower(page_url)\n    value_eur: round(amount * 0.92, 2)";
    return s;
  }();
  return spec;
}

namespace {

struct Assignment {
  std::string field;
  int slot;
  std::unique_ptr<expr::Expression> expression;
};

class SetInstance : public StepInstance {
 public:
  explicit SetInstance(const std::vector<Assignment>* assignments) : assignments_(assignments) {}

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    const size_t n = assignments_->size();
    results_.resize(n);
    bool any_failed = false;
    keep_.assign(batch.size(), 1);
    for (uint32_t i = 0; i < batch.size(); ++i) {
      Value* row = batch.row(i);
      // Evaluate all, then write: each expression sees the input record.
      bool ok = true;
      for (size_t k = 0; k < n && ok; ++k) {
        const Assignment& a = (*assignments_)[k];
        if (!a.expression->Eval(row, ctx, &results_[k])) {
          env.errors->Fail(batch, i, "set " + a.field + ": " + ctx.error);
          ctx.error.clear();
          ok = false;
        }
      }
      if (!ok) {
        keep_[i] = 0;
        any_failed = true;
        continue;
      }
      for (size_t k = 0; k < n; ++k) row[(*assignments_)[k].slot] = results_[k];
    }
    if (any_failed) batch.Compact(keep_);
    if (!batch.empty()) out.Emit(batch);
  }

 private:
  const std::vector<Assignment>* assignments_;
  std::vector<Value> results_;
  std::vector<uint8_t> keep_;
};

class SetPlan : public StepPlan {
 public:
  explicit SetPlan(std::vector<Assignment> assignments) : assignments_(std::move(assignments)) {}
  std::unique_ptr<StepInstance> Instantiate() const override {
    return std::make_unique<SetInstance>(&assignments_);
  }
  std::string Describe() const override {
    std::string d = "set";
    for (const auto& a : assignments_) d += " " + a.field + "=" + a.expression->text();
    return d;
  }

 private:
  std::vector<Assignment> assignments_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanSet(const config::ConfNode& value, PlanContext& ctx) {
  if (!value.IsMap() || value.entries.empty()) {
    ctx.Error(value.mark, "expected a map of field: expression");
    return nullptr;
  }
  std::vector<Assignment> assignments;
  bool ok = true;
  for (const auto& [key, expr_node] : value.entries) {
    auto e = ctx.Compile(expr_node);
    if (!e) {
      ok = false;
      continue;
    }
    assignments.push_back(Assignment{key.scalar, ctx.NewSlot(), std::move(e)});
  }
  if (!ok) return nullptr;
  for (const auto& a : assignments) ctx.SetField(a.field, a.slot);
  return std::make_unique<SetPlan>(std::move(assignments));
}

}  // namespace streamrun
