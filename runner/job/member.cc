#include "runner/job/member.h"

#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "runner/checkpoint/checkpoints.h"
#include "runner/kafka/client.h"
#include "runner/log/log.h"
#include "runner/metrics/prometheus_server.h"
#include "runner/record/clock.h"
#include "runner/runtime/runtime.h"

namespace streamrun::job {

namespace {

using Clock = std::chrono::steady_clock;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A client for metadata and admin requests on the job's brokers.
struct AdminClient {
  rd_kafka_t* rk = nullptr;
  AdminClient(const std::string& brokers, const kafka::Properties& properties) {
    rd_kafka_conf_t* conf = kafka::MakeConf(
        {{"bootstrap.servers", kafka::ResolveBrokers(brokers)}, {"client.id", "streamrun-job"}}, properties);
    char error[512];
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!rk) {
      rd_kafka_conf_destroy(conf);
      throw RunError(ErrorKind::kExternal, std::string("Kafka client: ") + error);
    }
  }
  ~AdminClient() { rd_kafka_destroy(rk); }
  // The topic's partition count; 0 if it does not exist. Throws for other errors.
  int Partitions(const std::string& topic) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (err)
      throw RunError(ErrorKind::kExternal, "metadata of topic " + topic + ": " + rd_kafka_err2str(err));
    int count = 0;
    if (md->topic_cnt == 1 && !md->topics[0].err) count = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return count;
  }
  // The topic's partition count from a listing of every topic (asking for
  // one topic would create it on a broker that creates topics on demand);
  // 0 if it does not exist.
  int Listed(const std::string& topic) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
    if (err) throw RunError(ErrorKind::kExternal, std::string("listing topics: ") + rd_kafka_err2str(err));
    int count = 0;
    for (int i = 0; i < md->topic_cnt; ++i)
      if (topic == md->topics[i].topic && !md->topics[i].err) count = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return count;
  }
  // Creates the topic unless it exists (with the broker's replication factor).
  void Create(const std::string& topic, int partitions) {
    if (Listed(topic) >= partitions) return;
    char error[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, error, sizeof error);
    if (!nt) throw RunError(ErrorKind::kExternal, "repartition topic " + topic + ": " + error);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 10000);
    std::string problem = "no answer";
    if (ev != nullptr) {
      if (const auto* result = rd_kafka_event_CreateTopics_result(ev)) {
        size_t n = 0;
        const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &n);
        const rd_kafka_resp_err_t err =
            n == 1 ? rd_kafka_topic_result_error(topics[0]) : rd_kafka_event_error(ev);
        problem = err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
                      ? ""
                      : rd_kafka_err2str(err);
      } else {
        problem = rd_kafka_event_error_string(ev);
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    const int have = Listed(topic);
    if (have >= partitions) return;
    throw RunError(ErrorKind::kExternal,
                   "repartition topic " + topic + " needs " + std::to_string(partitions) + " partition" +
                       (partitions == 1 ? "" : "s") + ", the broker has " +
                       (have == 0 ? std::string("no such topic") : std::to_string(have)) +
                       (problem.empty() ? "" : " and did not create it (" + problem + ")") +
                       ": create it with that many partitions (`streamrun explain --member NAME` lists the "
                       "job's repartition topics)");
  }
};

// The process a member's status file (`_status.json`) names.
checkpoint::RunningProcess ProcessOf(const nlohmann::json& status) {
  checkpoint::RunningProcess p;
  if (!status.is_object()) return p;
  p.pid = static_cast<long>(status.value("pid", int64_t{0}));
  p.host = status.value("host", "");
  p.renewed_ms = status.value("updated_ms", int64_t{0});
  return p;
}

// A task: one partition of one component, on its own thread.
struct Task {
  std::string component;  // the component's source node
  std::string topic;
  int partition = 0;
  std::atomic<bool> stop{false};
  std::atomic<bool> ended{false};
  std::atomic<bool> running{false};  // past the wait for the previous owner: its run has begun
  std::atomic<int> savepoints{0};    // its run's savepoint requests (the member's, from its start)
  int64_t started_ms = 0;
  std::thread thread;
};

