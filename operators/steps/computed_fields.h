#pragma once
// What set and select share: computing fields into slots. Every expression sees
// the record as it came in; the results are written only when all succeeded, so
// a failed record is left whole for the error policy.
#include <memory>
#include <string>
#include <vector>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "runner/expr/expr.h"

namespace streamrun {

struct ComputedField {
  std::string name;
  int slot = -1;
  // nullptr: the field is already in `slot` (select of a plain field); nothing to compute.
  std::unique_ptr<expr::Expression> expression;
};

class ComputeFieldsInstance : public StepInstance {
 public:
  ComputeFieldsInstance(const std::vector<ComputedField>* fields, std::string step)
      : fields_(fields), step_(std::move(step)) {}

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    const size_t n = fields_->size();
    results_.resize(n);
    bool any_failed = false;
    keep_.assign(batch.size(), 1);
    for (uint32_t i = 0; i < batch.size(); ++i) {
      Value* row = batch.row(i);
      bool ok = true;
      for (size_t k = 0; k < n && ok; ++k) {
        const ComputedField& f = (*fields_)[k];
        if (!f.expression) continue;
        if (!f.expression->Eval(row, ctx, &results_[k])) {
          env.errors->Fail(batch, i, step_ + " " + f.name + ": " + ctx.error);
          ctx.error.clear();
          ok = false;
        }
      }
      if (!ok) {
        keep_[i] = 0;
        any_failed = true;
        continue;
      }
      for (size_t k = 0; k < n; ++k)
        if ((*fields_)[k].expression) row[(*fields_)[k].slot] = results_[k];
    }
    if (any_failed) batch.Compact(keep_);
    if (!batch.empty()) out.Emit(batch);
  }

 private:
  const std::vector<ComputedField>* fields_;
  std::string step_;
  std::vector<Value> results_;
  std::vector<uint8_t> keep_;
};

// The steps that only change how records are viewed (drop, select of plain
// fields) pass batches on untouched.
class PassThroughInstance : public StepInstance {
 public:
  void Process(Batch& batch, StepEnv&, Emitter& out) override { out.Emit(batch); }
};

// A step value that is one field name or a list of them (drop, key_by); the
// nodes in order, or an error reported to ctx.
bool FieldList(const config::ConfNode& value, PlanContext& ctx, std::vector<const config::ConfNode*>* items);

}  // namespace streamrun
