#include "operators/registry.h"

#include "operators/sinks/sinks.h"
#include "operators/sources/sources.h"
#include "operators/steps/steps.h"
#include "runner/record/status.h"

namespace streamrun {

namespace {

std::vector<StepEntry>& StepList() {
  // clang-format off
  static std::vector<StepEntry> steps = {
      {FilterSpec, PlanFilter},
      {SetSpec, PlanSet},
      {SelectSpec, PlanSelect},
      {DropSpec, PlanDrop},
      {KeyBySpec, PlanKeyBy},
      {WindowSpec, PlanWindow},
      {TopNSpec, PlanTopN},
      {DedupeSpec, PlanDedupe},
      {EnrichHttpSpec, PlanEnrichHttp},
  };
  // clang-format on
  return steps;
}

}  // namespace

const std::vector<StepEntry>& Steps() { return StepList(); }

const std::vector<SourceEntry>& Sources() {
  static const std::vector<SourceEntry> kSources = {
      {FileSourceSpec, PlanFileSource},
      {StdinSourceSpec, PlanStdinSource},
      {GenerateSourceSpec, PlanGenerateSource},
      {KafkaSourceSpec, PlanKafkaSource},
  };
  return kSources;
}

const std::vector<SinkEntry>& Sinks() {
  static const std::vector<SinkEntry> kSinks = {
      {FileSinkSpec, PlanFileSink}, {StdoutSinkSpec, PlanStdoutSink}, {ConsoleSinkSpec, PlanConsoleSink},
      {NullSinkSpec, PlanNullSink}, {KafkaSinkSpec, PlanKafkaSink},
  };
  return kSinks;
}

template <typename Entry>
static const Entry* FindIn(const std::vector<Entry>& list, const std::string& name) {
  for (const auto& e : list)
    if (e.spec().name == name) return &e;
  return nullptr;
}

const StepEntry* FindStep(const std::string& name) { return FindIn(Steps(), name); }
const SourceEntry* FindSource(const std::string& type) { return FindIn(Sources(), type); }
const SinkEntry* FindSink(const std::string& type) { return FindIn(Sinks(), type); }

void AddStep(StepEntry entry) {
  const std::string& name = entry.spec().name;
  if (FindStep(name)) throw InternalError("AddStep: a step named '" + name + "' exists already");
  StepList().push_back(entry);
}

namespace {

class Catalog : public config::ComponentCatalog {
 public:
  const config::ComponentSpec* Find(config::ComponentKind kind, const std::string& name) const override {
    switch (kind) {
      case config::ComponentKind::kStep: {
        auto* e = FindStep(name);
        return e ? &e->spec() : nullptr;
      }
      case config::ComponentKind::kSource: {
        auto* e = FindSource(name);
        return e ? &e->spec() : nullptr;
      }
      case config::ComponentKind::kSink: {
        auto* e = FindSink(name);
        return e ? &e->spec() : nullptr;
      }
    }
    return nullptr;
  }
  std::vector<const config::ComponentSpec*> All(config::ComponentKind kind) const override {
    std::vector<const config::ComponentSpec*> out;
    switch (kind) {
      case config::ComponentKind::kStep:
        for (const auto& e : Steps()) out.push_back(&e.spec());
        break;
      case config::ComponentKind::kSource:
        for (const auto& e : Sources()) out.push_back(&e.spec());
        break;
      case config::ComponentKind::kSink:
        for (const auto& e : Sinks()) out.push_back(&e.spec());
        break;
    }
    return out;
  }
};

}  // namespace

const config::ComponentCatalog& BuiltinCatalog() {
  static const Catalog kCatalog;
  return kCatalog;
}

}  // namespace streamrun
