#include "runner/job/split.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "runner/state/key_groups.h"

namespace streamrun::job {

namespace {

// A Kafka topic's name: letters, digits, '.', '_' and '-'.
std::string TopicSafe(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  return out;
}

std::string HiddenSource(const std::string& topic) { return "from:" + topic; }
std::string HiddenSink(const std::string& topic) { return "to:" + topic; }

// Where records cross between tasks: before step `step` of transform `node`
// (step == its step count: after its last step), or before sink `node`.
struct Cut {
  int node = 0;
  int step = 0;
  bool sink = false;
  bool gather = false;
  std::string topic;
};

// The cuts of `plan`, in node order (and step order within a transform), as
// one process's routing would place its exchanges (runner/runtime/routing.cc):
// after a key_by, before a step that needs every record unless they are
// gathered already, and before a sink that is not per worker.
bool FindCuts(const PipelinePlan& plan, std::vector<Cut>* cuts, std::string* error) {
  const std::string prefix = TopicSafe(plan.name);
  std::vector<bool> gathered(plan.nodes.size(), false);
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const PlanNode& n = plan.nodes[i];
    if (n.kind == PlanNode::Kind::kSource) {
      SourcePlan::JobKafkaInput input;
      if (!n.source->JobInput(&input)) {
        *error = "source '" + n.name + "' (" + n.type +
                 ") cannot be shared by the processes of a job: use an unbounded kafka source";
        return false;
      }
      if (input.topics.size() != 1) {
        *error =
            "source '" + n.name + "' reads several topics; a job's source reads one (one source per topic)";
        return false;
      }
      continue;
    }
    if (n.inputs.size() > 1 || (n.kind == PlanNode::Kind::kTransform && n.inputs.empty())) {
      *error = (n.kind == PlanNode::Kind::kSink ? "sink '" : "transform '") + n.name +
               "' has several inputs; a job of several processes does not merge inputs yet";
      return false;
    }
    if (!n.inputs.empty() && n.input_ports[0] == kLatePort && n.kind == PlanNode::Kind::kSink &&
        !n.sink->PerWorker()) {
      *error = "sink '" + n.name +
               "' takes a `.late` output and is not per worker; a job sends late records "
               "to a Kafka sink";
      return false;
    }
    if (n.kind == PlanNode::Kind::kSink) {
      if (n.inputs.empty()) {  // the dead-letter sink: every task has its own
        if (!n.sink->PerWorker()) {
          *error = "the dead-letter sink '" + n.name + "' would be written by every task; use a kafka sink";
          return false;
        }
        continue;
      }
      const bool in_gathered =
          n.input_ports[0] == kLatePort ? false : gathered[static_cast<size_t>(n.inputs[0])];
      if (!n.sink->PerWorker() && !in_gathered)
        cuts->push_back(
            Cut{static_cast<int>(i), 0, true, true, prefix + "-" + TopicSafe(n.name) + "-gather"});
      continue;
    }
    bool here = gathered[static_cast<size_t>(n.inputs[0])] && n.input_ports[0] == kMainPort;
    std::map<int, bool> at;  // step -> gather
    int last_late = -1;
    for (size_t k = 0; k < n.steps.size(); ++k) {
      const StepPlan& step = *n.steps[k].plan;
      if (step.NeedsAllRecords() && !here) {
        at[static_cast<int>(k)] = true;
        here = true;
      }
      if (step.EmitsLate()) last_late = static_cast<int>(k);
      if (step.Rekeys()) {
        at[static_cast<int>(k) + 1] = false;
        here = false;
      }
    }
    for (const auto& [k, gather] : at) {
      if (!n.late_consumers.empty() && k > last_late && last_late >= 0) {
        *error = "transform '" + n.name +
                 "': its `.late` output comes from a step before a repartition; move the "
                 "steps after it to another transform";
        return false;
      }
      const std::string step_name =
          k < static_cast<int>(n.steps.size()) ? n.steps[static_cast<size_t>(k)].name : "out";
      cuts->push_back(Cut{static_cast<int>(i), k, false, gather,
                          prefix + "-" + TopicSafe(n.name) + "-" + std::to_string(k) + "-" +
                              TopicSafe(step_name) + (gather ? "-gather" : "-repartition")});
    }
    gathered[i] = here;
  }
  return true;
}

}  // namespace

