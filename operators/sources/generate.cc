// generate source: synthetic events (clicks, cart, transactions) in-process
// (SPEC sections 5 and 9): same seed, same events.
#include <chrono>
#include <thread>

#include "operators/sources/line_records.h"
#include "operators/sources/sources.h"
#include "runner/config/duration.h"
#include "runner/generate/generators.h"
#include "runner/record/clock.h"

namespace streamrun {

const config::ComponentSpec& GenerateSourceSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSource;
    s.name = "generate";
    s.summary = "Generate synthetic events: clicks, cart sessions, card transactions or Nexmark.";
    s.description =
        "Events are JSON objects with an event time `ts` (epoch ms); the same `seed` gives the same "
        "events. Without `count` the source never ends. `rate` paces events in processing time and also "
        "spaces their event times; without it events come as fast as they can, 1000 per event-time "
        "second. `out_of_order: 0.1:5s` moves 10% of events back by up to 5 s. Unless `event_time` is "
        "given, event time is `ts` with `max_out_of_orderness` the out-of-order delay. One partition "
        "(read by worker 0).";
    std::vector<FieldSpec> fields = {
        Required(Enum("kind", {"clicks", "cart", "transactions", "nexmark"}, "What to generate.")),
        Int("count", "How many events; absent: unbounded."),
        Rate("rate", "Events per second of processing time (and of event time)."),
        Rate("event_time_rate",
             "Events per second of event time, without pacing (e.g. Nexmark's 100000/s); default: "
             "`rate`, or 1000/s."),
        Default(Int("seed", "Random seed."), "1"),
        Str("out_of_order", "FRACTION:MAX_DELAY, e.g. 0.1:5s."),
    };
    for (auto& f : LineSourceFields())
      if (f.name == "event_time") fields.push_back(f);
    s.value = Obj("", fields, "");
    s.example = "clicks:\n  type: generate\n  kind: clicks\n  rate: 2000/s\n  out_of_order: 0.05:2s";
    return s;
  }();
  return spec;
}

// FRACTION:MAX_DELAY, e.g. 0.1:5s.
bool ParseOutOfOrder(const std::string& text, double* fraction, int64_t* max_delay_ms) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  try {
    size_t used = 0;
    *fraction = std::stod(text.substr(0, colon), &used);
    if (used != colon || *fraction < 0 || *fraction > 1) return false;
  } catch (...) {
    return false;
  }
  auto ms = config::ParseDurationMs(text.substr(colon + 1));
  if (!ms) return false;
  *max_delay_ms = *ms;
  return true;
}

namespace {

class GenerateSourceInstance : public SourceInstance {
 public:
  GenerateSourceInstance(std::unique_ptr<generate::Generator> generator, double rate,
                         const LineSourceOptions& options, ProjectionNode projection, int source_index)
      : generator_(std::move(generator)),
        rate_(rate),
        decoder_(options, std::move(projection)),
        source_index_(source_index) {}

  bool Next(Batch& batch, size_t max_rows, RecordErrors& errors) override {
    if (done_) return false;
    const int64_t now = NowMs();
    if (rate_ > 0 && started_ == 0) started_ = now;
    size_t want = max_rows;
    if (rate_ > 0) {
      // Pace: produce what the rate allows by now (at least 1 ms later again).
      int64_t due = static_cast<int64_t>(static_cast<double>(now - started_) * rate_ / 1000.0) + 1;
      if (due <= produced_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return true;
      }
      want = std::min<size_t>(max_rows, static_cast<size_t>(due - produced_));
    }
    int64_t t;
    while (batch.size() < want) {
      line_.clear();
      if (!generator_->Next(&line_, &t)) {
        done_ = true;
        break;
      }
      RecordPosition pos{source_index_, 0, produced_, produced_ + 1};
      ++produced_;
      decoder_.Add(line_, pos, batch, errors, now);
    }
    return !done_ || !batch.empty();
  }

