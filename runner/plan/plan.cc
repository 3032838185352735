#include "runner/plan/plan.h"

#include <thread>

#include "operators/registry.h"
#include "runner/config/duration.h"
#include "runner/config/scalars.h"
#include "runner/config/validate.h"

namespace streamrun {

using config::ConfNode;

namespace {

std::vector<std::string> InputNames(const ConfNode& node) {
  std::vector<std::string> names;
  if (const ConfNode* in = node.Find("input"); in && in->IsScalar()) names.push_back(in->scalar);
  if (const ConfNode* ins = node.Find("inputs"); ins && ins->IsSequence())
    for (const auto& i : ins->items) names.push_back(i.scalar);
  return names;
}

std::string TypeOf(const ConfNode& node) {
  const ConfNode* t = node.Find("type");
  if (!t) return {};
  // An unquoted `type: null` is YAML's null; it still names the null sink.
  if (t->IsNull()) return "null";
  return t->scalar;
}

// `name` or `name.late`: the node and port, or -1 if there is no such node.
std::pair<int, int> FindInput(const PipelinePlan& plan, const std::string& name) {
  const std::string late = ".late";
  if (name.size() > late.size() && name.compare(name.size() - late.size(), late.size(), late) == 0) {
    int id = plan.FindNode(name.substr(0, name.size() - late.size()));
    if (id < 0 || !plan.nodes[id].has_late_output) return {-1, kMainPort};
    return {id, kLatePort};
  }
  int id = plan.FindNode(name);
  if (id >= 0 && plan.nodes[id].kind == PlanNode::Kind::kSink) id = -1;
  return {id, kMainPort};
}

}  // namespace

int MaxParallelism() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::min(256, 16 * cores);
}