const JobComponent* JobLayout::ComponentOf(const std::string& topic) const {
  for (const auto& c : components)
    if (c.topic == topic) return &c;
  return nullptr;
}

std::string TaskName(const std::string& topic, int partition) {
  return topic + ":" + std::to_string(partition);
}

std::string TaskMember(const std::string& topic, int partition) {
  std::string t = TopicSafe(topic);
  if (t.size() > 48) {  // a member name has at most 64 characters
    uint64_t h = 1469598103934665603ULL;
    for (char c : topic) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    t = t.substr(0, 32) + "." + std::to_string(h % 1000000000ULL);
  }
  return "task-" + t + "-" + std::to_string(partition);
}

bool LayoutJob(
    const PipelinePlan& plan,
    const std::function<int(const SourcePlan::JobKafkaInput&, const std::string& topic)>& partitions_of,
    JobLayout* layout, std::string* error) {
  std::vector<Cut> cuts;
  if (!FindCuts(plan, &cuts, error)) return false;
  // Each source and cut roots a component; walk the graph to know which
  // component produces what each cut carries.
  std::map<int, JobComponent> source_component;  // by source node
  std::map<int, std::string> root_of;            // node -> component source name of its output
  int job_partitions = 1;
  std::map<std::string, SourcePlan::JobKafkaInput> inputs;
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const PlanNode& n = plan.nodes[i];
    if (n.kind != PlanNode::Kind::kSource) continue;
    SourcePlan::JobKafkaInput input;
    n.source->JobInput(&input);
    JobComponent c;
    c.source = n.name;
    c.topic = input.topics[0];
    c.partitions = partitions_of(input, c.topic);
    if (c.partitions < 1) {
      *error = "topic " + c.topic + " of source '" + n.name + "' has no partitions";
      return false;
    }
    job_partitions = std::max(job_partitions, c.partitions);
    layout->components.push_back(c);
    inputs[n.name] = input;
    root_of[static_cast<int>(i)] = n.name;
  }
  job_partitions = std::min<int>(job_partitions, static_cast<int>(kKeyGroups));
  for (size_t a = 0; a < layout->components.size(); ++a)
    for (size_t b = a + 1; b < layout->components.size(); ++b)
      if (layout->components[a].topic == layout->components[b].topic) {
        *error = "sources '" + layout->components[a].source + "' and '" + layout->components[b].source +
                 "' read the same topic " + layout->components[a].topic +
                 "; in a job a topic is read by one source (a task is one of its partitions)";
        return false;
      }
  auto topic_of_root = [&](const std::string& root) -> const JobComponent* {
    for (const auto& c : layout->components)
      if (c.source == root) return &c;
    return nullptr;
  };
  // The brokers of the job: the first source's (every repartition topic lives there).
  const SourcePlan::JobKafkaInput& first = inputs.begin()->second;
  size_t next_cut = 0;
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const PlanNode& n = plan.nodes[i];
    if (n.kind == PlanNode::Kind::kSource) continue;
    std::string root = n.inputs.empty() ? "" : root_of[n.inputs[0]];
    while (next_cut < cuts.size() && cuts[next_cut].node == static_cast<int>(i)) {
      const Cut& cut = cuts[next_cut++];
      const JobComponent* up = topic_of_root(root);
      RepartitionTopic t;
      t.name = cut.topic;
      t.gather = cut.gather;
      t.node = cut.node;
      t.step = cut.step;
      t.partitions = cut.gather ? 1 : job_partitions;
      t.brokers = first.brokers;
      // Only what reaching the brokers takes (security, sockets): the
      // source's consumer settings mean nothing to a repartition producer.
      for (const auto& [k, v] : first.properties)
        for (const char* prefix : {"security.", "sasl.", "ssl.", "socket.", "client.dns.", "broker.address."})
          if (k.rfind(prefix, 0) == 0) t.properties.emplace_back(k, v);
      t.upstream_topic = up->topic;
      t.upstream_partitions = up->partitions;
      layout->topics.push_back(t);
      JobComponent c;
      c.source = HiddenSource(t.name);
      c.topic = t.name;
      c.partitions = t.partitions;
      layout->components.push_back(c);
      root = c.source;
    }
    root_of[static_cast<int>(i)] = root;
  }
  return true;
}

