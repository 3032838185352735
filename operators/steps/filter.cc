// filter: keep the records for which an expression is true (docs/time-and-windows.md).
#include <vector>

#include "operators/steps/steps.h"

namespace streamrun {

const config::ComponentSpec& FilterSpec() {
  static const config::ComponentSpec spec = [] {
    config::ComponentSpec s;
    s.kind = config::ComponentKind::kStep;
    s.name = "filter";
    s.summary = "Keep the records for which an expression is true.";
    s.description =
        "A record is kept only when the expression gives `true`; `false` and null drop it. "
        "A result of another type, or an error while evaluating (e.g. `'a' * 2`), is a record "
        "error handled by the error policy.";
    s.value = config::Required(config::Expr("", "A boolean expression over the record's fields."));
    s.example = "- filter: \"page_url is not null and status >= 200\"";
    return s;
  }();
  return spec;
}

namespace {

class FilterInstance : public StepInstance {
 public:
  explicit FilterInstance(const expr::Expression* predicate) : predicate_(predicate) {}

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    keep_.assign(batch.size(), 0);
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    for (uint32_t i = 0; i < batch.size(); ++i) {
      bool pass = false;
      if (predicate_->EvalPredicate(batch.row(i), ctx, &pass)) {
        keep_[i] = pass;
      } else {
        env.errors->Fail(batch, i, "filter: " + ctx.error);
        ctx.error.clear();
      }
    }
    batch.Compact(keep_);
    if (!batch.empty()) out.Emit(batch);
  }

 private:
  const expr::Expression* predicate_;
  std::vector<uint8_t> keep_;
};

class FilterPlan : public StepPlan {
 public:
  explicit FilterPlan(std::unique_ptr<expr::Expression> predicate) : predicate_(std::move(predicate)) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<FilterInstance>(predicate_.get());
  }
  bool OrderFree() const override { return true; }
  std::string Describe() const override { return "filter " + predicate_->text(); }

 private:
  std::unique_ptr<expr::Expression> predicate_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanFilter(const config::ConfNode& value, PlanContext& ctx) {
  auto predicate = ctx.Compile(value);
  if (!predicate) return nullptr;
  return std::make_unique<FilterPlan>(std::move(predicate));
}

}  // namespace streamrun
