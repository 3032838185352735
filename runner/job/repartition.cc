#include "runner/job/repartition.h"

#include <algorithm>
#include <map>
#include <random>
#include <stdexcept>

#include "operators/held_record.h"
#include "operators/run_scope.h"
#include "runner/kafka/client.h"
#include "runner/log/log.h"
#include "runner/record/clock.h"
#include "runner/state/key_groups.h"
#include "runner/state/snapshot.h"

namespace streamrun::job {

namespace {

// A repartition message's value: its kind, the writing task, then a record
// (sequence number and the held record) or a watermark.
enum : uint64_t { kRecordMessage = 1, kWatermarkMessage = 2 };
// The sink end's checkpoint state: its format, the sequence numbers, the
// messages staged and not yet sent.
// 2: the task's lineage after the format.
constexpr uint64_t kSinkStateFormat = 2;

// A task's lineage: drawn when it starts without a checkpoint, kept in its
// checkpoints. Messages of an earlier job that left its repartition topics
// behind carry another, so they are refused instead of read.
uint64_t NewLineage() {
  std::random_device random;
  uint64_t id = 0;
  while (id == 0) id = (static_cast<uint64_t>(random()) << 32) ^ random();
  return id;
}

[[noreturn]] void Fail(const RepartitionTopic& topic, const std::string& what) {
  throw std::runtime_error("repartition topic " + topic.name + ": " + what);
}

kafka::Properties ClientDefaults(const RepartitionTopic& topic, const std::string& client) {
  return {{"bootstrap.servers", kafka::ResolveBrokers(topic.brokers)}, {"client.id", client}};
}

// ---- the sink end -----------------------------------------------------------

// Messages waiting for their checkpoint, back to back in one buffer: once the
// buffer has grown, staging a record allocates nothing.
class StagedMessages {
 public:
  // Appends a message to `partition`: write its bytes to the buffer returned,
  // then call End.
  std::string* Begin(int partition) {
    items_.push_back(Item{partition, bytes_.size(), bytes_.size()});
    return &bytes_;
  }
  void End() { items_.back().end = bytes_.size(); }
  size_t size() const { return items_.size(); }
  int partition(size_t i) const { return items_[i].partition; }
  std::string_view value(size_t i) const {
    return std::string_view(bytes_).substr(items_[i].begin, items_[i].end - items_[i].begin);
  }
  // Forgets the first `n` messages (sent).
  void DropFront(size_t n) {
    if (n == items_.size()) {
      items_.clear();
      bytes_.clear();
      return;
    }
    const size_t cut = items_[n].begin;
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(n));
    bytes_.erase(0, cut);
    for (Item& item : items_) item.begin -= cut, item.end -= cut;
  }

 private:
  struct Item {
    int partition;
    size_t begin, end;
  };
  std::string bytes_;
  std::vector<Item> items_;
};

class RepartitionSinkInstance : public SinkInstance {
 public:
  RepartitionSinkInstance(const RepartitionTopic& topic, const std::string& task,
                          std::shared_ptr<InputIdle> idle)
      : topic_(topic),
        task_(task),
        input_idle_(std::move(idle)),
        seq_(static_cast<size_t>(topic.partitions), 0) {
    kafka::Properties defaults = ClientDefaults(topic, "streamrun-repartition-" + task);
    defaults.emplace_back("enable.idempotence", "true");
    defaults.emplace_back("acks", "all");
    defaults.emplace_back("linger.ms", "5");
    rd_kafka_conf_t* conf = kafka::MakeConf(defaults, topic.properties);
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &RepartitionSinkInstance::OnDelivery);
    char error[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer_) {
      rd_kafka_conf_destroy(conf);
      Fail(topic, error);
    }
    handle_ = rd_kafka_topic_new(producer_, topic.name.c_str(), nullptr);
  }

  ~RepartitionSinkInstance() override {
    if (handle_) rd_kafka_topic_destroy(handle_);
    if (producer_) {
      rd_kafka_flush(producer_, 5000);
      rd_kafka_destroy(producer_);
    }
  }

