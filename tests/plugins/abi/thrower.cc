// An SDK plugin whose ProcessRecord throws for records with `action: throw`:
// the SDK turns the exception into a failed record (the error policy
// applies). Its configuration refuses `limit: 0` from its constructor, which
// streamrun reports at the step's line.
#include <streamrun/sdk.hpp>

namespace sdk = streamrun::sdk;

namespace {

class Thrower : public sdk::Operator {
 public:
  Thrower(const sdk::Json& config, sdk::Context& ctx) : limit_(config["limit"].Int()) {
    if (limit_ <= 0) throw std::runtime_error("limit must be more than 0, got " + std::to_string(limit_));
    action_ = ctx.DeclareField("action");
  }
  void ProcessRecord(sdk::Record& r, sdk::Context& ctx) override {
    if (r[action_].Str() == "throw") throw std::runtime_error("thrown while processing");
    ctx.BuildFrom(r.row()).Set("checked", true).Emit();
  }

 private:
  int64_t limit_;
  sdk::FieldRef action_;
};

const sr_operator kThrower = sdk::MakeOperator<Thrower, 0>(
    "thrower", "1.0.0", "Throws on records with action: throw",
    R"({"type":"object","properties":{"limit":{"type":"integer","default":1}}})");

}  // namespace

STREAMRUN_PLUGIN("thrower", "1.0.0", &kThrower)