class Member {
 public:
  Member(const config::ConfNode& root, const std::string& file, const PipelinePlan& plan,
         const MemberOptions& options)
      : root_(root), file_(file), plan_(plan), options_(options), layout_(LayoutOf(plan)) {
    std::string error;
    store_ =
        checkpoint::OpenStore(checkpoint::StoreConfig{plan.checkpoint.storage, plan.checkpoint.endpoint,
                                                      plan.checkpoint.region, plan.checkpoint.path_style},
                              &error);
    if (!store_) throw RunError(ErrorKind::kConfig, error);
    status_key_ = plan.CheckpointName() + "/_status.json";
    // runtime.metrics: the member serves its tasks' metrics, each labelled
    // with its task, and which tasks it holds.
    if (!plan.metrics_listen.empty()) {
      try {
        metrics_ =
            std::make_unique<metrics::TaskMetricsServer>(plan.metrics_listen, options.version, plan.member);
      } catch (const std::exception& e) {
        throw RunError(ErrorKind::kExternal, e.what());
      }
      log::Info("", "metrics of member {} at http://{}/metrics", plan.member, metrics_->address());
    }
  }

  MemberSummary Run() {
    const auto start = Clock::now();
    // One process per member name: a live one's status is renewed every 2 s.
    if (const auto text = store_->Get(status_key_)) {
      const checkpoint::RunningProcess other = ProcessOf(nlohmann::json::parse(*text, nullptr, false));
      if (other.OtherAndAlive(WallMs(), 10000))
        throw RunError(ErrorKind::kConfig, "member '" + plan_.member + "' of job '" + plan_.name +
                                               "' already runs (pid " + std::to_string(other.pid) + " on " +
                                               other.host + "): give each process its own member name");
    }
    const SourcePlan::JobKafkaInput input = FirstInput();
    kafka::Properties defaults = {
        {"bootstrap.servers", kafka::ResolveBrokers(input.brokers)},
        {"group.id", plan_.name},
        {"client.id", "streamrun-" + plan_.name + "-" + plan_.member},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"session.timeout.ms", input.brokers == kafka::kEmbedded ? "6000" : "10000"},
        {"heartbeat.interval.ms", "1000"},
    };
    // The user's properties (security) apply; the ones that make this a
    // member of the job's group do not.
    kafka::Properties properties;
    for (const auto& [k, v] : input.properties)
      if (k != "group.id" && k != "partition.assignment.strategy") properties.emplace_back(k, v);
    rd_kafka_conf_t* conf = kafka::MakeConf(defaults, properties);
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_rebalance_cb(conf, &Member::OnRebalance);
    char error[512];
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer_) {
      rd_kafka_conf_destroy(conf);
      throw RunError(ErrorKind::kExternal, std::string("job member: ") + error);
    }
    rd_kafka_poll_set_consumer(consumer_);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(4);
    for (const auto& c : layout_.components)
      rd_kafka_topic_partition_list_add(topics, c.topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
      rd_kafka_destroy(consumer_);
      consumer_ = nullptr;
      throw RunError(ErrorKind::kExternal, std::string("job member: subscribing: ") + rd_kafka_err2str(err));
    }
    log::Info("", "member {} of job '{}': {} component{}, {} repartition topic{}", plan_.member, plan_.name,
              layout_.components.size(), layout_.components.size() == 1 ? "" : "s", layout_.topics.size(),
              layout_.topics.size() == 1 ? "" : "s");

    int64_t last_status = 0;
    std::string failure;
    int savepoints_seen = options_.savepoint_requests ? options_.savepoint_requests->load() : 0;
    while (!options_.stop->load() && failure.empty()) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100)) rd_kafka_message_destroy(m);
      if (options_.savepoint_requests && options_.savepoint_requests->load() != savepoints_seen) {
        // SIGUSR1: every task running now takes a savepoint (a task started
        // later does not take one for an earlier request).
        savepoints_seen = options_.savepoint_requests->load();
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& [name, t] : tasks_) t->savepoints.fetch_add(1);
      }
      failure = TakeFailure();
      if (NowMs() - last_status >= 2000) {
        last_status = NowMs();
        WriteStatus();
      }
    }
    // Leaving: every task stops cleanly (its final checkpoint), then the
    // member leaves the group at once, so the others take its partitions now
    // rather than after the session timeout.
    StopTasks(AllTasks());
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
    consumer_ = nullptr;
    try {
      store_->DeletePrefix(status_key_);
    } catch (const std::exception&) {
    }
    if (failure.empty()) failure = TakeFailure();
    if (!failure.empty()) throw RunError(failure_kind_, failure);
    summary_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return summary_;
  }

 private:
  SourcePlan::JobKafkaInput FirstInput() const {
    for (const auto& n : plan_.nodes) {
      SourcePlan::JobKafkaInput input;
      if (n.kind == PlanNode::Kind::kSource && n.source->JobInput(&input)) return input;
    }
    throw RunError(ErrorKind::kConfig, "a job needs a kafka source");
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list,
                          void* opaque) {
    static_cast<Member*>(opaque)->Rebalance(rk, err, list);
  }

  void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
    const char* protocol = rd_kafka_rebalance_protocol(rk);
    const bool cooperative = protocol != nullptr && std::string(protocol) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, list));
      else
        rd_kafka_assign(rk, list);
      rd_kafka_pause_partitions(rk, list);  // the tasks read them, not this consumer
      for (int i = 0; i < list->cnt; ++i) StartTask(list->elems[i].topic, list->elems[i].partition);
      return;
    }
    // Revoked or lost: the tasks stop (a final checkpoint) before another
    // member may start them.
    std::vector<std::string> names;
    for (int i = 0; i < list->cnt; ++i)
      names.push_back(TaskName(list->elems[i].topic, list->elems[i].partition));
    StopTasks(names);
    if (cooperative)
      rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, list));
    else
      rd_kafka_assign(rk, nullptr);
  }

  void StartTask(const std::string& topic, int partition) {
    const JobComponent* component = layout_.ComponentOf(topic);
    if (component == nullptr || partition >= component->partitions)
      return;  // e.g. a gather topic's extra partitions
    const std::string name = TaskName(topic, partition);
    std::lock_guard<std::mutex> lock(mutex_);
    if (tasks_.count(name)) return;
    auto task = std::make_unique<Task>();
    task->component = component->source;
    task->topic = topic;
    task->partition = partition;
    task->started_ms = WallMs();
    Task* t = task.get();
    tasks_[name] = std::move(task);
    ++summary_.tasks_started;
    if (metrics_) metrics_->SetState(name, "waiting");
    t->thread = std::thread([this, t] { TaskMain(*t); });
  }

  std::vector<std::string> AllTasks() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> names;
    for (const auto& [name, t] : tasks_) names.push_back(name);
    return names;
  }

  void StopTasks(const std::vector<std::string>& names) {
    std::vector<std::unique_ptr<Task>> stopping;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& name : names) {
        auto it = tasks_.find(name);
        if (it == tasks_.end()) continue;
        it->second->stop.store(true);
        stopping.push_back(std::move(it->second));
        tasks_.erase(it);
      }
    }
    for (auto& t : stopping) {
      t->thread.join();
      ++summary_.tasks_stopped;
      if (metrics_) metrics_->SetState(TaskName(t->topic, t->partition), "");
      log::Info("", "task {} stopped", TaskName(t->topic, t->partition));
    }
  }

  // The task's run: its part of the plan, over its partition, restored from
  // its newest checkpoint. While the member that ran it before still holds
  // its checkpoints (it is stopping it), the task waits.
  void TaskMain(Task& t) {
    const std::string name = TaskName(t.topic, t.partition);
    while (!t.stop.load()) {
      try {
        config::Diagnostics diags;
        PlanOptions po;
        po.member = TaskMember(t.topic, t.partition);
        auto plan = BuildPlan(root_, file_, po, diags);
        if (!plan) throw RunError(ErrorKind::kConfig, diags.ToString());
        SplitPlan(*plan, layout_, name);
        KeepComponent(*plan, t.component, t.partition);
        // The group gave this member the task; a previous owner on another
        // host that stopped renewing its record for three intervals (at
        // least 10 s) is gone.
        const int64_t stale_ms = std::max<int64_t>(10000, 3 * plan->checkpoint.interval_ms);
        checkpoint::Checkpoints checkpoints(store_, plan->CheckpointName());
        const checkpoint::RunningProcess holder = checkpoints.Running();
        if (holder.OtherAndAlive(WallMs(), stale_ms)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;
        }
        log::Info("", "task {} starting", name);
        t.running.store(true);
        RunOptions ro;
        ro.stop = &t.stop;
        ro.parallelism = 1;
        ro.version = options_.version;
        ro.lease_stale_ms = stale_ms;
        ro.savepoint_requests = &t.savepoints;
        if (metrics_) {
          metrics_->SetState(name, "running");
          ro.on_metrics = [this, name](std::shared_ptr<const metrics::Registry> registry) {
            metrics_->SetRun(name, std::move(registry));
          };
        }
        streamrun::Run(*plan, ro);
        break;
      } catch (const Error& e) {
        Fail(e.kind(), "task " + name + ": " + e.what());
        break;
      } catch (const std::exception& e) {
        Fail(ErrorKind::kExternal, "task " + name + ": " + e.what());
        break;
      }
    }
    t.ended.store(true);
  }

  void Fail(ErrorKind kind, const std::string& what) {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    if (!failure_.empty()) return;
    failure_ = what;
    failure_kind_ = kind;
  }

  std::string TakeFailure() {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    return failure_;
  }

  // `<pipeline>@<member>/_status.json`, for `streamrun status`.
  void WriteStatus() {
    const checkpoint::RunningProcess self = checkpoint::RunningProcess::Self();
    nlohmann::ordered_json s;
    s["member"] = plan_.member;
    s["host"] = self.host;
    s["pid"] = self.pid;
    s["updated_ms"] = self.renewed_ms;
    nlohmann::ordered_json tasks = nlohmann::ordered_json::array();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [name, t] : tasks_) {
        nlohmann::ordered_json task;
        task["task"] = name;
        task["checkpoints"] = plan_.name + "@" + TaskMember(t->topic, t->partition);
        task["since_ms"] = t->started_ms;
        task["state"] = t->ended.load() ? "ended" : t->running.load() ? "running" : "waiting";
        tasks.push_back(task);
      }
    }
    s["tasks"] = tasks;
    try {
      store_->Put(status_key_, s.dump(2));
    } catch (const std::exception& e) {
      log::Warn("", "job member: writing {}: {}", status_key_, e.what());
    }
  }

  const config::ConfNode& root_;
  const std::string file_;
  const PipelinePlan& plan_;
  const MemberOptions options_;
  const JobLayout layout_;
  std::shared_ptr<checkpoint::Store> store_;
  std::string status_key_;
  rd_kafka_t* consumer_ = nullptr;
  std::unique_ptr<metrics::TaskMetricsServer> metrics_;  // runtime.metrics; declared before the tasks
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Task>> tasks_;
  std::mutex failure_mutex_;
  std::string failure_;
  ErrorKind failure_kind_ = ErrorKind::kExternal;
  MemberSummary summary_;
};

}  // namespace