std::unique_ptr<PipelinePlan> BuildPlan(const ConfNode& root, const std::string& file,
                                        const PlanOptions& options, config::Diagnostics& diags) {
  // Planning goes on after validation errors, over the parts that are well
  // formed, so that expression errors are reported in the same run.
  config::ValidatePipeline(root, BuiltinCatalog(), diags);
  const bool valid = diags.empty();
  if (!root.IsMap()) return nullptr;

  auto plan = std::make_unique<PipelinePlan>();
  plan->file = file;
  if (const ConfNode* name = root.Find("name")) plan->name = name->scalar;
  plan->parallelism = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string dead_letter_name;  // runtime.errors.sink
  {
    const config::Options rt(root.Find("runtime"), config::RuntimeSpec(), "runtime", options.read_log);
    plan->member = options.member ? *options.member : rt.String("member");
    if (options.member && !config::ValidMemberName(*options.member))
      diags.Add(config::Mark{}, "--member: '" + *options.member + "' is not a member name",
                "letters, digits, '.', '_' and '-', 1 to 64 characters");
    if (auto p = rt.OptInt("parallelism")) {
      plan->parallelism = static_cast<int>(std::clamp<int64_t>(*p, 1, MaxParallelism()));
      if (*p > MaxParallelism())
        diags.Add(rt.Node("parallelism")->mark, "runtime.parallelism: " + std::to_string(*p) +
                                                    " workers; at most " + std::to_string(MaxParallelism()) +
                                                    " here (16 per core, 256 in all)");
    }
    const config::Options state = rt.Object("state");
    plan->state_backend = state.Enum("backend");
    plan->state_path = state.String("path");
    if (!state.Has("cache")) {
      // by backend, when the run knows it (test --state may change it)
    } else if (auto bytes = config::ParseByteSize(state.String("cache"))) {
      plan->state_cache_bytes = *bytes;
    } else {
      diags.Add(state.Node("cache")->mark,
                "runtime.state.cache: '" + state.String("cache") + "' is not a size", "e.g. 256MB, 2GB");
    }
    if (rt.Has("checkpoint")) {
      const config::Options ckpt = rt.Object("checkpoint");
      CheckpointConfig& c = plan->checkpoint;
      c.storage = ckpt.String("storage");
      c.endpoint = ckpt.String("endpoint");
      c.region = ckpt.String("region");
      c.path_style = ckpt.OptBool("path_style");
      c.interval_ms = ckpt.DurationMs("interval");
      c.timeout_ms = ckpt.DurationMs("timeout");
      c.retain = static_cast<int>(std::max<int64_t>(1, ckpt.Int("retain")));
      c.exactly_once = ckpt.Enum("mode") == "exactly_once";
    }
    if (rt.Has("metrics")) plan->metrics_listen = rt.Object("metrics").String("listen");
    if (rt.Has("ui")) plan->ui_listen = rt.Object("ui").String("listen");
    const config::Options errors = rt.Object("errors");
    const std::string policy = errors.Enum("policy");
    plan->error_policy = policy == "skip"          ? ErrorPolicy::kSkip
                         : policy == "dead_letter" ? ErrorPolicy::kDeadLetter
                                                   : ErrorPolicy::kFail;
    dead_letter_name = errors.String("sink");  // resolved with the sinks below
  }

  // Sources.
  int source_count = 0;
  if (const ConfNode* sources = root.Find("sources")) {
    for (const auto& [key, node] : sources->entries) {
      if (!node.IsMap() || !FindSource(TypeOf(node))) continue;
      PlanNode n;
      n.kind = PlanNode::Kind::kSource;
      n.name = key.scalar;
      n.type = TypeOf(node);
      n.mark = key.mark;
      n.source_index = source_count++;
      n.universe = &plan->universes.emplace_back();
      PlanContext ctx(n.universe, RecordView{}, &diags, "source '" + n.name + "'");
      ctx.set_read_log(options.read_log);
      ctx.set_pipeline_name(plan->name);
      ctx.set_member(plan->member);
      n.source = FindSource(n.type)->plan(node, ctx);
      if (!n.source && diags.empty()) diags.Add(key.mark, "source '" + n.name + "' could not be planned");
      if (!n.source) continue;
      n.view = ctx.view();
      plan->nodes.push_back(std::move(n));
    }
  }

  // Transforms, in dependency order (the validator rejected cycles).
  std::vector<std::pair<const ConfNode*, const ConfNode*>> pending;
  if (const ConfNode* transforms = root.Find("transforms"))
    for (const auto& [key, node] : transforms->entries)
      if (node.IsMap() && node.Find("steps") && node.Find("steps")->IsSequence())
        pending.emplace_back(&key, &node);
  // Plans one transform over the given inputs (none: only to report errors in
  // its steps when its inputs are broken).
  auto plan_transform = [&](const ConfNode& key, const ConfNode& node, std::vector<std::pair<int, int>> ins) {
    PlanNode n;
    n.kind = PlanNode::Kind::kTransform;
    n.name = key.scalar;
    n.mark = key.mark;
    for (auto [id, port] : ins) {
      n.inputs.push_back(id);
      n.input_ports.push_back(port);
    }
    RecordView view;
    if (n.inputs.size() == 1) {
      n.universe = plan->nodes[n.inputs[0]].OutputUniverse(n.input_ports[0]);
      view = plan->nodes[n.inputs[0]].OutputView(n.input_ports[0]);
    } else {
      n.rebase = true;
      n.universe = n.input_universe = &plan->universes.emplace_back();
    }
    PlanContext ctx(n.universe, view, &diags, "");
    ctx.set_read_log(options.read_log);
    ctx.set_universe_pool(&plan->universes);
    if (n.inputs.size() == 1 && n.input_ports[0] == kMainPort) ctx.SetKey(plan->nodes[n.inputs[0]].key);
    int index = 0;
    for (const auto& step : node.Find("steps")->items) {
      ++index;
      if (!step.IsMap() || step.entries.size() != 1 || !FindStep(step.entries[0].first.scalar)) continue;
      const auto& [name_node, value] = step.entries[0];
      ctx.set_where("transform '" + n.name + "' step " + std::to_string(index) + " (" + name_node.scalar +
                    ")");
      Universe* input_universe = ctx.universe();
      RecordView input_view = ctx.view();
      auto step_plan = FindStep(name_node.scalar)->plan(value, ctx);
      ctx.set_previous_failed(step_plan == nullptr);
      if (step_plan)
        n.steps.push_back(PlannedStep{name_node.scalar, name_node.mark, std::move(step_plan), input_universe,
                                      std::move(input_view)});
    }
    n.universe = ctx.universe();
    n.view = ctx.view();
    n.key = ctx.key();
    if (ctx.has_late_output()) {
      n.has_late_output = true;
      n.late_universe = ctx.late_universe();
      n.late_view = ctx.late_view();
    }
    plan->nodes.push_back(std::move(n));
  };

  while (!pending.empty()) {
    bool progressed = false;
    for (size_t i = 0; i < pending.size(); ++i) {
      std::vector<std::pair<int, int>> input_ids;
      bool ready = true;
      for (const auto& in : InputNames(*pending[i].second)) {
        auto found = FindInput(*plan, in);
        if (found.first < 0) ready = false;
        input_ids.push_back(found);
      }
      if (!ready) continue;
      plan_transform(*pending[i].first, *pending[i].second, std::move(input_ids));
      pending.erase(pending.begin() + static_cast<long>(i));
      progressed = true;
      break;
    }
    if (!progressed) {
      // Only possible when validation already reported the bad input or cycle:
      // still check the steps of what is left, then stop.
      if (valid)
        diags.Add(pending[0].first->mark,
                  "transform '" + pending[0].first->scalar + "' has an input that cannot be resolved");
      for (const auto& [key, node] : pending) plan_transform(*key, *node, {});
      return nullptr;
    }
  }

  // Sinks.
  if (const ConfNode* sinks = root.Find("sinks")) {
    for (const auto& [key, node] : sinks->entries) {
      if (!node.IsMap() || !FindSink(TypeOf(node))) continue;
      PlanNode n;
      n.kind = PlanNode::Kind::kSink;
      n.name = key.scalar;
      n.type = TypeOf(node);
      n.mark = key.mark;
      if (const ConfNode* preview = node.Find("preview"))
        n.preview = config::ParseBool(preview->scalar).value_or(false);
      for (const auto& in : InputNames(node)) {
        auto [id, port] = FindInput(*plan, in);
        if (id < 0) continue;
        n.inputs.push_back(id);
        n.input_ports.push_back(port);
      }
      if (!valid && n.inputs.empty() && node.Find("input")) continue;
      // A sink's own expressions (e.g. a Kafka key) see its first input's records.
      Universe* u = n.inputs.empty() ? &plan->universes.emplace_back()
                                     : plan->nodes[n.inputs[0]].OutputUniverse(n.input_ports[0]);
      RecordView view =
          n.inputs.empty() ? RecordView{} : plan->nodes[n.inputs[0]].OutputView(n.input_ports[0]);
      PlanContext ctx(u, view, &diags, "sink '" + n.name + "'");
      ctx.set_read_log(options.read_log);
      ctx.set_pipeline_name(plan->name);
      ctx.set_member(plan->member);
      // The configured sink is planned (and so checked) even when a test replaces it.
      n.sink = FindSink(n.type)->plan(node, ctx);
      if (n.sink && n.sink->ReadsFields() && n.inputs.size() > 1) {
        ctx.Error(key.mark,
                  "takes one input when it reads record fields (e.g. a `key`); merge the inputs in "
                  "a transform with `inputs:` first");
      }
      if (n.sink && options.sink_override)
        if (auto replaced = options.sink_override(n.name)) n.sink = std::move(replaced);
      if (plan->error_policy == ErrorPolicy::kDeadLetter && n.name == dead_letter_name)
        plan->dead_letter_sink = static_cast<int>(plan->nodes.size());
      plan->nodes.push_back(std::move(n));
    }
  }
  if (!valid || !diags.empty()) return nullptr;

  for (size_t i = 0; i < plan->nodes.size(); ++i)
    for (size_t k = 0; k < plan->nodes[i].inputs.size(); ++k) {
      PlanNode& producer = plan->nodes[plan->nodes[i].inputs[k]];
      (plan->nodes[i].input_ports[k] == kLatePort ? producer.late_consumers : producer.consumers)
          .push_back(static_cast<int>(i));
    }
  return plan;
}

