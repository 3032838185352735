#pragma once
// Spec-driven validation of a pipeline file. Reports every error it finds.
#include <string>
#include <string_view>
#include <vector>

#include "runner/config/conf_node.h"
#include "runner/config/diagnostics.h"
#include "runner/config/spec.h"

namespace streamrun::config {

// What the validator needs to know about the available components, without
// depending on the operator library.
class ComponentCatalog {
 public:
  virtual ~ComponentCatalog() = default;
  virtual const ComponentSpec* Find(ComponentKind kind, const std::string& name) const = 0;
  virtual std::vector<const ComponentSpec*> All(ComponentKind kind) const = 0;
};

// Checks `node` against `spec`. `where` names the enclosing thing for messages
// (e.g. "window step of transform 'page_counts'").
void ValidateValue(const ConfNode& node, const FieldSpec& spec, const std::string& where, Diagnostics& diags);

// The spec of the top-level keys and of `runtime:` (docs/pipeline-file.md).
const FieldSpec& RuntimeSpec();

// A member name (runtime.member, --member): 1 to 64 letters, digits, '.',
// '_' or '-'. It becomes part of store keys and Kafka ids, so nothing else.
bool ValidMemberName(std::string_view name);

// Checks a whole pipeline: top-level keys, `name`, `runtime`, every source and sink
// (by its `type`), every step of every transform, and the graph: unique names,
// `input`/`inputs` naming existing nodes (`name.late` only of a transform with a
// window step), no cycles, every transform and sink has an input, the dead-letter
// sink named by `runtime.errors.sink` exists and has no input.
void ValidatePipeline(const ConfNode& root, const ComponentCatalog& catalog, Diagnostics& diags);

// JSON schema (draft-07) of pipeline files, for yaml-language-server.
std::string PipelineJsonSchema(const ComponentCatalog& catalog);
// Markdown reference of every source, step and sink.
std::string OperatorReferenceMarkdown(const ComponentCatalog& catalog);

}  // namespace streamrun::config
