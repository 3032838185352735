// set: add or overwrite fields; every expression sees the input record (docs/time-and-windows.md).
#include <vector>

#include "operators/steps/computed_fields.h"
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

class SetPlan : public StepPlan {
 public:
  explicit SetPlan(std::vector<ComputedField> fields) : fields_(std::move(fields)) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<ComputeFieldsInstance>(&fields_, "set");
  }
  bool OrderFree() const override { return true; }
  std::string Describe() const override {
    std::string d = "set";
    for (const auto& f : fields_) d += " " + f.name + "=" + f.expression->text();
    return d;
  }

 private:
  std::vector<ComputedField> fields_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanSet(const config::ConfNode& value, PlanContext& ctx) {
  if (!value.IsMap() || value.entries.empty()) {
    ctx.Error(value.mark, "expected a map of field: expression");
    return nullptr;
  }
  std::vector<ComputedField> assignments;
  bool ok = true;
  for (const auto& [key, expr_node] : value.entries) {
    auto e = ctx.Compile(expr_node);
    if (!e) {
      ok = false;
      continue;
    }
    assignments.push_back(ComputedField{key.scalar, ctx.NewSlot(), std::move(e)});
  }
  if (!ok) return nullptr;
  for (const auto& a : assignments) ctx.SetField(a.name, a.slot);
  return std::make_unique<SetPlan>(std::move(assignments));
}

}  // namespace streamrun
