#pragma once
// The two ends of a repartition topic (docs/scaling.md): in a job of several
// processes, records cross from one task to another through a Kafka topic
// instead of the in-process exchange.
//
// - The sink end (a hidden per-task sink) writes each record whole, as a
//   checkpoint writes a held record (its position, key hash, raw bytes and
//   every slot), to the partition that owns its key group (partition =
//   key group * partitions / 128), or to partition 0 for a gather. The
//   receiving task decodes the same slots: every process plans the same
//   pipeline, so the slot layout is the same.
// - Event time crosses too: after the records of a checkpoint interval the
//   sink writes its task's watermark to every partition. The source end takes,
//   per partition, the minimum over every upstream task (each partition of
//   the upstream topic) of the last watermark it wrote; a task not heard from
//   yet holds it back, as an idle input would in one process.
// - Exactly once without transactions. What a task writes between two
//   checkpoints is staged and goes out only when the checkpoint completes
//   (Commit); the staged messages are in the checkpoint (PreCommit), so a
//   restore sends them again. Each record carries its task's sequence number
//   per partition, kept in the task's checkpoint; the source end drops a
//   record whose number it has seen (the numbers are in its own checkpoint).
//   A record is therefore counted once even on a broker without transaction
//   markers (the embedded one), at the price of latency: a record crosses a
//   repartition topic one checkpoint interval after it was made. A gap in
//   the numbers (records the broker lost) fails the task.
// - Each message also carries its task's lineage, a number drawn when the
//   task starts without a checkpoint and kept in its checkpoints: records of
//   a job started over with its old repartition topics left in place are
//   refused, not read as this job's.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "operators/operator.h"

namespace streamrun::job {

struct RepartitionTopic {
  std::string name;  // the Kafka topic
  int partitions = 1;
  bool gather = false;  // every record to partition 0
  std::string brokers;
  std::vector<std::pair<std::string, std::string>> properties;  // the input source's (security...)
  // The tasks that write it: one per partition of this topic (the upstream
  // component's input); their names are "<topic>:<partition>".
  std::string upstream_topic;
  int upstream_partitions = 1;
  // Where the plan is cut (runner/job/split.h): before step `step` of node
  // `node` (step == its step count: after its last step); for a sink, step 0.
  // Every process plans the same file, so the indexes are the same in each.
  int node = 0;
  int step = 0;
};

// The partition of `topic` that receives a record with this key hash.
int PartitionOfKey(const RepartitionTopic& topic, uint64_t key_hash);

// The sink end, for the task named `task` ("<input topic>:<partition>").
std::unique_ptr<SinkPlan> MakeRepartitionSink(RepartitionTopic topic, std::string task);
// The source end; AssignTask gives it the partitions of its task.
std::unique_ptr<SourcePlan> MakeRepartitionSource(RepartitionTopic topic);

}  // namespace streamrun::job
