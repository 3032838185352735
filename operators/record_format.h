#pragma once
// The format options every source and sink shares (docs/formats.md): `format`,
// `schema` and `message` for Protobuf and Avro, and on Kafka `registry` for
// Confluent schema-registry framing. Schemas are loaded here, at plan time, so
// a bad schema is a configuration error at its line:col.
#include <memory>
#include <string>
#include <vector>

#include "operators/plan_context.h"
#include "runner/config/spec.h"
#include "runner/format/codec.h"
#include "runner/format/registry_client.h"

namespace streamrun {

struct RecordFormatOptions {
  format::RecordFormat format = format::RecordFormat::kJson;
  std::shared_ptr<const format::Schema> schema;      // protobuf, avro; json with a registry on a sink
  std::shared_ptr<const format::Schema> writer;      // avro files: the schema records were written with
  std::shared_ptr<format::RegistryClient> registry;  // Kafka with registry framing
  std::string subject;                               // the sink's registry subject

  bool binary() const { return format::IsBinary(format); }
  std::string Describe() const;
};

// `formats`: the values `format` takes here. `registry`: the node may carry
// registry framing (Kafka).
std::vector<config::FieldSpec> RecordFormatFields(const std::vector<std::string>& formats, bool registry,
                                                  const std::string& format_help);
// Reads them from a node; errors go to ctx at their line:col. `sink` decides
// what a registry needs (a sink registers its schema: JSON needs a JSON Schema
// file then); `topic` names the default subject <topic>-value.
bool ParseRecordFormat(const config::Options& options, PlanContext& ctx, bool sink, const std::string& topic,
                       RecordFormatOptions* out);

}  // namespace streamrun
