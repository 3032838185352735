// generate source: synthetic events (clicks, cart, transactions) in-process
// (docs/operators.md and docs/commands.md): same seed, same events.
#include <chrono>
#include <thread>

#include "operators/sources/line_records.h"
#include "operators/sources/sources.h"
#include "runner/config/duration.h"
#include "runner/generate/generators.h"
#include "runner/record/clock.h"
#include "runner/record/json_decoder.h"

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
        "(read by worker 0) unless `partitions` splits the stream: partition p is read by worker p mod "
        "P, its watermark tracked on its own. Nexmark partitions skip the others' events; the other "
        "kinds make every event (their sessions span events) and keep their share.";
    std::vector<FieldSpec> fields = {
        Required(Enum("kind", {"clicks", "cart", "transactions", "nexmark"}, "What to generate.")),
        Int("count", "How many events; absent: unbounded."),
        Rate("rate", "Events per second of processing time (and of event time)."),
        Rate("event_time_rate",
             "Events per second of event time, without pacing (e.g. Nexmark's 100000/s); default: "
             "`rate`, or 1000/s."),
        Default(Int("seed", "Random seed."), "1"),
        Str("out_of_order", "FRACTION:MAX_DELAY, e.g. 0.1:5s."),
        Default(Int("partitions",
                    "Split the stream into this many partitions (event n goes to partition n mod "
                    "partitions), generated in parallel by the workers; together they are the same events."),
                "1"),
    };
    for (auto& f : LineSourceFields()) {
      if (f.name == "format")
        f = Default(Enum("format", {"json", "protobuf", "avro"},
                         "The events' bytes: json, or protobuf/avro with `schema:` (each event is encoded, "
                         "then read as a Protobuf or Avro source reads it; to measure or test that path)."),
                    "json");
      if (f.name == "event_time" || f.name == "format" || f.name == "schema" || f.name == "message")
        fields.push_back(f);
    }
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
  // `generators[k]` makes partition `partitions[k]` of the stream; `rate` is
  // this instance's share of the events per second (0: as fast as possible).
  GenerateSourceInstance(std::vector<std::unique_ptr<generate::Generator>> generators,
                         std::vector<int> partitions, double rate, const LineSourceOptions& options,
                         ProjectionNode projection, int source_index)
      : generators_(std::move(generators)),
        partitions_(std::move(partitions)),
        rate_(rate),
        decoder_(options, std::move(projection)),
        encoder_(options.record_format.binary() ? options.record_format.schema->NewEncoder() : nullptr),
        source_index_(source_index),
        produced_per_partition_(generators_.size(), 0) {
    const int64_t now = NowMs();
    for (int p : partitions_) decoder_.watermarks().Assign(p, now);
  }

  bool Next(Batch& batch, size_t max_rows, RecordErrors& errors) override {
    if (live_ == 0) return false;
    const int64_t now = NowMs();
    if (rate_ > 0 && started_ == 0) started_ = now;
    size_t want = max_rows;
    if (rate_ > 0) {
      // Pace: produce what the rate allows by now (at least 1 ms later again).
      // (Counted from this run's start: a restored source does not wait for the
      // events it produced before.)
      int64_t due = static_cast<int64_t>(static_cast<double>(now - started_) * rate_ / 1000.0) + 1;
      if (due <= produced_ - restored_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return true;
      }
      want = std::min<size_t>(max_rows, static_cast<size_t>(due - (produced_ - restored_)));
    }
    int64_t t;
    // One event from each live partition in turn, so their event times advance together.
    while (batch.size() < want && live_ > 0) {
      const size_t k = next_++ % generators_.size();
      if (!generators_[k]) continue;
      line_.clear();
      if (!generators_[k]->Next(&line_, &t)) {
        generators_[k].reset();
        --live_;
        decoder_.watermarks().Finish(partitions_[k], now);
        continue;
      }
      const int64_t n = produced_per_partition_[k]++;
      RecordPosition pos{source_index_, partitions_[k], n, n + 1};
      ++produced_;
      if (encoder_) {
        line_.reserve(line_.size() + JsonPadding());
        encoded_.clear();
        if (!encoder_->Encode(line_, &encoded_, &error_))
          throw std::runtime_error("generate: an event does not fit the schema: " + error_);
        decoder_.Add(encoded_, pos, batch, errors, now);
        continue;
      }
      decoder_.Add(line_, pos, batch, errors, now);
    }
    return live_ > 0 || !batch.empty();
  }

  int64_t Watermark(int64_t now_ms) override { return live_ == 0 ? kEndOfTime : decoder_.Watermark(now_ms); }
  bool Empty() const override { return live_ == 0; }
  // Per partition ("partition N"): events produced, then the watermark state.
  void SnapshotPositions(std::map<std::string, SavedPosition>* positions) const override {
    for (size_t k = 0; k < partitions_.size(); ++k) {
      SavedPosition& saved_position = (*positions)["partition " + std::to_string(partitions_[k])];
      saved_position.text = std::to_string(produced_per_partition_[k]) + " events";
      SnapshotWriter w(&saved_position.bytes);
      w.I64(produced_per_partition_[k]);
      const auto saved = decoder_.watermarks().Save(partitions_[k]);
      w.I64(saved.max_event_time);
      w.Bool(saved.finished);
    }
  }

  // Generators are sequences: a restored partition makes and drops the events it
  // had produced (about 1 µs each).
  void RestorePositions(const std::map<std::string, std::string>& positions, int64_t watermark) override {
    const int64_t now = NowMs();
    for (size_t k = 0; k < partitions_.size(); ++k) {
      auto it = positions.find("partition " + std::to_string(partitions_[k]));
      if (it == positions.end()) continue;
      SnapshotReader r(it->second);
      const int64_t n = r.I64();
      WatermarkTracker::Saved saved;
      saved.max_event_time = r.I64();
      saved.finished = r.Bool();
      decoder_.watermarks().Restore(partitions_[k], saved, watermark, now);
      int64_t t;
      for (int64_t i = 0; i < n && generators_[k]; ++i) {
        line_.clear();
        if (!generators_[k]->Next(&line_, &t)) {
          generators_[k].reset();
          --live_;
        }
      }
      produced_per_partition_[k] = n;
      produced_ += n;
      restored_ += n;
    }
  }

  std::string DescribePosition(const RecordPosition& pos) const override {
    return "generated event " + std::to_string(pos.offset) + " of partition " + std::to_string(pos.partition);
  }

 private:
  std::vector<std::unique_ptr<generate::Generator>> generators_;  // null once finished
  std::vector<int> partitions_;
  double rate_;
  LineDecoder decoder_;
  std::unique_ptr<format::RecordEncoder> encoder_;  // protobuf, avro: events encoded, then decoded
  std::string encoded_, error_;
  int source_index_;
  std::vector<int64_t> produced_per_partition_;
  size_t live_ = generators_.size();
  size_t next_ = 0;
  std::string line_;
  int64_t produced_ = 0;
  int64_t restored_ = 0;  // of produced_, before a restore
  int64_t started_ = 0;
};

