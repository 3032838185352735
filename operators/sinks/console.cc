// console sink: records for a person at a terminal (docs/operators.md).
#include "operators/sinks/console_table.h"
#include "operators/sinks/record_writer.h"
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
        "`format: table` shows a table per window (rows that have `window_start` and `window_end`, e.g. "
        "a window or top_n): on a terminal it is redrawn in place after every batch, with the window's "
        "bounds and the title above it; when standard output is not a terminal each window's table is "
        "printed once, complete, as plain text. Rows without window bounds show as a rolling table of "
        "the last 20.";
    s.value = Obj("",
                  {Default(Enum("format", {"json", "table"}, "How records are shown."), "json"),
                   Str("title", "A title shown above the records.")},
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
  void Write(const Batch& batch, const RecordView& view, RecordErrors&) override {
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
  RecordWriter writer_{STDOUT_FILENO, "console"};
};

class ConsoleTableSinkInstance : public SinkInstance {
 public:
  explicit ConsoleTableSinkInstance(std::string title)
      : table_(STDOUT_FILENO, ::isatty(STDOUT_FILENO) == 1, std::move(title)) {}
  void Write(const Batch& batch, const RecordView& view, RecordErrors&) override {
    for (uint32_t i = 0; i < batch.size(); ++i) {
      line_.clear();
      if (view.modified()) {
        EncodeJson(view, batch.row(i), batch.raw(i), &line_);
      } else {
        line_.assign(batch.raw(i));
      }
      table_.AddRow(line_);
    }
    table_.Show();
  }
  void WriteEncoded(const std::vector<std::string>& records) override {
    for (const auto& r : records) table_.AddRow(r);
    table_.Show();
  }
  void Close() override { table_.Close(); }

 private:
  ConsoleTable table_;
  std::string line_;
};

class ConsoleSinkPlan : public SinkPlan {
 public:
  ConsoleSinkPlan(std::string title, bool table) : title_(std::move(title)), table_(table) {}
  std::unique_ptr<SinkInstance> Instantiate(const OperatorContext&) const override {
    if (table_) return std::make_unique<ConsoleTableSinkInstance>(title_);
    return std::make_unique<ConsoleSinkInstance>(title_);
  }
  std::string Describe() const override { return table_ ? "console (table)" : "console (json)"; }

 private:
  std::string title_;
  bool table_;
};

}  // namespace

std::unique_ptr<SinkPlan> PlanConsoleSink(const config::ConfNode& node, PlanContext& ctx) {
  const config::Options o = ctx.Options(node, ConsoleSinkSpec());
  return std::make_unique<ConsoleSinkPlan>(o.String("title"), o.Enum("format") == "table");
}

}  // namespace streamrun
