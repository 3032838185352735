#include <cstdio>

#include "operators/registry.h"
#include "runner/cli/commands.h"
#include "runner/config/validate.h"

namespace streamrun::cli {

// Prints a file generated from the operator specs: `json-schema` (schemas/pipeline.schema.json)
// or `reference` (docs/operators.md).
int SchemaCommand(const std::string& what) {
  std::string text;
  if (what == "json-schema")
    text = config::PipelineJsonSchema(BuiltinCatalog());
  else if (what == "reference")
    text = config::OperatorReferenceMarkdown(BuiltinCatalog());
  else {
    std::fprintf(stderr, "streamrun schema: expected json-schema or reference\n");
    return kExitConfigError;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace streamrun::cli
