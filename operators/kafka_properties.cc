#include "operators/kafka_properties.h"

namespace streamrun {

bool ParseKafkaProperties(const config::Options& options, PlanContext& ctx, kafka::Properties* out) {
  bool ok = true;
  const config::ConfNode* props = options.Node("properties");
  if (!props || !props->IsMap()) return ok;
  for (const auto& [k, v] : props->entries) {
    if (std::string error = kafka::CheckProperty(k.scalar, v.scalar); !error.empty()) {
      ctx.Error(k.mark, "property '" + k.scalar + "': " + error);
      ok = false;
    }
    out->emplace_back(k.scalar, v.scalar);
  }
  return ok;
}

}  // namespace streamrun