JobLayout LayoutOf(const PipelinePlan& plan) {
  if (!plan.checkpoint.enabled())
    throw RunError(
        ErrorKind::kConfig,
        "runtime.member: a job of several processes needs runtime.checkpoint (its tasks move between "
        "processes through their checkpoints): set a storage all the processes share");
  JobLayout layout;
  std::string error;
  std::map<std::string, std::unique_ptr<AdminClient>> clients;
  auto client_for = [&](const SourcePlan::JobKafkaInput& input) -> AdminClient& {
    auto& c = clients[input.brokers];
    if (!c) c = std::make_unique<AdminClient>(input.brokers, input.properties);
    return *c;
  };
  const bool ok = LayoutJob(
      plan,
      [&](const SourcePlan::JobKafkaInput& input, const std::string& topic) {
        kafka::EnsureEmbeddedTopic(input.brokers, topic, input.partitions);
        const int n = client_for(input).Partitions(topic);
        if (n == 0) throw RunError(ErrorKind::kExternal, "topic " + topic + " does not exist");
        return n;
      },
      &layout, &error);
  if (!ok) throw RunError(ErrorKind::kConfig, "runtime.member: " + error + " (docs/scaling.md)");
  for (const auto& t : layout.topics) {
    if (t.brokers == kafka::kEmbedded) {
      kafka::EnsureEmbeddedTopic(t.brokers, t.name, t.partitions);
      continue;
    }
    SourcePlan::JobKafkaInput input;
    input.brokers = t.brokers;
    input.properties = t.properties;
    client_for(input).Create(t.name, t.partitions);
  }
  return layout;
}

