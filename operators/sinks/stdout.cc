// stdout sink: JSON lines on standard output (docs/operators.md).
#include "operators/record_format.h"
#include "operators/sinks/record_writer.h"
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
    s.value = Obj("",
                  RecordFormatFields({"json", "csv", "protobuf", "avro"}, false,
                                     "json: one object per line; csv: a header line, then a line per record; "
                                     "protobuf, avro: each record after its length as a varint."),
                  "");
    s.example = "out:\n  type: stdout\n  input: cleaned";
    return s;
  }();
  return spec;
}

namespace {

class StdoutSinkInstance : public SinkInstance {
 public:
  explicit StdoutSinkInstance(const RecordFormatOptions& f)
      : writer_(STDOUT_FILENO, "stdout", f.format, f.binary() ? f.schema->NewEncoder() : nullptr) {}
  void Write(const Batch& batch, const RecordView& view, RecordErrors& errors) override {
    writer_.Write(batch, view, &errors);
    writer_.Flush();
  }
  void WriteEncoded(const std::vector<std::string>& records) override { writer_.WriteEncoded(records); }
  void Flush() override { writer_.Flush(); }

 private:
  RecordWriter writer_;
};

class StdoutSinkPlan : public SinkPlan {
 public:
  explicit StdoutSinkPlan(RecordFormatOptions format) : format_(std::move(format)) {}
  std::unique_ptr<SinkInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<StdoutSinkInstance>(format_);
  }
  std::string Describe() const override { return "stdout (" + format_.Describe() + ")"; }

 private:
  RecordFormatOptions format_;
};

}  // namespace

std::unique_ptr<SinkPlan> PlanStdoutSink(const config::ConfNode& node, PlanContext& ctx) {
  RecordFormatOptions format;
  if (!ParseRecordFormat(ctx.Options(node, StdoutSinkSpec()), ctx, /*sink=*/true, "", &format))
    return nullptr;
  return std::make_unique<StdoutSinkPlan>(std::move(format));
}

}  // namespace streamrun