  int64_t Watermark(int64_t now_ms) override { return done_ ? kEndOfTime : decoder_.Watermark(now_ms); }
  bool Empty() const override { return done_; }
  void MarkDone() { done_ = true; }
  std::string DescribePosition(const RecordPosition& pos) const override {
    return "generated event " + std::to_string(pos.offset);
  }

 private:
  std::unique_ptr<generate::Generator> generator_;
  double rate_;
  LineDecoder decoder_;
  int source_index_;
  std::string line_;
  int64_t produced_ = 0;
  int64_t started_ = 0;
  bool done_ = false;
};

class GenerateSourcePlan : public SourcePlan {
 public:
  GenerateSourcePlan(generate::Options options, double rate, LineSourceOptions line_options)
      : options_(std::move(options)), rate_(rate), line_options_(std::move(line_options)) {}

  std::unique_ptr<SourceInstance> Instantiate(const Universe& universe, int source_index, int worker,
                                              int workers) const override {
    std::string error;
    auto generator = generate::Make(options_, &error);
    if (!generator) throw std::runtime_error("generate: " + error);
    auto instance = std::make_unique<GenerateSourceInstance>(std::move(generator), rate_, line_options_,
                                                             universe.projection, source_index);
    if (worker != 0) instance->MarkDone();
    return instance;
  }
  std::string Describe() const override {
    return "generate " + options_.kind +
           (options_.count >= 0 ? " count " + std::to_string(options_.count) : "") + " seed " +
           std::to_string(options_.seed);
  }

 private:
  generate::Options options_;
  double rate_;
  LineSourceOptions line_options_;
};

}  // namespace

std::unique_ptr<SourcePlan> PlanGenerateSource(const config::ConfNode& node, PlanContext& ctx) {
  generate::Options options;
  double rate = 0;
  bool ok = true;
  if (const auto* k = node.Find("kind")) options.kind = k->scalar;
  if (const auto* c = node.Find("count")) options.count = std::atoll(c->scalar.c_str());
  if (const auto* s = node.Find("seed")) options.seed = std::strtoull(s->scalar.c_str(), nullptr, 10);
  if (const auto* r = node.Find("rate")) {
    auto per_second = config::ParseRatePerSecond(r->scalar);
    if (!per_second) {
      ctx.Error(r->mark, "'" + r->scalar + "' is not a rate (e.g. 2000/s)");
      ok = false;
    } else {
      rate = *per_second;
      options.events_per_second = rate;
    }
  }
  if (const auto* r = node.Find("event_time_rate")) {
    auto per_second = config::ParseRatePerSecond(r->scalar);
    if (!per_second || *per_second <= 0) {
      ctx.Error(r->mark, "'" + r->scalar + "' is not a rate (e.g. 100000/s)");
      ok = false;
    } else {
      options.events_per_second = *per_second;
    }
  }
  if (const auto* o = node.Find("out_of_order")) {
    if (!ParseOutOfOrder(o->scalar, &options.out_of_order_fraction, &options.max_delay_ms)) {
      ctx.Error(o->mark, "out_of_order must be FRACTION:MAX_DELAY, e.g. 0.1:5s");
      ok = false;
    }
  }
  LineSourceOptions line_options;
  if (!ParseLineSourceOptions(node, ctx, &line_options)) ok = false;
  if (!line_options.event_time) {
    EventTimeOptions et;
    et.field = "ts";
    et.slot = ctx.Resolve({"ts"}).slot;
    et.max_out_of_orderness_ms = options.max_delay_ms;
    line_options.event_time = et;
  }
  if (!ok) return nullptr;
  std::string error;
  if (!generate::Make(options, &error)) {
    ctx.Error(node.mark, error);
    return nullptr;
  }
  return std::make_unique<GenerateSourcePlan>(options, rate, line_options);
}

}  // namespace streamrun
