// bucket_totals: a template for an operator plugin (copy this folder, rename
// the operator, change the logic). Per key, it counts the records and sums one
// numeric field in event-time buckets of `every`; when the watermark passes a
// bucket's end it emits one row: the key's fields, bucket_start, records,
// total. It shows what most keyed operators need: a typed configuration,
// map state per key, event-time timers, emitting rows, a record error, a
// counter. docs/plugins.md walks through it.
#include <cmath>
#include <stdexcept>
#include <streamrun/sdk.hpp>
#include <string>

namespace sdk = streamrun::sdk;

namespace {

// The configuration's JSON Schema: streamrun validates the step's YAML
// against it (with file:line:col errors) before create() sees it.
const char* const kSchema = R"schema({
  "type": "object",
  "properties": {
    "every": {"type": "string", "format": "duration", "description": "The bucket size in event time"},
    "field": {"type": "string", "description": "The numeric field to sum"},
    "decimals": {"type": "integer", "default": 2,
                 "description": "Decimal places the sum keeps exactly (amounts in cents: 2)"}
  },
  "required": ["every", "field"]
})schema";

// One bucket's totals: trivially copyable, so the SDK stores it as its bytes.
struct Totals {
  int64_t records = 0;
  int64_t scaled_sum = 0;  // the sum × 10^decimals: exact, so the order records come in does not matter
};

class BucketTotals : public sdk::Operator {
 public:
  // The configuration, validated; a value the schema cannot rule out is
  // refused by throwing (shown at the step's line of the pipeline file).
  BucketTotals(const sdk::Json& config, sdk::Context& ctx)
      : every_(config["every"].Int()), scale_(std::pow(10.0, static_cast<double>(config["decimals"].Int()))) {
    if (every_ <= 0) throw std::runtime_error("every must be more than 0");
    if (config["decimals"].Int() < 0 || config["decimals"].Int() > 9)
      throw std::runtime_error("decimals must be 0 to 9");
    field_ = ctx.DeclareField(config["field"].Str());  // only declared fields are decoded
  }

  // State is declared in Open, and is the current key's when used.
  void Open(sdk::Context& ctx) override { buckets_ = ctx.DeclareMap<int64_t, Totals>("buckets"); }

  // Called for each record with its key current.
  void ProcessRecord(sdk::Record& record, sdk::Context& ctx) override {
    const int64_t t = record.EventTime();
    if (t == SR_NO_TIME) throw std::runtime_error("the record has no event time");
    const int64_t start = t - (((t % every_) + every_) % every_);
    if (start + every_ <= ctx.Watermark()) {  // its bucket was emitted already
      ctx.Count("late_records_dropped");
      return;
    }
    const sdk::Value v = record[field_];
    // An exception fails this record: the pipeline's error policy applies.
    if (!v.IsNull() && !v.IsNumber()) throw std::runtime_error("the summed field is not a number");
    Totals totals = buckets_.Get(start).value_or(Totals{});
    if (totals.records == 0) ctx.RegisterEventTimer(start + every_, /*tag=*/start);
    totals.records += 1;
    if (!v.IsNull()) totals.scaled_sum += std::llround(v.AsDouble() * scale_);
    buckets_.Put(start, totals);
  }

  // The watermark passed a bucket's end: its row, then the bucket is gone.
  void OnTimer(const sdk::Timer& timer, sdk::Context& ctx) override {
    const auto totals = buckets_.Get(timer.tag);
    if (!totals) return;
    ctx.Build()
        .SetKeyFields()
        .Set("bucket_start", timer.tag)
        .Set("records", totals->records)
        .Set("total", static_cast<double>(totals->scaled_sum) / scale_)
        .Emit(timer.time - 1);
    buckets_.Remove(timer.tag);
  }

 private:
  int64_t every_;
  double scale_;
  sdk::FieldRef field_;
  sdk::MapState<int64_t, Totals> buckets_;
};

const sr_operator kBucketTotals = sdk::MakeOperator<BucketTotals, SR_OP_KEYED>(
    "bucket_totals", "1.0.0", "Per key: records and the sum of a field in event-time buckets", kSchema);

}  // namespace

STREAMRUN_PLUGIN("bucket_totals", "1.0.0", &kBucketTotals)
