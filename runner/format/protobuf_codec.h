#pragma once
// The Protobuf wire format to and from the engine's records, walking a
// compiled pb::Message (protobuf_schema.h). The schema must outlive them.
#include <memory>

#include "runner/format/codec.h"
#include "runner/format/protobuf_schema.h"

namespace streamrun::format {

std::unique_ptr<RecordDecoder> NewProtobufDecoder(const pb::Message& message,
                                                  const ProjectionNode& projection);
std::unique_ptr<RecordEncoder> NewProtobufEncoder(const pb::Message& message);

}  // namespace streamrun::format