void SplitPlan(PipelinePlan& plan, const JobLayout& layout, const std::string& task) {
  const std::vector<RepartitionTopic>& cuts = layout.topics;  // in the plan's order
  // The new graph, with inputs by name until every node is in place.
  struct Node {
    PlanNode node;
    std::vector<std::pair<std::string, int>> inputs;  // (name, port)
  };
  std::vector<Node> sources, transforms, sinks;
  std::vector<int> origin(plan.nodes.size(), 0);  // source index each node's records come from
  // Each node's output slots and look, read before the nodes move.
  std::vector<Universe*> universe_of;
  std::vector<RecordView> view_of;
  std::vector<std::string> name_of;
  for (const PlanNode& n : plan.nodes) {
    name_of.push_back(n.name);
    universe_of.push_back(n.universe);
    view_of.push_back(n.view);
  }
  const std::string dead_letters = plan.dead_letter_sink >= 0 ? plan.nodes[plan.dead_letter_sink].name : "";
  size_t c = 0;
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    PlanNode& n = plan.nodes[i];
    std::vector<std::pair<std::string, int>> inputs;
    for (size_t k = 0; k < n.inputs.size(); ++k) inputs.emplace_back(name_of[n.inputs[k]], n.input_ports[k]);
    if (!n.inputs.empty()) origin[i] = origin[static_cast<size_t>(n.inputs[0])];
    if (n.kind == PlanNode::Kind::kSource) {
      origin[i] = n.source_index;
      sources.push_back(Node{std::move(n), {}});
      continue;
    }
    std::vector<const RepartitionTopic*> mine;
    while (c < cuts.size() && cuts[c].node == static_cast<int>(i)) mine.push_back(&cuts[c++]);
    auto add_cut = [&](const RepartitionTopic& t, const std::string& producer, const PlanNode& like,
                       Universe* universe, const RecordView& view) {
      Node sink;
      sink.node.kind = PlanNode::Kind::kSink;
      sink.node.name = HiddenSink(t.name);
      sink.node.type = "repartition";
      sink.node.mark = like.mark;
      sink.node.sink = MakeRepartitionSink(t, task);
      sink.inputs.emplace_back(producer, kMainPort);
      sinks.push_back(std::move(sink));
      Node source;
      source.node.kind = PlanNode::Kind::kSource;
      source.node.name = HiddenSource(t.name);
      source.node.type = "repartition";
      source.node.mark = like.mark;
      source.node.source = MakeRepartitionSource(t);
      source.node.source_index = origin[i];
      source.node.universe = universe;
      source.node.view = view;
      sources.push_back(std::move(source));
    };
    if (n.kind == PlanNode::Kind::kSink) {
      if (!mine.empty()) {
        const size_t from = static_cast<size_t>(n.inputs[0]);
        add_cut(*mine[0], inputs[0].first, n, universe_of[from], view_of[from]);
        inputs = {{HiddenSource(mine[0]->name), kMainPort}};
      }
      sinks.push_back(Node{std::move(n), inputs});
      continue;
    }
    // A transform: one segment per cut, the last keeping its name.
    std::vector<PlannedStep> steps = std::move(n.steps);
    n.steps.clear();
    int begin = 0;
    std::vector<std::pair<std::string, int>> segment_inputs = inputs;
    for (size_t s = 0; s < mine.size(); ++s) {
      const RepartitionTopic& cut = *mine[s];
      Node seg;
      seg.node.kind = PlanNode::Kind::kTransform;
      seg.node.name = n.name + "~" + std::to_string(s + 1);
      seg.node.type = n.type;
      seg.node.mark = n.mark;
      for (int k = begin; k < cut.step; ++k)
        seg.node.steps.push_back(std::move(steps[static_cast<size_t>(k)]));
      seg.inputs = segment_inputs;
      // The records cross in the layout they reach the step after the cut in.
      const bool at_output = cut.step >= static_cast<int>(steps.size());
      seg.node.universe = at_output ? n.universe : steps[static_cast<size_t>(cut.step)].input_universe;
      seg.node.view = at_output ? n.view : steps[static_cast<size_t>(cut.step)].input_view;
      add_cut(cut, seg.node.name, n, seg.node.universe, seg.node.view);
      transforms.push_back(std::move(seg));
      segment_inputs = {{HiddenSource(cut.name), kMainPort}};
      begin = cut.step;
    }
    for (size_t k = static_cast<size_t>(begin); k < steps.size(); ++k) n.steps.push_back(std::move(steps[k]));
    transforms.push_back(Node{std::move(n), segment_inputs});
  }
  // In place: sources, transforms (a segment's inputs come before it), sinks.
  std::vector<Node> all;
  for (auto* list : {&sources, &transforms, &sinks})
    for (auto& node : *list) all.push_back(std::move(node));
  std::map<std::string, int> index;
  for (size_t i = 0; i < all.size(); ++i) index[all[i].node.name] = static_cast<int>(i);
  plan.nodes.clear();
  plan.dead_letter_sink = -1;
  for (auto& node : all) {
    node.node.inputs.clear();
    node.node.input_ports.clear();
    node.node.consumers.clear();
    node.node.late_consumers.clear();
    for (const auto& [name, port] : node.inputs) {
      node.node.inputs.push_back(index.at(name));
      node.node.input_ports.push_back(port);
    }
    plan.nodes.push_back(std::move(node.node));
  }
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    if (plan.nodes[i].name == dead_letters && !dead_letters.empty())
      plan.dead_letter_sink = static_cast<int>(i);
    for (size_t k = 0; k < plan.nodes[i].inputs.size(); ++k) {
      PlanNode& producer = plan.nodes[static_cast<size_t>(plan.nodes[i].inputs[k])];
      (plan.nodes[i].input_ports[k] == kLatePort ? producer.late_consumers : producer.consumers)
          .push_back(static_cast<int>(i));
    }
  }
}

