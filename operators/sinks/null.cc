// null sink: discards records, counting them (docs/operators.md).
#include "operators/sinks/sinks.h"

namespace streamrun {

const config::ComponentSpec& NullSinkSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSink;
    s.name = "null";
    s.summary = "Discard records (they are still counted).";
    s.description = "For benchmarks and for pipelines run only for their side effects or metrics.";
    s.value = Obj("", {}, "");
    s.example = "discard:\n  type: \"null\"\n  input: scored";
    return s;
  }();
  return spec;
}

namespace {

class NullSinkInstance : public SinkInstance {
 public:
  void Write(const Batch&, const RecordView&, RecordErrors&) override {}
  void WriteEncoded(const std::vector<std::string>&) override {}
};

class NullSinkPlan : public SinkPlan {
 public:
  std::unique_ptr<SinkInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<NullSinkInstance>();
  }
  std::string Describe() const override { return "null"; }
};

}  // namespace

std::unique_ptr<SinkPlan> PlanNullSink(const config::ConfNode&, PlanContext&) {
  return std::make_unique<NullSinkPlan>();
}

}  // namespace streamrun