  void Write(const Batch& batch, const RecordView&, RecordErrors&) override {
    if (sent_idle_ && !batch.empty()) {
      // The task's input woke up: the tasks downstream must count it again
      // now, not when this interval's records go out, or their watermark
      // could pass these records meanwhile. Not staged: a repeat changes
      // nothing.
      StagedMessages busy;
      for (int p = 0; p < topic_.partitions; ++p) StageWatermark(busy, p, sent_watermark_, false);
      Send(busy, busy.size());
      sent_idle_ = false;
    }
    for (uint32_t i = 0; i < batch.size(); ++i) {
      const int p = topic_.gather ? 0 : PartitionOfKey(topic_, batch.key_hash(i));
      SnapshotWriter w(staged_.Begin(p));
      w.U64(kRecordMessage);
      w.Str(task_);
      w.U64(lineage_);
      w.U64(++seq_[static_cast<size_t>(p)]);
      SaveHeldRecord(batch, i, w);
      staged_.End();
    }
  }

  // Dead letters never reach a repartition topic (the plan sends them to the
  // dead-letter sink itself).
  void WriteEncoded(const std::vector<std::string>&) override {}

  void OnWatermark(int64_t watermark) override { watermark_ = std::max(watermark_, watermark); }

  void BeginExactlyOnce(const std::vector<std::string>& recovered) override { Recover(recovered); }
  void ResumeAtLeastOnce(const std::vector<std::string>& recovered) override { Recover(recovered); }

  // The interval's records, then the task's watermark to every partition
  // (when it moved, or the task's input became idle or busy again).
  std::string PreCommit(int64_t) override {
    const bool idle = input_idle_->idle.load(std::memory_order_relaxed);
    if (watermark_ > sent_watermark_ || idle != sent_idle_) {
      for (int p = 0; p < topic_.partitions; ++p) StageWatermark(staged_, p, watermark_, idle);
      sent_watermark_ = watermark_;
      sent_idle_ = idle;
    }
    prepared_ = staged_.size();
    std::string state;
    SnapshotWriter w(&state);
    w.U64(kSinkStateFormat);
    w.U64(lineage_);
    w.U64(seq_.size());
    for (uint64_t s : seq_) w.U64(s);
    w.I64(sent_watermark_);
    w.U64(prepared_);
    for (size_t i = 0; i < prepared_; ++i) {
      w.U64(static_cast<uint64_t>(staged_.partition(i)));
      w.Str(staged_.value(i));
    }
    return state;
  }

  void Commit(int64_t) override {
    Send(staged_, prepared_);
    staged_.DropFront(prepared_);
    prepared_ = 0;
  }

  void Flush() override { rd_kafka_poll(producer_, 0); }

 private:
  void StageWatermark(StagedMessages& to, int partition, int64_t watermark, bool idle) const {
    SnapshotWriter w(to.Begin(partition));
    w.U64(kWatermarkMessage);
    w.Str(task_);
    w.U64(lineage_);
    w.I64(watermark);
    w.Bool(idle);
    to.End();
  }

  // The states of the checkpoint the task restores: its sequence numbers go
  // on, and what it had staged is sent (again: the source end drops what it
  // has seen).
  void Recover(const std::vector<std::string>& recovered) {
    StagedMessages again;
    for (const auto& state : recovered) {
      if (state.empty()) continue;
      SnapshotReader r(state);
      if (r.U64() != kSinkStateFormat) Fail(topic_, "a checkpoint of an unknown format");
      lineage_ = r.U64();
      const uint64_t n = r.Count();
      for (uint64_t p = 0; p < n; ++p) {
        const uint64_t s = r.U64();
        if (p < seq_.size()) seq_[p] = std::max(seq_[p], s);
      }
      sent_watermark_ = std::max(sent_watermark_, r.I64());
      const uint64_t items = r.Count();
      for (uint64_t i = 0; i < items; ++i) {
        const uint64_t partition = r.U64();
        if (partition >= static_cast<uint64_t>(topic_.partitions))
          Fail(topic_, "a checkpoint names no partition");
        again.Begin(static_cast<int>(partition))->append(r.Str());
        again.End();
      }
    }
    watermark_ = std::max(watermark_, sent_watermark_);
    Send(again, again.size());
  }

  // Sends the first `n` messages and waits until the broker has them all.
  void Send(const StagedMessages& messages, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const std::string_view value = messages.value(i);
      while (rd_kafka_produce(handle_, messages.partition(i), RD_KAFKA_MSG_F_COPY,
                              const_cast<char*>(value.data()), value.size(), nullptr, 0, nullptr) != 0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
          Fail(topic_, std::string("producing: ") + rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_poll(producer_, 10);
      }
    }
    // A checkpoint's messages are all with the broker before the next interval.
    const rd_kafka_resp_err_t err = rd_kafka_flush(producer_, 60000);
    if (err) Fail(topic_, std::string("flushing: ") + rd_kafka_err2str(err));
    if (!failure_.empty()) Fail(topic_, "a message was not delivered: " + failure_);
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<RepartitionSinkInstance*>(opaque);
    if (m->err && self->failure_.empty()) self->failure_ = rd_kafka_err2str(m->err);
  }

