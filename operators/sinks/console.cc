// console sink: records for a person at a terminal (SPEC section 5).
#include "operators/sinks/line_writer.h"
#include "operators/sinks/sinks.h"

namespace streamrun {

const config::ComponentSpec& ConsoleSinkSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSink;
    s.name = "console";
    s.summary = "Show records on the terminal.";
    s.description =
        "`format: json` prints one JSON object per line as soon as each batch is done. "
        "(The live table, `format: table`, comes with the windowed demo.)";
    s.value = Obj("",
                  {Default(Enum("format", {"json"}, "How records are shown."), "json"),
                   Str("title", "A title printed once before the first record.")},
                  "");
    s.example = "screen:\n  type: console\n  input: page_counts\n  format: json";
    return s;
  }();
  return spec;
}

namespace {

class ConsoleSinkInstance : public SinkInstance {
 public:
  explicit ConsoleSinkInstance(std::string title) : title_(std::move(title)) {}
  void Write(const Batch& batch, const RecordView& view) override {
    Title();
    writer_.Write(batch, view);
    writer_.Flush();
  }
  void WriteEncoded(const std::vector<std::string>& records) override {
    Title();
    writer_.WriteEncoded(records);
  }
  void Flush() override { writer_.Flush(); }

 private:
  void Title() {
    if (title_.empty()) return;
    std::vector<std::string> line{"# " + title_};
    title_.clear();
    writer_.WriteEncoded(line);
  }
  std::string title_;
  JsonLineWriter writer_{STDOUT_FILENO, "console"};
};

class ConsoleSinkPlan : public SinkPlan {
 public:
  explicit ConsoleSinkPlan(std::string title) : title_(std::move(title)) {}
  std::unique_ptr<SinkInstance> Instantiate() const override {
    return std::make_unique<ConsoleSinkInstance>(title_);
  }
  std::string Describe() const override { return "console (json)"; }

 private:
  std::string title_;
};

}  // namespace

std::unique_ptr<SinkPlan> PlanConsoleSink(const config::ConfNode& node, PlanContext&) {
  const config::ConfNode* title = node.Find("title");
  return std::make_unique<ConsoleSinkPlan>(title ? title->scalar : "");
}

}  // namespace streamrun