MemberSummary RunMember(const config::ConfNode& root, const std::string& file, const PipelinePlan& plan,
                        const MemberOptions& options) {
  if (plan.member.rfind("task-", 0) == 0)
    throw RunError(ErrorKind::kConfig,
                   "member name '" + plan.member +
                       "': names starting with task- are the job's tasks' (docs/scaling.md)");
  Member member(root, file, plan, options);
  return member.Run();
}

std::string JobStatus(const PipelinePlan& plan) {
  std::string error;
  std::shared_ptr<checkpoint::Store> store =
      checkpoint::OpenStore(checkpoint::StoreConfig{plan.checkpoint.storage, plan.checkpoint.endpoint,
                                                    plan.checkpoint.region, plan.checkpoint.path_style},
                            &error);
  if (!store) throw RunError(ErrorKind::kConfig, error);
  const int64_t now = WallMs();
  std::string out = "job '" + plan.name + "', checkpoints in " + plan.checkpoint.storage + "\n";
  // Members: their status files, renewed every 2 s while they run.
  std::map<std::string, std::string> owner;  // task -> member
  std::string members;
  const std::string prefix = plan.name + "@";
  std::vector<std::string> task_folders;
  for (const auto& key : store->List("")) {
    if (key.rfind(prefix, 0) != 0 || key.back() != '/') continue;
    const std::string folder = key.substr(0, key.size() - 1);
    const std::string who = folder.substr(prefix.size());
    if (who.rfind("task-", 0) == 0) {
      task_folders.push_back(folder);
      continue;
    }
    const auto text = store->Get(folder + "/_status.json");
    if (!text) continue;
    const auto s = nlohmann::json::parse(*text, nullptr, false);
    if (s.is_discarded()) continue;
    const int64_t age = now - s.value("updated_ms", int64_t{0});
    const checkpoint::RunningProcess process = ProcessOf(s);
    // Gone: its process is dead (on this host), or it stopped renewing.
    const bool gone =
        !process.OtherAndAlive(now, 10000) && process.pid != checkpoint::RunningProcess::Self().pid;
    std::string names;
    for (const auto& t : s.value("tasks", nlohmann::json::array())) {
      const std::string task = t.value("task", "");
      const std::string state = t.value("state", "");
      names += " " + task + (state == "running" ? "" : " (" + state + ")");
      if (!gone) owner[task] = who;
    }
    char line[512];
    std::snprintf(line, sizeof line, "  %-16s pid %-7lld on %-16s updated %5.1f s ago%s\n", who.c_str(),
                  static_cast<long long>(s.value("pid", int64_t{0})), s.value("host", "").c_str(),
                  age / 1000.0, gone ? "  (gone: its tasks move after the group's session timeout)" : "");
    members += line;
    members += "    tasks:" + (names.empty() ? std::string(" none") : names) + "\n";
  }
  out += "members:\n" + (members.empty() ? std::string("  none running\n") : members);
  out += "tasks:\n";
  if (task_folders.empty()) out += "  none has a checkpoint yet\n";
  std::unique_ptr<AdminClient> client;
  for (const auto& n : plan.nodes) {
    SourcePlan::JobKafkaInput input;
    if (n.kind == PlanNode::Kind::kSource && n.source->JobInput(&input)) {
      try {
        client = std::make_unique<AdminClient>(input.brokers, input.properties);
      } catch (const std::exception&) {
      }
      break;
    }
  }
  for (const auto& folder : task_folders) {
    checkpoint::Checkpoints checkpoints(store, folder);
    const auto ids = checkpoints.Complete();
    std::string line = "  " + folder.substr(prefix.size());
    if (ids.empty()) {
      out += line + "  no complete checkpoint\n";
      continue;
    }
    const auto m = nlohmann::json::parse(checkpoints.Manifest(ids.back()).value_or("{}"), nullptr, false);
    const int64_t created = m.is_object() ? m.value("created_ms", int64_t{0}) : 0;
    char head[256];
    std::snprintf(head, sizeof head, "  checkpoint %lld (%.1f s ago)", static_cast<long long>(ids.back()),
                  (now - created) / 1000.0);
    line += head;
    if (m.is_object() && m.contains("sources")) {
      for (const auto& [source, positions] : m["sources"].items())
        for (const auto& [partition, text] : positions.items()) {
          const std::string task = partition;
          line += "\n    " + task + ": " + text.get<std::string>();
          if (owner.count(task)) line += ", run by " + owner[task];
          const size_t colon = task.rfind(':');
          const std::string t = text.get<std::string>();
          if (client && colon != std::string::npos && t.rfind("offset ", 0) == 0) {
            int64_t low = 0, high = 0;
            if (rd_kafka_query_watermark_offsets(client->rk, task.substr(0, colon).c_str(),
                                                 std::atoi(task.c_str() + colon + 1), &low, &high,
                                                 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
              line += ", lag " + std::to_string(std::max<int64_t>(0, high - std::stoll(t.substr(7))));
          }
        }
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace streamrun::job