  const RepartitionTopic& topic_;
  const std::string task_;
  std::shared_ptr<InputIdle> input_idle_;  // the task's input: shared with its source
  uint64_t lineage_ = NewLineage();        // a restore replaces it with its checkpoint's
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* handle_ = nullptr;
  std::vector<uint64_t> seq_;  // per partition: the last sequence number given
  StagedMessages staged_;
  size_t prepared_ = 0;  // staged_[0, prepared_) belong to the checkpoint being taken
  int64_t watermark_ = kNoTime;
  int64_t sent_watermark_ = kNoTime;
  bool sent_idle_ = false;
  std::string failure_;
};

class RepartitionSinkPlan : public SinkPlan {
 public:
  RepartitionSinkPlan(RepartitionTopic topic, std::string task)
      : topic_(std::move(topic)), task_(std::move(task)) {}
  std::unique_ptr<SinkInstance> Instantiate(const OperatorContext& context) const override {
    return std::make_unique<RepartitionSinkInstance>(
        topic_, task_, context.scope->Get<InputIdle>(kInputIdle, [] { return new InputIdle; }));
  }
  std::string Describe() const override {
    return "repartition topic " + topic_.name + " (" + std::to_string(topic_.partitions) + " partition" +
           (topic_.partitions == 1 ? "" : "s") + (topic_.gather ? ", gather" : ", by key group") + ")";
  }
  bool PerWorker() const override { return true; }
  // A restore from an older checkpoint than the newest numbers its records
  // again from there: they were seen, and are dropped.
  bool TakesBackOutput() const override { return false; }
  std::string DescribeState(std::string_view state) const override {
    if (state.empty()) return {};
    try {
      SnapshotReader r(state);
      r.U64();
      r.U64();
      const uint64_t n = r.Count();
      for (uint64_t p = 0; p < n; ++p) r.U64();
      r.I64();
      return std::to_string(r.Count()) + " messages to send when the checkpoint completes";
    } catch (const std::exception& e) {
      return std::string("unreadable: ") + e.what();
    }
  }

 private:
  RepartitionTopic topic_;
  std::string task_;
};

// ---- the source end ---------------------------------------------------------

