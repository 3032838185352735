#pragma once
// One process of a job of several (docs/scaling.md): a member of the
// pipeline's Kafka consumer group that runs the tasks the group assigns it.
//
// The member's consumer subscribes to every topic a task reads (the job's
// input and its repartition topics) with the cooperative-sticky assignor and
// reads nothing itself: each partition it is assigned is a task, run on its
// own thread as a run of one worker over the task's part of the plan
// (runner/job/split.h), with its own checkpoints `<pipeline>@task-...` in the
// shared store. When the group takes a partition away, the member stops that
// task (a final checkpoint, its sinks committed) before it lets the partition
// go; the next owner restores the task from that checkpoint. A member that
// dies leaves its tasks' last complete checkpoints, which the next owners
// restore, as one process restores after a crash.
#include <atomic>
#include <string>
#include <vector>

#include "runner/config/conf_node.h"
#include "runner/job/split.h"
#include "runner/plan/plan.h"

namespace streamrun::job {

struct MemberOptions {
  const std::atomic<bool>* stop = nullptr;  // set to leave the job: every task stops cleanly
  // Incremented (SIGUSR1) to have every task of this member take a savepoint
  // in its own folder.
  const std::atomic<int>* savepoint_requests = nullptr;
  std::string version = "dev";
};

// What the member did, for the run command's summary.
struct MemberSummary {
  int tasks_started = 0;
  int tasks_stopped = 0;
  double seconds = 0;
};

// Runs this process as member `plan.member` of the job of `plan` (built from
// `root`, the pipeline file `file`) until `stop`. Throws RunError: a
// configuration the job cannot run (kConfig), a task that failed.
MemberSummary RunMember(const config::ConfNode& root, const std::string& file, const PipelinePlan& plan,
                        const MemberOptions& options);

// The job's layout for `plan`, reading the input topics' partition counts
// from the broker (and creating embedded topics); throws RunError.
JobLayout LayoutOf(const PipelinePlan& plan);

// `streamrun status`: the job's members, its tasks, who runs each, their
// last checkpoint and their input's lag, as text.
std::string JobStatus(const PipelinePlan& plan);

}  // namespace streamrun::job
