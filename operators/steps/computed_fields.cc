#include "operators/steps/computed_fields.h"

namespace streamrun {

bool FieldList(const config::ConfNode& value, PlanContext& ctx, std::vector<const config::ConfNode*>* items) {
  if (value.IsScalar()) {
    items->push_back(&value);
    return true;
  }
  if (value.IsSequence() && !value.items.empty()) {
    for (const auto& i : value.items) items->push_back(&i);
    return true;
  }
  ctx.Error(value.mark, "expected a field name or a list of field names");
  return false;
}

}  // namespace streamrun
