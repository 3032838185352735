// stdin source: records from standard input, one per line (docs/operators.md).
#include <poll.h>
#include <unistd.h>

#include <stdexcept>

#include "operators/sources/line_records.h"
#include "operators/sources/sources.h"
#include "runner/record/clock.h"

namespace streamrun {

const config::ComponentSpec& StdinSourceSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSource;
    s.name = "stdin";
    s.summary = "Read records from standard input.";
    s.description =
        "One record per line until end of input, which ends the source like the end of a "
        "bounded file (the final watermark fires every open window).";
    s.value = Obj("", LineSourceFields(), "");
    s.example = "events:\n  type: stdin\n  format: json";
    return s;
  }();
  return spec;
}

namespace {

class StdinSourceInstance : public SourceInstance {
 public:
  StdinSourceInstance(const LineSourceOptions& options, ProjectionNode projection, int source_index)
      : reader_(STDIN_FILENO, options.max_record_bytes),
        decoder_(options, std::move(projection)),
        source_index_(source_index),
        max_record_bytes_(options.max_record_bytes) {
    reader_.set_delimited(decoder_.binary());
  }

  bool Next(Batch& batch, size_t max_rows, RecordErrors& errors) override {
    if (done_) return false;
    const int64_t now = NowMs();
    while (batch.size() < max_rows) {
      // Nothing to read for 100 ms: hand the worker back (a checkpoint, a stop
      // or processing time must not wait for the next line of an idle pipe).
      if (!reader_.HasBufferedLine()) {
        pollfd fd{STDIN_FILENO, POLLIN, 0};
        // Interrupted by a signal (a stop request), or nothing: do not read,
        // a read would block until the next line.
        if (::poll(&fd, 1, batch.empty() ? 100 : 0) <= 0 || (fd.revents & (POLLIN | POLLHUP | POLLERR)) == 0)
          break;
      }
      std::string_view line;
      int64_t offset, line_no;
      std::string error;
      auto status = reader_.Next(&line, &offset, &line_no, &error);
      RecordPosition pos{source_index_, 0, offset, line_no};
      if (status == LineReader::Status::kEnd) {
        done_ = true;
        break;
      }
      if (status == LineReader::Status::kError) throw std::runtime_error("reading stdin: " + error);
      if (status == LineReader::Status::kTooLong) {
        errors.Add(RecordError{
            std::string(line), pos,
            "record longer than max_record_size (" + std::to_string(max_record_bytes_) + " bytes)"});
        continue;
      }
      if (status == LineReader::Status::kBad) {
        errors.Add(RecordError{std::string(line), pos, error, /*binary=*/true});
        continue;
      }
      if (!decoder_.binary() && line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      if (decoder_.needs_header() && !have_header_) {
        if (!decoder_.SetCsvHeader(line, &error)) throw std::runtime_error("stdin: " + error);
        have_header_ = true;
        continue;
      }
      decoder_.Add(line, pos, batch, errors, now);
      // Interactive input: hand over what we have rather than block for more.
      if (batch.size() > 0 && !reader_.HasBufferedLine()) break;
    }
    return !done_ || !batch.empty() || !errors.empty();
  }

  int64_t Watermark(int64_t now_ms) override {
    if (done_) return kEndOfTime;
    return decoder_.Watermark(now_ms);
  }

  void MarkDone() { done_ = true; }
  bool Empty() const override { return done_; }

  std::string DescribePosition(const RecordPosition& pos) const override {
    return "stdin:" + std::to_string(pos.line);
  }

 private:
  LineReader reader_;
  LineDecoder decoder_;
  int source_index_;
  size_t max_record_bytes_;
  bool have_header_ = false;
  bool done_ = false;
};

class StdinSourcePlan : public SourcePlan {
 public:
  explicit StdinSourcePlan(LineSourceOptions options) : options_(std::move(options)) {}
  std::unique_ptr<SourceInstance> Instantiate(const OperatorContext& context, const Universe& universe,
                                              int source_index) const override {
    const int worker = context.worker;
    // Standard input is one partition, read by worker 0.
    auto instance = std::make_unique<StdinSourceInstance>(options_, universe.projection, source_index);
    if (worker != 0) instance->MarkDone();
    return instance;
  }
  std::string Describe() const override { return "stdin (" + DescribeLineSourceOptions(options_) + ")"; }

 private:
  LineSourceOptions options_;
};

}  // namespace

std::unique_ptr<SourcePlan> PlanStdinSource(const config::ConfNode& node, PlanContext& ctx) {
  LineSourceOptions options;
  if (!ParseLineSourceOptions(ctx.Options(node, StdinSourceSpec()), ctx, &options)) return nullptr;
  return std::make_unique<StdinSourcePlan>(options);
}

}  // namespace streamrun
