// select: keep only the listed fields, computed ones included (docs/time-and-windows.md).
#include <vector>

#include "operators/steps/computed_fields.h"
#include "operators/steps/steps.h"

namespace streamrun {

const config::ComponentSpec& SelectSpec() {
  static const config::ComponentSpec spec = [] {
    config::ComponentSpec s;
    s.kind = config::ComponentKind::kStep;
    s.name = "select";
    s.summary = "Keep only the listed fields, computed ones included.";
    s.description =
        "Each item is a field path (the output field is named after its last part, e.g. "
        "`user.id` gives `id`) or a single-entry map `{name: EXPR}`. The output has exactly "
        "these fields, in this order; a missing field is written as null.";
    config::FieldSpec computed =
        config::MapOf("", config::Expr("", "Expression."), "A computed field: {name: EXPR}.");
    s.value = config::Required(config::ListOf(
        "", config::OneOf("", {config::Field("", "A field to keep."), computed}, "A field or {name: EXPR}."),
        "The fields of the output, in order."));
    s.example = "- select: [user_id, page_url, {day: substr(ts_iso, 0, 10)}]";
    return s;
  }();
  return spec;
}

namespace {

class SelectPlan : public StepPlan {
 public:
  explicit SelectPlan(std::vector<ComputedField> outputs) : outputs_(std::move(outputs)) {
    for (const auto& o : outputs_) computed_ |= o.expression != nullptr;
  }
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext&) const override {
    // Only the view changes when every output is a plain field: records pass untouched.
    if (!computed_) return std::make_unique<PassThroughInstance>();
    return std::make_unique<ComputeFieldsInstance>(&outputs_, "select");
  }
  bool OrderFree() const override { return true; }
  std::string Describe() const override {
    std::string d = "select";
    for (const auto& o : outputs_) {
      d += " " + o.name;
      if (o.expression && o.expression->text() != o.name) d += "=" + o.expression->text();
    }
    return d;
  }

 private:
  std::vector<ComputedField> outputs_;
  bool computed_ = false;
};

}  // namespace

std::unique_ptr<StepPlan> PlanSelect(const config::ConfNode& value, PlanContext& ctx) {
  if (!value.IsSequence() || value.items.empty()) {
    ctx.Error(value.mark, "expected a list of fields or {name: EXPR}");
    return nullptr;
  }
  std::vector<ComputedField> outputs;
  bool ok = true;
  for (const auto& item : value.items) {
    std::string name;
    std::unique_ptr<expr::Expression> e;
    if (item.IsScalar()) {
      std::vector<std::string> path;
      if (!expr::ParseFieldPath(item.scalar, &path)) {
        ctx.Error(item.mark, "'" + item.scalar + "' is not a field name; write {name: EXPR} to compute one");
        ok = false;
        continue;
      }
      name = path.back();
      expr::FieldSlot where = ctx.Resolve(path);
      if (where.subpath.empty()) {
        // Read straight from its slot; a field that is always null here gets a
        // slot nobody writes.
        int slot = where.slot >= 0 ? where.slot : ctx.NewSlot();
        for (const auto& o : outputs)
          if (o.name == name) ok = false, ctx.Error(item.mark, "field '" + name + "' is selected twice");
        outputs.push_back(ComputedField{name, slot, nullptr});
        continue;
      }
      e = ctx.Compile(item);
    } else if (item.IsMap() && item.entries.size() == 1) {
      name = item.entries[0].first.scalar;
      e = ctx.Compile(item.entries[0].second);
    } else {
      ctx.Error(item.mark, "expected a field name or a single-entry map {name: EXPR}");
      ok = false;
      continue;
    }
    if (!e) {
      ok = false;
      continue;
    }
    for (const auto& o : outputs) {
      if (o.name == name) {
        ctx.Error(item.mark, "field '" + name + "' is selected twice");
        ok = false;
      }
    }
    outputs.push_back(ComputedField{name, ctx.NewSlot(), std::move(e)});
  }
  if (!ok) return nullptr;
  std::vector<ViewField> fields;
  for (const auto& o : outputs) fields.push_back(ViewField{o.name, o.slot});
  ctx.CloseView(std::move(fields));
  return std::make_unique<SelectPlan>(std::move(outputs));
}

}  // namespace streamrun
