#pragma once
// Whether a schema change keeps old and new programs reading each other's
// records, with the rules a Confluent schema registry applies (docs/commands.md
// "schema check"): Avro by the spec's schema resolution, Protobuf by field
// number and wire type.
#include <string>
#include <vector>

#include "runner/format/codec.h"
#include "runner/format/protobuf_schema.h"

namespace streamrun::format {

// The compiled root message of a Protobuf schema; null for other schemas.
// Defined in protobuf_schema.cc, where the Schema subclass lives.
const pb::Message* ProtobufRoot(const Schema& s);

// Appends to `backward_problems` why `new_s` cannot read what `old_s` wrote,
// and to `forward_problems` why `old_s` cannot read what `new_s` wrote: no
// problems means compatible. False (with nothing appended) when the schemas
// are not both Avro or both Protobuf.
bool CheckCompatibility(const Schema& old_s, const Schema& new_s, std::vector<std::string>* backward_problems,
                        std::vector<std::string>* forward_problems);

}  // namespace streamrun::format
