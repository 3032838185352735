#include <cstdio>
#include <string_view>

#include "operators/registry.h"
#include "runner/cli/commands.h"
#include "runner/config/validate.h"
#include "runner/format/compatibility.h"

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

namespace {

std::shared_ptr<const format::Schema> LoadSchemaFile(const std::string& path, const std::string& message,
                                                     std::string* error) {
  if (path.ends_with(".avsc")) return format::LoadAvroSchema(path, error);
  if (path.ends_with(".proto")) return format::LoadProtobufSchema(path, message, error);
  *error = path + ": expected an .avsc or .proto file";
  return nullptr;
}

// "backward: yes (...)" or "backward: no (...): REASON", further reasons
// indented on their own lines.
void PrintDirection(const char* direction, const char* holds, const char* fails,
                    const std::vector<std::string>& problems) {
  if (problems.empty()) {
    std::printf("%s: yes (%s)\n", direction, holds);
    return;
  }
  std::printf("%s: no (%s):", direction, fails);
  if (problems.size() == 1) {
    std::printf(" %s\n", problems[0].c_str());
    return;
  }
  std::printf("\n");
  for (const auto& p : problems) std::printf("  %s\n", p.c_str());
}

}  // namespace

// `schema check OLD NEW`: whether NEW reads OLD's records (backward) and OLD
// reads NEW's (forward).
int SchemaCheckCommand(const std::vector<std::string>& files, const std::string& message,
                       const std::string& mode) {
  if (files.size() != 2) {
    std::fprintf(stderr, "streamrun schema check: expected OLD and NEW schema files\n");
    return kExitConfigError;
  }
  std::string error;
  auto old_s = LoadSchemaFile(files[0], message, &error);
  auto new_s = old_s ? LoadSchemaFile(files[1], message, &error) : nullptr;
  if (!new_s) {
    std::fprintf(stderr, "streamrun schema check: %s\n", error.c_str());
    return kExitConfigError;
  }
  std::vector<std::string> backward, forward;
  if (!format::CheckCompatibility(*old_s, *new_s, &backward, &forward)) {
    std::fprintf(stderr, "streamrun schema check: %s and %s are not the same kind of schema\n",
                 files[0].c_str(), files[1].c_str());
    return kExitConfigError;
  }
  PrintDirection("backward", "NEW reads data written with OLD", "NEW cannot read data written with OLD",
                 backward);
  PrintDirection("forward", "OLD reads data written with NEW", "OLD cannot read data written with NEW",
                 forward);
  const bool ok = (mode == "forward" || backward.empty()) && (mode == "backward" || forward.empty());
  return ok ? kExitOk : kExitRunFailure;
}

}  // namespace streamrun::cli
