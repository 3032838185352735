// stdout sink: JSON lines on standard output (docs/operators.md).
#include "operators/sinks/line_writer.h"
#include "operators/sinks/sinks.h"

namespace streamrun {

const config::ComponentSpec& StdoutSinkSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSink;
    s.name = "stdout";
    s.summary = "Write records to standard output, one JSON object per line.";
    s.description =
        "Output is buffered and flushed after every batch, so a consumer of the pipe sees rows as batches "
        "complete.";
    s.value = Obj("", {Default(Enum("format", {"json"}, "Output format."), "json")}, "");
    s.example = "out:\n  type: stdout\n  input: cleaned";
    return s;
  }();
  return spec;
}

namespace {

class StdoutSinkInstance : public SinkInstance {
 public:
  void Write(const Batch& batch, const RecordView& view, RecordErrors&) override {
    writer_.Write(batch, view);
    writer_.Flush();
  }
  void WriteEncoded(const std::vector<std::string>& records) override { writer_.WriteEncoded(records); }
  void Flush() override { writer_.Flush(); }

 private:
  JsonLineWriter writer_{STDOUT_FILENO, "stdout"};
};

class StdoutSinkPlan : public SinkPlan {
 public:
  std::unique_ptr<SinkInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<StdoutSinkInstance>();
  }
  std::string Describe() const override { return "stdout (json)"; }
};

}  // namespace

std::unique_ptr<SinkPlan> PlanStdoutSink(const config::ConfNode& node, PlanContext& ctx) {
  ctx.Options(node, StdoutSinkSpec()).Enum("format");  // json: the only format so far
  return std::make_unique<StdoutSinkPlan>();
}

}  // namespace streamrun
