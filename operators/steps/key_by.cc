// key_by: partition by key (docs/time-and-windows.md). The key fields are carried into the
// rows of a following window; the key hash picks the record's key group. The
// exchange between workers by key group comes with the parallel runtime.
#include "operators/steps/computed_fields.h"
#include "operators/steps/steps.h"
#include "runner/record/value_hash.h"

namespace streamrun {

const config::ComponentSpec& KeyBySpec() {
  static const config::ComponentSpec spec = [] {
    config::ComponentSpec s;
    s.kind = config::ComponentKind::kStep;
    s.name = "key_by";
    s.summary = "Partition the stream by key.";
    s.description =
        "The key is one field or a list of fields. Records with equal keys go to the same "
        "key group (and worker), so per-key state and windows see all of them. A window "
        "that follows writes the key fields into each output row. A missing key field "
        "is a null key part, which is a valid key.";
    s.value =
        config::Required(config::OneOf("",
                                       {config::Field("", "The key field."),
                                        config::ListOf("", config::Field("", "A key field."), "Key fields.")},
                                       "A field or a list of fields."));
    s.example = "- key_by: user_id\n- key_by: [country, city]";
    return s;
  }();
  return spec;
}

namespace {

struct KeyPart {
  std::string name;
  std::unique_ptr<expr::Expression> field;
};

class KeyByInstance : public StepInstance {
 public:
  explicit KeyByInstance(const std::vector<KeyPart>* parts) : parts_(parts) {}

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    for (uint32_t i = 0; i < batch.size(); ++i) {
      uint64_t h = kKeyHashSeed;
      for (const auto& part : *parts_) {
        Value v;
        // A field read cannot fail, except navigating into malformed nested text.
        if (!part.field->Eval(batch.row(i), ctx, &v)) v = Value::Null();
        h = HashValue(v, h);
      }
      batch.set_key_hash(i, h);
    }
    out.Emit(batch);
  }

 private:
  const std::vector<KeyPart>* parts_;
};

class KeyByPlan : public StepPlan {
 public:
  explicit KeyByPlan(std::vector<KeyPart> parts) : parts_(std::move(parts)) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<KeyByInstance>(&parts_);
  }
  bool Rekeys() const override { return true; }
  bool OrderFree() const override { return true; }
  std::string Describe() const override {
    std::string d = "key_by";
    for (const auto& p : parts_) d += " " + p.name;
    return d;
  }

 private:
  std::vector<KeyPart> parts_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanKeyBy(const config::ConfNode& value, PlanContext& ctx) {
  std::vector<const config::ConfNode*> items;
  if (!FieldList(value, ctx, &items)) return nullptr;
  std::vector<KeyPart> parts;
  std::vector<PlanContext::KeyField> key;
  bool ok = true;
  for (const auto* item : items) {
    auto field = ctx.CompileField(*item);
    if (!field) {
      ok = false;
      continue;
    }
    std::vector<std::string> path;
    expr::ParseFieldPath(item->scalar, &path);
    key.push_back(PlanContext::KeyField{path.back(), ctx.Resolve(path), item->scalar});
    parts.push_back(KeyPart{path.back(), std::move(field)});
  }
  if (!ok) return nullptr;
  ctx.SetKey(std::move(key));
  return std::make_unique<KeyByPlan>(std::move(parts));
}

}  // namespace streamrun