class GenerateSourcePlan : public SourcePlan {
 public:
  GenerateSourcePlan(generate::Options options, double rate, int partitions, LineSourceOptions line_options)
      : options_(std::move(options)),
        rate_(rate),
        partitions_(partitions),
        line_options_(std::move(line_options)) {}

  std::unique_ptr<SourceInstance> Instantiate(const OperatorContext& context, const Universe& universe,
                                              int source_index) const override {
    const int worker = context.worker, workers = context.workers;
    // Partition p belongs to worker p % workers, as files do.
    std::vector<std::unique_ptr<generate::Generator>> generators;
    std::vector<int> mine;
    for (int p = worker; p < partitions_; p += workers) {
      generate::Options o = options_;
      o.partition = p;
      o.partitions = partitions_;
      std::string error;
      auto generator = generate::Make(o, &error);
      if (!generator) throw InternalError("generate: " + error);  // the options were checked when planned
      generators.push_back(std::move(generator));
      mine.push_back(p);
    }
    const double share = rate_ * static_cast<double>(mine.size()) / partitions_;
    return std::make_unique<GenerateSourceInstance>(std::move(generators), std::move(mine), share,
                                                    line_options_, universe.projection, source_index);
  }
  std::string Describe() const override {
    return "generate " + options_.kind +
           (options_.count >= 0 ? " count " + std::to_string(options_.count) : "") + " seed " +
           std::to_string(options_.seed) +
           (partitions_ > 1 ? " in " + std::to_string(partitions_) + " partitions" : "");
  }

 private:
  generate::Options options_;
  double rate_;
  int partitions_;
  LineSourceOptions line_options_;
};

}  // namespace

bool ParseGenerateOptions(const config::Options& o, PlanContext& ctx, generate::Options* options,
                          double* rate) {
  bool ok = true;
  options->kind = o.Enum("kind");
  if (auto count = o.OptInt("count")) options->count = *count;
  options->seed = static_cast<uint64_t>(o.Int("seed"));
  // `rate` paces processing time and spaces event times; `event_time_rate` only the latter.
  for (const char* key : {"rate", "event_time_rate"}) {
    if (!o.Declares(key)) continue;
    auto per_second = o.OptRate(key);
    if (!per_second) continue;
    if (*per_second <= 0) {
      ctx.Error(o.Node(key)->mark, "'" + o.Node(key)->scalar + "' is not a positive rate (e.g. 2000/s)");
      ok = false;
      continue;
    }
    options->events_per_second = *per_second;
    if (std::string_view(key) == "rate") *rate = *per_second;
  }
  if (auto text = o.OptString("out_of_order")) {
    if (!ParseOutOfOrder(*text, &options->out_of_order_fraction, &options->max_delay_ms)) {
      ctx.Error(o.Node("out_of_order")->mark, "out_of_order must be FRACTION:MAX_DELAY, e.g. 0.1:5s");
      ok = false;
    }
  }
  return ok;
}

std::unique_ptr<SourcePlan> PlanGenerateSource(const config::ConfNode& node, PlanContext& ctx) {
  const config::Options o = ctx.Options(node, GenerateSourceSpec());
  generate::Options options;
  double rate = 0;
  bool ok = ParseGenerateOptions(o, ctx, &options, &rate);
  const int64_t partitions = o.Int("partitions");
  if (partitions < 1 || partitions > 1024) {
    ctx.Error(o.Node("partitions")->mark, "partitions must be between 1 and 1024");
    ok = false;
  }
  LineSourceOptions line_options;
  if (!ParseLineSourceOptions(o, ctx, &line_options)) ok = false;
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
  return std::make_unique<GenerateSourcePlan>(options, rate, static_cast<int>(partitions), line_options);
}

}  // namespace streamrun
