#pragma once
// A pipeline run as a job of several processes (docs/scaling.md), cut into
// the parts that tasks run.
//
// Where one process moves records between its workers (the exchange after a
// key_by, the gather before a step that needs every record or before a sink
// that is not per worker), a job moves them through a repartition topic
// (runner/job/repartition.h). Cutting the plan there leaves *components*:
// each reads one topic (the job's Kafka input, or a repartition topic) and
// ends at Kafka sinks, sinks that are not per worker, or the next
// repartition topics. A *task* is one component over one partition of its
// topic, as in Kafka Streams; it runs on its own (one worker, its own
// checkpoints, its own Kafka producers), so a task moves between processes
// whole.
#include <functional>
#include <string>
#include <vector>

#include "runner/job/repartition.h"
#include "runner/plan/plan.h"

namespace streamrun::job {

struct JobComponent {
  std::string source;  // its source node in the split plan
  std::string topic;   // the topic its tasks read
  int partitions = 1;  // so many tasks
};

struct JobLayout {
  std::vector<RepartitionTopic> topics;  // the repartition topics, in the plan's order
  std::vector<JobComponent> components;  // the input's first, then one per repartition topic
  // The component that reads `topic`; null if none.
  const JobComponent* ComponentOf(const std::string& topic) const;
};

// How `plan` (a plan with runtime.member set) splits into components, with
// the partition count of each input topic from `partitions_of`. False, with
// `error`, for a pipeline a job cannot run yet.
bool LayoutJob(
    const PipelinePlan& plan,
    const std::function<int(const SourcePlan::JobKafkaInput&, const std::string& topic)>& partitions_of,
    JobLayout* layout, std::string* error);

// Cuts `plan` at the layout's repartition topics: each cut is a repartition
// sink after the records' last step before it and a repartition source before
// the next. `task` names the task whose repartition sinks these are.
void SplitPlan(PipelinePlan& plan, const JobLayout& layout, const std::string& task);

// Keeps only the nodes of the component whose source is `source` (and the
// dead-letter sink), its source reading `partition` only.
void KeepComponent(PipelinePlan& plan, const std::string& source, int partition);

// The task of `topic`'s partition: "<topic>:<partition>"; and its name among
// checkpoint folders and Kafka ids (a valid member name).
std::string TaskName(const std::string& topic, int partition);
std::string TaskMember(const std::string& topic, int partition);

}  // namespace streamrun::job