void KeepComponent(PipelinePlan& plan, const std::string& source, int partition) {
  const int root = plan.FindNode(source);
  if (root < 0) throw std::logic_error("no component " + source);
  std::set<int> keep = {root};
  std::vector<int> todo = {root};
  while (!todo.empty()) {
    const int i = todo.back();
    todo.pop_back();
    for (const auto* list :
         {&plan.nodes[static_cast<size_t>(i)].consumers, &plan.nodes[static_cast<size_t>(i)].late_consumers})
      for (int c : *list)
        if (keep.insert(c).second) todo.push_back(c);
  }
  if (plan.dead_letter_sink >= 0) keep.insert(plan.dead_letter_sink);
  std::map<int, int> remap;
  std::vector<PlanNode> nodes;
  for (int i : keep) {  // std::set: the plan's order
    remap[i] = static_cast<int>(nodes.size());
    nodes.push_back(std::move(plan.nodes[static_cast<size_t>(i)]));
  }
  for (auto& n : nodes) {
    for (int& in : n.inputs) in = remap.at(in);
    for (auto* list : {&n.consumers, &n.late_consumers}) {
      std::vector<int> kept;
      for (int c : *list)
        if (remap.count(c)) kept.push_back(remap[c]);
      *list = kept;
    }
  }
  plan.dead_letter_sink = plan.dead_letter_sink >= 0 ? remap.at(plan.dead_letter_sink) : -1;
  plan.nodes = std::move(nodes);
  plan.nodes[static_cast<size_t>(remap.at(root))].source->AssignTask({partition});
}

}  // namespace streamrun::job
