// drop: remove fields (docs/time-and-windows.md).
#include "operators/steps/computed_fields.h"
#include "operators/steps/steps.h"

namespace streamrun {

const config::ComponentSpec& DropSpec() {
  static const config::ComponentSpec spec = [] {
    config::ComponentSpec s;
    s.kind = config::ComponentKind::kStep;
    s.name = "drop";
    s.summary = "Remove fields.";
    s.description =
        "Removes the named top-level fields from the record; a field that is not there is "
        "ignored. Later steps read a dropped field as null. Records are not rewritten until "
        "they are written by a sink.";
    s.value = config::Required(
        config::OneOf("",
                      {config::ListOf("", config::Str("", "A top-level field name."), "Fields to remove."),
                       config::Str("", "A top-level field name.")},
                      "A field name or a list of them."));
    s.example = "- drop: [referrer, debug]";
    return s;
  }();
  return spec;
}

namespace {

class DropPlan : public StepPlan {
 public:
  explicit DropPlan(std::vector<std::string> fields) : fields_(std::move(fields)) {}
  // Dropping only changes the view the encoder writes with; records pass as they are.
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<PassThroughInstance>();
  }
  bool OrderFree() const override { return true; }
  std::string Describe() const override {
    std::string d = "drop";
    for (const auto& f : fields_) d += " " + f;
    return d;
  }

 private:
  std::vector<std::string> fields_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanDrop(const config::ConfNode& value, PlanContext& ctx) {
  std::vector<const config::ConfNode*> items;
  if (!FieldList(value, ctx, &items)) return nullptr;
  std::vector<std::string> fields;
  bool ok = true;
  for (const auto* item : items) {
    std::vector<std::string> path;
    if (!item->IsScalar() || !expr::ParseFieldPath(item->scalar, &path) || path.size() != 1) {
      ctx.Error(item->mark, "'" + item->scalar + "' is not a top-level field name");
      ok = false;
      continue;
    }
    fields.push_back(path[0]);
  }
  if (!ok) return nullptr;
  for (const auto& f : fields) ctx.RemoveField(f);
  return std::make_unique<DropPlan>(std::move(fields));
}

}  // namespace streamrun