std::string ExplainText(const PipelinePlan& plan) {
  std::string out = "pipeline " + plan.name + " (parallelism " + std::to_string(plan.parallelism) + ")\n";
  for (const auto& n : plan.nodes) {
    std::string inputs;
    for (size_t k = 0; k < n.inputs.size(); ++k)
      inputs += (inputs.empty() ? "" : ", ") + plan.nodes[n.inputs[k]].name +
                (n.input_ports[k] == kLatePort ? ".late" : "");
    switch (n.kind) {
      case PlanNode::Kind::kSource:
        out += "source " + n.name + ": " + n.source->Describe() + "\n";
        break;
      case PlanNode::Kind::kTransform:
        out += "transform " + n.name + " <- " + inputs + (n.rebase ? " (merged)" : "") + "\n";
        for (const auto& s : n.steps) {
          out += "  " + s.plan->Describe();
          if (s.plan->NeedsAllRecords()) out += "  [sees every record: runs on one worker]";
          if (s.plan->Rekeys()) out += "  [records move to their key's worker]";
          out += "\n";
        }
        break;
      case PlanNode::Kind::kSink:
        out += "sink " + n.name + (inputs.empty() ? " (dead letters)" : " <- " + inputs) + ": " +
               n.sink->Describe() + "\n";
        break;
    }
  }
  return out;
}

namespace {
std::string DotEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}
}  // namespace

std::string ExplainDot(const PipelinePlan& plan) {
  std::string out = "digraph \"" + DotEscape(plan.name) +
                    "\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n";
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const auto& n = plan.nodes[i];
    std::string label = n.name + "\\n";
    std::string shape = "box";
    switch (n.kind) {
      case PlanNode::Kind::kSource:
        label += DotEscape(n.source->Describe());
        shape = "invhouse";
        break;
      case PlanNode::Kind::kTransform:
        for (const auto& s : n.steps) label += DotEscape(s.plan->Describe()) + "\\l";
        break;
      case PlanNode::Kind::kSink:
        label += DotEscape(n.sink->Describe());
        shape = "house";
        break;
    }
    out += "  n" + std::to_string(i) + " [label=\"" + label + "\", shape=" + shape + "];\n";
  }
  for (size_t i = 0; i < plan.nodes.size(); ++i)
    for (size_t k = 0; k < plan.nodes[i].inputs.size(); ++k)
      out += "  n" + std::to_string(plan.nodes[i].inputs[k]) + " -> n" + std::to_string(i) +
             (plan.nodes[i].input_ports[k] == kLatePort ? " [label=\"late\", style=dashed]" : "") + ";\n";
  if (plan.dead_letter_sink >= 0)
    out += "  errors [shape=note, label=\"record errors\"];\n  errors -> n" +
           std::to_string(plan.dead_letter_sink) + " [style=dashed];\n";
  out += "}\n";
  return out;
}

}  // namespace streamrun