class RepartitionSourceInstance : public SourceInstance {
 public:
  RepartitionSourceInstance(const RepartitionTopic& topic, const std::vector<int32_t>& partitions,
                            std::shared_ptr<InputIdle> idle)
      : topic_(topic), input_idle_(std::move(idle)) {
    for (int p = 0; p < topic.upstream_partitions; ++p)
      upstream_.push_back(topic.upstream_topic + ":" + std::to_string(p));
    kafka::Properties defaults = ClientDefaults(topic, "streamrun-repartition-" + topic.name);
    defaults.emplace_back("group.id", topic.name + ".tasks");  // never joined: assigned partitions only
    defaults.emplace_back("enable.auto.commit", "false");
    defaults.emplace_back("enable.partition.eof", "false");
    defaults.emplace_back("auto.offset.reset", "earliest");
    rd_kafka_conf_t* conf = kafka::MakeConf(defaults, topic.properties);
    char error[512];
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer_) {
      rd_kafka_conf_destroy(conf);
      Fail(topic, error);
    }
    rd_kafka_poll_set_consumer(consumer_);
    queue_ = rd_kafka_queue_get_consumer(consumer_);
    for (int32_t p : partitions) parts_[p];
    Assign();
    messages_.resize(kDefaultBatchSize);
  }

  ~RepartitionSourceInstance() override {
    if (queue_) rd_kafka_queue_destroy(queue_);
    if (consumer_) {
      rd_kafka_consumer_close(consumer_);
      rd_kafka_destroy(consumer_);
    }
  }

  bool Next(Batch& batch, size_t max_rows, RecordErrors&) override {
    const ssize_t n = kafka::PollBatch(consumer_, queue_, messages_.data(),
                                       std::min(max_rows, messages_.size()), &empty_polls_);
    if (n < 0) Fail(topic_, std::string("consuming: ") + rd_kafka_err2str(rd_kafka_last_error()));
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = messages_[static_cast<size_t>(i)];
      try {
        Take(m, batch);
      } catch (...) {
        for (ssize_t k = i; k < n; ++k) rd_kafka_message_destroy(messages_[static_cast<size_t>(k)]);
        throw;
      }
      rd_kafka_message_destroy(m);
    }
    return true;
  }

  int64_t Watermark(int64_t) override { return current_; }

  std::string DescribePosition(const RecordPosition& pos) const override {
    return "partition " + std::to_string(pos.partition) + " offset " + std::to_string(pos.offset) +
           " of the job's input (through " + topic_.name + ")";
  }

  // Per partition "<topic>:<partition>": the next offset, then each upstream
  // task's watermark and last sequence number.
  void SnapshotPositions(std::map<std::string, SavedPosition>* positions) const override {
    for (const auto& [p, part] : parts_) {
      SavedPosition& saved = (*positions)[topic_.name + ":" + std::to_string(p)];
      saved.text = "offset " + std::to_string(part.next);
      SnapshotWriter w(&saved.bytes);
      w.I64(part.next);
      w.U64(part.channels.size());
      for (const auto& [task, ch] : part.channels) {
        w.Str(task);
        w.I64(ch.watermark);
        w.U64(ch.seq);
        w.U64(ch.lineage);
        w.Bool(ch.idle);
      }
    }
  }

  void RestorePositions(const std::map<std::string, std::string>& positions, int64_t watermark) override {
    if (watermark != kEndOfTime) current_ = std::max(current_, watermark);
    for (auto& [p, part] : parts_) {
      auto it = positions.find(topic_.name + ":" + std::to_string(p));
      if (it == positions.end()) continue;
      SnapshotReader r(it->second);
      part.next = r.I64();
      part.channels.clear();
      const uint64_t n = r.Count();
      for (uint64_t i = 0; i < n; ++i) {
        Channel& ch = part.channels[std::string(r.Str())];
        ch.watermark = r.I64();
        ch.seq = r.U64();
        ch.lineage = r.U64();
        ch.idle = r.Bool();
      }
    }
    Assign();
    Recompute();
  }

 private:
  struct Channel {
    int64_t watermark = kNoTime;
    uint64_t seq = 0;
    uint64_t lineage = 0;  // of the task's records read so far; 0: none yet
    bool idle = false;     // its task's input is idle: it does not hold event time back
  };
  struct Part {
    int64_t next = 0;                                      // the offset to read next
    std::map<std::string, Channel, std::less<>> channels;  // by upstream task
  };

  void Assign() {
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(parts_.size()));
    for (const auto& [p, part] : parts_)
      rd_kafka_topic_partition_list_add(list, topic_.name.c_str(), p)->offset =
          part.next > 0 ? part.next : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) Fail(topic_, std::string("assigning partitions: ") + rd_kafka_err2str(err));
  }

  void Take(rd_kafka_message_t* m, Batch& batch) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    if (m->err) {
      // Transient (a broker down): librdkafka retries; a fatal error ends the task.
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) Fail(topic_, rd_kafka_message_errstr(m));
      const int64_t now = NowMs();
      if (now - last_warning_ >= 5000) {
        last_warning_ = now;
        log::Warn("", "repartition topic {}: {}", topic_.name, rd_kafka_message_errstr(m));
      }
      return;
    }
    auto found = parts_.find(m->partition);
    if (found == parts_.end()) return;
    Part& part = found->second;
    if (m->offset < part.next) return;  // from before a restore's position
    part.next = m->offset + 1;
    SnapshotReader r(std::string_view(static_cast<const char*>(m->payload), m->len));
    const uint64_t kind = r.U64();
    const std::string_view task = r.Str();
    const uint64_t lineage = r.U64();
    auto ch = part.channels.find(task);
    if (ch == part.channels.end()) ch = part.channels.emplace(std::string(task), Channel{}).first;
    if (kind == kWatermarkMessage) {
      const int64_t w = r.I64();
      const bool idle = r.Bool();
      if (w > ch->second.watermark || idle != ch->second.idle) {
        ch->second.watermark = std::max(ch->second.watermark, w);
        ch->second.idle = idle;
        Recompute();
      }
      return;
    }
    if (kind != kRecordMessage)
      Fail(topic_, "a message of an unknown kind at offset " + std::to_string(m->offset));
    const uint64_t seq = r.U64();
    // Records of one task come from one lineage of its checkpoints (watermark
    // messages may come before its first checkpoint, so they do not count).
    if (ch->second.lineage == 0) ch->second.lineage = lineage;
    if (lineage != ch->second.lineage)
      Fail(topic_, "partition " + std::to_string(m->partition) + " holds records of task " +
                       std::string(task) +
                       " from another run of the job than the ones read before (a job started over without "
                       "deleting its repartition topics?): delete them, or give the pipeline a new name");
    if (seq <= ch->second.seq) return;  // sent again after a restore: seen already
    // A task's numbers for one partition are sent without a gap: a gap is a
    // record the broker lost (the embedded broker keeps 5 MB per partition).
    if (seq != ch->second.seq + 1)
      Fail(topic_, "records " + std::to_string(ch->second.seq + 1) + " to " + std::to_string(seq - 1) +
                       " of task " + std::string(task) + " to partition " + std::to_string(m->partition) +
                       " are missing (the broker no longer has them)");
    ch->second.seq = seq;
    if (ch->second.idle) {  // busy again: it holds event time back from now on
      ch->second.idle = false;
      Recompute();
    }
    const uint32_t row = LoadHeldRecord(r, batch);
    batch.set_watermark(row, current_);
  }

  // The minimum over the assigned partitions and every upstream task that is
  // not idle (one not heard from yet counts, at no time). When every one is
  // idle: the minimum over them all, and this task's input is idle too.
  void Recompute() {
    int64_t low = kEndOfTime;
    bool busy = false;
    for (const auto& [p, part] : parts_)
      for (const auto& u : upstream_) {
        auto it = part.channels.find(u);
        if (it != part.channels.end() && it->second.idle) continue;
        busy = true;
        low = std::min(low, it == part.channels.end() ? kNoTime : it->second.watermark);
      }
    if (!busy) {  // every upstream task idle: follow the slowest of them, as one process does
      for (const auto& [p, part] : parts_)
        for (const auto& [task, ch] : part.channels) low = std::min(low, ch.watermark);
    }
    if (parts_.empty()) low = kEndOfTime;
    if (low != kEndOfTime || parts_.empty()) current_ = std::max(current_, low);
    input_idle_->idle.store(!busy && !parts_.empty(), std::memory_order_relaxed);
  }

  const RepartitionTopic& topic_;
  std::shared_ptr<InputIdle> input_idle_;
  std::vector<std::string> upstream_;
  std::map<int32_t, Part> parts_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<rd_kafka_message_t*> messages_;
  int empty_polls_ = 0;
  int64_t last_warning_ = 0;
  int64_t current_ = kNoTime;
};

