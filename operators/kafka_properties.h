#pragma once
// `properties:` of the Kafka source and sink: passed to librdkafka as they are,
// each checked at plan time so a misspelt property is a configuration error
// at its line:col, not a failure when the run starts.
#include "operators/plan_context.h"
#include "runner/config/conf_node.h"
#include "runner/kafka/client.h"

namespace streamrun {

// Reads `node`'s `properties:` map into `out`; false (with errors in ctx) if
// librdkafka refuses one.
bool ParseKafkaProperties(const config::Options& options, PlanContext& ctx, kafka::Properties* out);

}  // namespace streamrun