class RepartitionSourcePlan : public SourcePlan {
 public:
  explicit RepartitionSourcePlan(RepartitionTopic topic) : topic_(std::move(topic)) {}
  std::unique_ptr<SourceInstance> Instantiate(const OperatorContext& context, const Universe&,
                                              int) const override {
    return std::make_unique<RepartitionSourceInstance>(
        topic_, partitions_, context.scope->Get<InputIdle>(kInputIdle, [] { return new InputIdle; }));
  }
  std::string Describe() const override {
    return "repartition topic " + topic_.name + " (" + std::to_string(topic_.partitions) + " partition" +
           (topic_.partitions == 1 ? "" : "s") + ", written by the tasks of " + topic_.upstream_topic + ")";
  }
  void AssignTask(const std::vector<int32_t>& partitions) override { partitions_ = partitions; }

 private:
  RepartitionTopic topic_;
  std::vector<int32_t> partitions_;
};

}  // namespace

int PartitionOfKey(const RepartitionTopic& topic, uint64_t key_hash) {
  return static_cast<int>(static_cast<uint64_t>(KeyGroupOf(key_hash)) *
                          static_cast<uint64_t>(topic.partitions) / kKeyGroups);
}

std::unique_ptr<SinkPlan> MakeRepartitionSink(RepartitionTopic topic, std::string task) {
  return std::make_unique<RepartitionSinkPlan>(std::move(topic), std::move(task));
}

std::unique_ptr<SourcePlan> MakeRepartitionSource(RepartitionTopic topic) {
  return std::make_unique<RepartitionSourcePlan>(std::move(topic));
}

}  // namespace streamrun::job
