// kafka source: records from Kafka topics through librdkafka (docs/operators.md).
//
// Two ways to read, chosen by `bounded`:
// - unbounded (default): every worker is a member of the consumer group named
//   after the pipeline; Kafka assigns partitions and moves them in rebalances
//   (as Kafka Streams does), so several processes of one pipeline share a topic.
// - bounded: the partitions and their end offsets are fixed when the run starts;
//   partition i of the sorted list is read by worker i % workers (as files are),
//   and the source ends once every partition reached its end offset.
// Offsets are committed to the group only as a monitoring aid and for handing a
// partition over in a rebalance; checkpoints (runtime.checkpoint) own positions.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "operators/kafka_properties.h"
#include "operators/run_scope.h"
#include "operators/sources/line_records.h"
#include "operators/sources/sources.h"
#include "runner/config/duration.h"
#include "runner/generate/generators.h"
#include "runner/kafka/client.h"
#include "runner/log/log.h"
#include "runner/metrics/registry.h"
#include "runner/record/clock.h"
#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"

namespace streamrun {

const config::ComponentSpec& KafkaSourceSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSource;
    s.name = "kafka";
    s.summary = "Read records from Kafka topics.";
    s.description =
        "Each message value is one record (`format: json`: one JSON object; `raw`: the value as "
        "`{\"value\": TEXT}`). The message's own facts are fields too: `_key` (string or null), "
        "`_timestamp` (epoch ms), `_topic`, `_partition`, `_offset` and `_headers` (an object of "
        "header name to string; `_headers.NAME` reads one); they are not written to sinks unless "
        "a step sets them as fields, and they win over record fields of the same name. "
        "`event_time: { field: _timestamp }` uses the Kafka timestamp as event time.\n\n"
        "Unbounded (the default), every worker joins the consumer group `group` (the pipeline's "
        "name) and Kafka assigns it partitions; in a rebalance a revoked partition's position is "
        "committed before it moves, so it is neither lost nor read twice. `start` applies the first "
        "time this process is assigned a partition; later assignments resume at the group's "
        "committed offset. With several processes in one group use `start: committed`. "
        "`bounded: true` reads every partition up to the end offsets found at start, then ends "
        "like a file (final watermark, windows fire, the run exits). Watermarks are per partition; "
        "an assigned partition holds the watermark back until it has records or `idle_timeout` "
        "passes. Consumer lag per partition is logged every `lag_log_interval`.\n\n"
        "`brokers: embedded` starts a Kafka-protocol broker inside the process (data in memory); "
        "with it, `simulate` feeds the topics with generated events, so a pipeline runs live with "
        "no Kafka at all. With real brokers `simulate` is not used (a note says so).";
    std::vector<FieldSpec> fields = {
        Required(Str("brokers", "Bootstrap servers `host:port,...`, or `embedded`.")),
        Str("topic", "The topic to read."),
        ListOf("topics", Str("", "A topic."), "Several topics, read as one stream."),
        Str("group", "Consumer group id; default: the pipeline's name."),
        Default(Enum("start", {"earliest", "latest", "committed"},
                     "Where reading starts: the oldest offset, the end, or the group's committed offset "
                     "(earliest where there is none)."),
                "committed"),
        Default(Bool("bounded", "Read up to the end offsets found at start, then end."), "false"),
        Default(Int("partitions", "With `brokers: embedded`: partitions of topics it creates."), "4"),
        MapOf("properties", Str("", "A librdkafka property value."),
              "librdkafka consumer properties, passed through (security.protocol, sasl.*, ssl.*, "
              "fetch.*...); they win over streamrun's defaults."),
        Default(Dur("lag_log_interval", "How often consumer lag per partition is logged; 0s: never."), "60s"),
        Obj("simulate",
            {Required(Enum("kind", {"clicks", "cart", "transactions", "nexmark"}, "What to generate.")),
             Rate("rate", "Events per second, produced in real time (event time = wall clock)."),
             Int("count", "Produce this many events before reading starts, as fast as possible."),
             Default(Int("seed", "Random seed."), "1"),
             Str("out_of_order", "FRACTION:MAX_DELAY, e.g. 0.1:2s.")},
            "With `brokers: embedded`: a producer in the process writes generated events to the "
            "topics (`rate` for a live stream, `count` for a fixed set)."),
    };
    for (auto& f : LineSourceFields(/*registry=*/true)) {
      if (f.name == "format")
        f = Default(Enum("format", {"json", "raw", "protobuf", "avro"},
                         "json: each message value is one JSON object; raw: the value is a record "
                         "{\"value\": TEXT}; protobuf, avro: one binary record "
                         "with `schema:`, or read by each writer's schema with `registry:`."),
                    "json");
      fields.push_back(f);
    }
    s.value = Obj("", fields, "");
    s.example =
        "clicks:\n  type: kafka\n  brokers: ${KAFKA_BROKERS:-embedded}\n  topic: clicks\n  "
        "event_time: { field: ts, watermark: { max_out_of_orderness: 2s, idle_timeout: 30s } }";
    return s;
  }();
  return spec;
}

namespace {

enum class Start { kEarliest, kLatest, kCommitted };

struct Simulate {
  generate::Options options;
  double rate = 0;  // events per second of wall-clock time; 0 with count: as fast as possible
};

struct KafkaSourceConfig {
  std::string name;     // "source 'clicks'" for messages
  std::string brokers;  // as written: `embedded` or a list
  std::vector<std::string> topics;
  std::string group;
  std::string client_id;
  bool member_job = false;  // runtime.member: one process of a job of several (docs/scaling.md)
  // A task of such a job (runner/job): exactly these partitions of the one
  // topic, assigned by the job's member rather than a consumer group.
  bool task = false;
  std::vector<int32_t> task_partitions;
  Start start = Start::kCommitted;
  bool bounded = false;
  int partitions = 4;
  int64_t lag_log_interval_ms = 60000;
  kafka::Properties properties;
  std::optional<Simulate> simulate;
  LineSourceOptions line;
};

// The message fields (`_key`, ...) a pipeline reads, and where they go.
struct MetaSlots {
  int key = -1, timestamp = -1, topic = -1, partition = -1, offset = -1, headers = -1;
  std::vector<std::pair<std::string, int>> header_fields;  // `_headers.NAME` -> slot
  bool any() const {
    return key >= 0 || timestamp >= 0 || topic >= 0 || partition >= 0 || offset >= 0 || headers >= 0 ||
           !header_fields.empty();
  }
};

MetaSlots FindMetaSlots(const ProjectionNode& projection) {
  MetaSlots m;
  for (const auto& c : projection.children) {
    if (c.name == "_key") m.key = c.slot;
    if (c.name == "_timestamp") m.timestamp = c.slot;
    if (c.name == "_topic") m.topic = c.slot;
    if (c.name == "_partition") m.partition = c.slot;
    if (c.name == "_offset") m.offset = c.slot;
    if (c.name == "_headers") {
      m.headers = c.slot;
      for (const auto& h : c.children)
        if (h.slot >= 0) m.header_fields.emplace_back(h.name, h.slot);
    }
  }
  return m;
}

// Fills the message fields of the row decoded from `message`.
class MessageFields : public RowExtras {
 public:
  MessageFields(MetaSlots slots, std::vector<std::string> topics)
      : slots_(std::move(slots)), topics_(std::move(topics)) {}
  bool any() const { return slots_.any(); }
  void Set(const rd_kafka_message_t* message, int topic) {
    message_ = message;
    topic_ = topic;
  }
  void Fill(Value* row, Arena& arena) const override {
    const rd_kafka_message_t* m = message_;
    if (slots_.key >= 0)
      row[slots_.key] =
          m->key ? Value::String(arena.Copy({static_cast<const char*>(m->key), m->key_len})) : Value::Null();
    if (slots_.timestamp >= 0) {
      rd_kafka_timestamp_type_t type;
      int64_t ts = rd_kafka_message_timestamp(m, &type);
      row[slots_.timestamp] = ts >= 0 ? Value::Int(ts) : Value::Null();
    }
    if (slots_.topic >= 0) row[slots_.topic] = Value::String(topics_[static_cast<size_t>(topic_)]);
    if (slots_.partition >= 0) row[slots_.partition] = Value::Int(m->partition);
    if (slots_.offset >= 0) row[slots_.offset] = Value::Int(m->offset);
    if (slots_.headers < 0 && slots_.header_fields.empty()) return;
    rd_kafka_headers_t* headers = nullptr;
    for (const auto& [name, slot] : slots_.header_fields) row[slot] = Value::Null();
    if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) headers = nullptr;
    if (slots_.headers >= 0) {
      std::string& json = headers_json_;  // reused: no allocation per record
      json.assign("{");
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0; headers && rd_kafka_header_get_all(headers, i, &name, &value, &size) == 0; ++i) {
        if (i > 0) json.push_back(',');
        AppendJsonString(name, &json);
        json.push_back(':');
        if (value)
          AppendJsonString({static_cast<const char*>(value), size}, &json);
        else
          json += "null";
      }
      json.push_back('}');
      row[slots_.headers] = Value::Object(arena.Copy(json));
    }
    for (const auto& [name, slot] : slots_.header_fields) {
      const void* value;
      size_t size;
      // The last header of that name wins, as for a map.
      if (headers && rd_kafka_header_get_last(headers, name.c_str(), &value, &size) == 0 && value)
        row[slot] = Value::String(arena.Copy({static_cast<const char*>(value), size}));
    }
  }

 private:
  MetaSlots slots_;
  std::vector<std::string> topics_;
  const rd_kafka_message_t* message_ = nullptr;
  int topic_ = 0;
  mutable std::string headers_json_;
};

// What the instances of one source in this process share.
struct SourceGroup {
  explicit SourceGroup(int workers)
      : watermarks(static_cast<size_t>(workers)), idle(static_cast<size_t>(workers)) {
    for (auto& w : watermarks) w = kNoTime;
    for (auto& i : idle) i = true;
  }
  // True the first time this process is assigned (topic, partition): `start` applies.
  bool FirstStart(const std::string& topic, int32_t partition) {
    std::lock_guard<std::mutex> lock(mutex);
    return started.insert({topic, partition}).second;
  }
  // Every worker publishes its watermark and whether it holds the watermark
  // back at all. A worker with no busy partition (none assigned, or all idle)
  // follows the others instead of holding everyone at its own stale watermark,
  // as a Flink source subtask without splits goes idle: it passes on the
  // slowest busy worker's watermark; when every worker is idle, the slowest
  // watermark of the workers that have read something (so a worker that never
  // had a record does not hold the rest at "no time" forever). kEndOfTime: none.
  int64_t WatermarkToFollow() const {
    int64_t busy = kEndOfTime, seen = kEndOfTime;
    for (size_t i = 0; i < watermarks.size(); ++i) {
      const int64_t w = watermarks[i].load(std::memory_order_acquire);
      if (!idle[i].load(std::memory_order_acquire)) busy = std::min(busy, w);
      if (w != kNoTime) seen = std::min(seen, w);
    }
    return busy != kEndOfTime ? busy : seen;
  }
  // The next offset of a partition a worker of this process stopped reading
  // (revoked); -1 if none.
  int64_t Position(const std::string& topic, int32_t partition) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = positions.find({topic, partition});
    return it == positions.end() ? -1 : it->second;
  }
  void SetPosition(const std::string& topic, int32_t partition, int64_t next) {
    std::lock_guard<std::mutex> lock(mutex);
    int64_t& p = positions[{topic, partition}];
    p = std::max(p, next);
  }
  // Checkpoints: where each partition resumes after a restore (its next offset
  // and watermark state), taken once, by the first worker assigned it.
  struct Restored {
    int64_t next = -1;
    WatermarkTracker::Saved watermark;
    int64_t source_watermark = kNoTime;
  };
  void SetRestored(std::map<std::pair<std::string, int32_t>, Restored> positions) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!restore_set) restored = std::move(positions);
    restore_set = true;
  }
  std::optional<Restored> TakeRestored(const std::string& topic, int32_t partition) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = restored.find({topic, partition});
    if (it == restored.end()) return std::nullopt;
    Restored r = it->second;
    restored.erase(it);
    return r;
  }
  std::vector<std::atomic<int64_t>> watermarks;
  std::vector<std::atomic<bool>> idle;
  std::mutex mutex;
  bool restore_set = false;
  std::map<std::pair<std::string, int32_t>, Restored> restored;
  std::set<std::pair<std::string, int32_t>> started;
  std::map<std::pair<std::string, int32_t>, int64_t> positions;
};

[[noreturn]] void Throw(const KafkaSourceConfig& config, const std::string& what) {
  throw std::runtime_error(config.name + ": " + what);
}

// Produces generated events to the embedded broker: a fixed count before the
// run reads, or a live stream at `rate` until the source is destroyed.
class Simulator {
 public:
  Simulator(const KafkaSourceConfig& config) : config_(config) {
    kafka::Properties defaults = {{"bootstrap.servers", kafka::ResolveBrokers(config.brokers)},
                                  {"linger.ms", "5"},
                                  // Unkeyed events spread evenly, not a batch per partition.
                                  {"sticky.partitioning.linger.ms", "0"},
                                  {"client.id", config.client_id + "-simulate"}};
    char error[512];
    rd_kafka_conf_t* conf = kafka::MakeConf(defaults, {});
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer_) {
      rd_kafka_conf_destroy(conf);
      Throw(config, std::string("simulate: ") + error);
    }
    for (const auto& t : config.topics) topics_.push_back(rd_kafka_topic_new(producer_, t.c_str(), nullptr));
  }
  ~Simulator() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    rd_kafka_flush(producer_, 2000);
    for (auto* t : topics_) rd_kafka_topic_destroy(t);
    rd_kafka_destroy(producer_);
  }

  void Start() {
    const Simulate& sim = *config_.simulate;
    generate::Options options = sim.options;
    if (sim.rate > 0) {
      options.start_ms = NowMs();
      options.events_per_second = sim.rate;
    }
    std::string error;
    generator_ = generate::Make(options, &error);
    if (!generator_) Throw(config_, "simulate: " + error);
    // In the source's format: protobuf and avro encoded with its schema, and
    // with a registry framed as a registry client's producer would.
    const RecordFormatOptions& f = config_.line.record_format;
    if (f.binary()) {
      if (!f.schema)
        Throw(config_, "simulate: format " + std::string(format::FormatName(f.format)) +
                           " needs `schema:` to write the events");
      if (f.registry) {
        int32_t id = 0;
        if (!f.registry->Register(config_.topics.front() + "-value", f.schema->RegistryType(),
                                  f.schema->RegistryText(), &id, &error))
          Throw(config_, "simulate: " + error);
        encoder_ = format::NewFramedEncoder(f.schema, id);
      } else {
        encoder_ = f.schema->NewEncoder();
      }
    }
    if (sim.rate <= 0) {
      // A fixed set, all in the topics before any worker looks for end offsets.
      while (Produce()) {
      }
      if (rd_kafka_flush(producer_, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        Throw(config_, "simulate: events not delivered within 30 s");
      return;
    }
    thread_ = std::thread([this, rate = sim.rate] {
      const int64_t started = NowMs();
      int64_t produced = 0;
      try {
        while (!stop_) {
          int64_t due = static_cast<int64_t>(static_cast<double>(NowMs() - started) * rate / 1000.0) + 1;
          while (produced < due && !stop_ && Produce()) ++produced;
          rd_kafka_poll(producer_, 0);
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(failure_mutex_);
        failure_ = e.what();  // the reading worker reports it (see Holder::Next)
      }
    });
  }

  // Why the live producer stopped; empty while it runs.
  std::string failure() {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    return failure_;
  }

 private:
  bool Produce() {
    line_.clear();
    int64_t t;
    if (!generator_->Next(&line_, &t)) return false;
    if (encoder_) {
      line_.reserve(line_.size() + JsonPadding());
      encoded_.clear();
      std::string error;
      if (!encoder_->Encode(line_, &encoded_, &error)) Throw(config_, "simulate: " + error);
      line_.swap(encoded_);
    }
    rd_kafka_topic_t* topic = topics_[static_cast<size_t>(next_topic_++) % topics_.size()];
    rd_kafka_resp_err_t err = kafka::Produce(producer_, topic, line_, nullptr, t);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) Throw(config_, std::string("simulate: ") + rd_kafka_err2str(err));
    return true;
  }

  const KafkaSourceConfig& config_;
  rd_kafka_t* producer_ = nullptr;
  std::vector<rd_kafka_topic_t*> topics_;  // the source's topics, in order
  std::unique_ptr<generate::Generator> generator_;
  std::unique_ptr<format::RecordEncoder> encoder_;  // protobuf, avro: the source's format
  std::string line_, encoded_;
  uint64_t next_topic_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex failure_mutex_;
  std::string failure_;
  std::thread thread_;
};

class KafkaSourceInstance : public SourceInstance {
 public:
  KafkaSourceInstance(const KafkaSourceConfig& config, std::shared_ptr<SourceGroup> group,
                      const Universe& universe, int source_index, int worker, int workers,
                      metrics::OperatorMetrics* metrics)
      : config_(config),
        metrics_(metrics),
        group_(std::move(group)),
        decoder_(config.line, universe.projection),
        fields_(FindMetaSlots(universe.projection), config.topics),
        source_index_(source_index),
        worker_(worker) {
    kafka::Properties defaults = {
        {"bootstrap.servers", kafka::ResolveBrokers(config.brokers)},
        {"group.id", config.group},
        {"client.id", config.client_id + "-" + std::to_string(worker)},
        // Committed by Next (every second) and before a partition is revoked, not by
        // librdkafka, which would also commit on an unassign during shutdown.
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", config.start == Start::kLatest ? "latest" : "earliest"},
    };
    if (config.brokers == kafka::kEmbedded) {
      // The embedded broker's group coordinator can wait for a member that
      // never completed its join until that member's session times out (the
      // default 45 s stalls every window); all members are in this process,
      // so a short session is safe.
      defaults.emplace_back("session.timeout.ms", "6000");
      defaults.emplace_back("heartbeat.interval.ms", "500");
    }
    if (config.member_job && !config.bounded) {
      // Members come and go while the others run: cooperative-sticky moves
      // only the partitions that must move (an eager protocol would stop every
      // member for each join), and a member that dies is noticed after the
      // session timeout rather than Kafka's 45 s. A configured property wins.
      defaults.emplace_back("partition.assignment.strategy", "cooperative-sticky");
      if (config.brokers != kafka::kEmbedded) {
        defaults.emplace_back("session.timeout.ms", "10000");
        defaults.emplace_back("heartbeat.interval.ms", "1000");
      }
    }
    // librdkafka's statistics every second give each partition's high
    // watermark: the consumer lag metric (OnStatistics). A configured
    // statistics.interval.ms wins.
    if (metrics_ != nullptr) defaults.emplace_back("statistics.interval.ms", "1000");
    rd_kafka_conf_t* conf = kafka::MakeConf(defaults, config.properties);
    rd_kafka_conf_set_opaque(conf, this);
    if (metrics_ != nullptr) rd_kafka_conf_set_stats_cb(conf, &KafkaSourceInstance::OnStatistics);
    if (!config.bounded && !config.task)
      rd_kafka_conf_set_rebalance_cb(conf, &KafkaSourceInstance::OnRebalance);
    char error[512];
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer_) {
      rd_kafka_conf_destroy(conf);
      Throw(config, error);
    }
    rd_kafka_poll_set_consumer(consumer_);
    queue_ = rd_kafka_queue_get_consumer(consumer_);
    messages_.resize(kDefaultBatchSize);
    if (config.bounded) {
      AssignBounded(workers);
    } else if (config.task) {
      AssignTask();
    } else {
      Subscribe();
    }
    last_lag_log_ = NowMs();
  }

  ~KafkaSourceInstance() override {
    if (!consumer_) return;
    StoreOffsets();
    // Leaves the group (the revoke commits the positions read) and closes.
    rd_kafka_consumer_close(consumer_);
    if (queue_) rd_kafka_queue_destroy(queue_);
    rd_kafka_destroy(consumer_);
  }

  bool Next(Batch& batch, size_t max_rows, RecordErrors& errors) override {
    if (config_.bounded && remaining_ == 0) return false;
    const int64_t now = NowMs();
    if (!config_.task && now - last_commit_ >= kCommitIntervalMs) {
      last_commit_ = now;
      StoreOffsets();
      rd_kafka_commit(consumer_, nullptr, 1);  // asynchronous: a monitoring aid
    }
    if (config_.lag_log_interval_ms > 0 && now - last_lag_log_ >= config_.lag_log_interval_ms) {
      last_lag_log_ = now;
      LogLag();
    }
    const ssize_t n = kafka::PollBatch(consumer_, queue_, messages_.data(),
                                       std::min(max_rows, messages_.size()), &empty_polls_);
    if (n < 0) Throw(config_, std::string("consuming: ") + rd_kafka_err2str(rd_kafka_last_error()));
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = messages_[static_cast<size_t>(i)];
      Take(m, batch, errors, now);
      rd_kafka_message_destroy(m);
    }
    return !config_.bounded || remaining_ > 0 || !batch.empty() || !errors.empty();
  }

  // A task of a job: where this source says whether its input is idle.
  void ShareIdle(std::shared_ptr<InputIdle> idle) { input_idle_ = std::move(idle); }

  int64_t Watermark(int64_t now_ms) override {
    if (config_.bounded) return remaining_ == 0 ? kEndOfTime : decoder_.Watermark(now_ms);
    int64_t own = decoder_.Watermark(now_ms);
    const bool idle = decoder_.watermarks().Idle(now_ms);
    if (input_idle_) input_idle_->idle.store(idle, std::memory_order_relaxed);
    group_->watermarks[static_cast<size_t>(worker_)].store(own, std::memory_order_release);
    group_->idle[static_cast<size_t>(worker_)].store(idle, std::memory_order_release);
    if (!idle) return own;
    int64_t follow = group_->WatermarkToFollow();
    return follow == kEndOfTime ? own : std::max(own, follow);
  }

  bool Empty() const override { return config_.bounded && remaining_ == 0; }

  // Commits what was read while every worker is still in the group (once one
  // leaves, the others' commits would meet a rebalance in progress).
  void Close() override {
    if (config_.task) return;  // a task's positions live in its checkpoints only
    dirty_ = true;
    StoreOffsets();
    CommitNow();
  }

  std::string DescribePosition(const RecordPosition& pos) const override {
    std::string topic = pos.topic >= 0 && static_cast<size_t>(pos.topic) < config_.topics.size()
                            ? config_.topics[static_cast<size_t>(pos.topic)]
                            : "?";
    return "topic " + topic + " partition " + std::to_string(pos.partition) + " offset " +
           std::to_string(pos.offset);
  }

 private:
  struct Partition {
    int32_t topic = 0;  // index into config_.topics
    int32_t partition = 0;
    int64_t end = -1;    // bounded: the end offset found at start
    int64_t next = -1;   // the offset after the last record read; -1: none read yet
    int64_t start = -1;  // where reading began at the assignment (-1: a logical start)
    bool assigned = false;
    bool finished = false;
    int64_t lag = -1;  // records after the position, from the last statistics (-1: not known)
  };

  // ---- checkpoints ----------------------------------------------------------

  // Per assigned partition, "topic:partition": the next offset to read (-1:
  // none read since its assignment, which started at `start`), then its
  // watermark state.
  void SnapshotPositions(std::map<std::string, SavedPosition>* positions) const override {
    for (const Partition& part : parts_) {
      if (!part.assigned) continue;
      const int64_t next = part.next >= 0 ? part.next : part.start;
      SavedPosition& saved = (*positions)[config_.topics[static_cast<size_t>(part.topic)] + ":" +
                                          std::to_string(part.partition)];
      saved.text = next >= 0 ? "offset " + std::to_string(next) : "not read yet";
      SnapshotWriter w(&saved.bytes);
      w.I64(next);
      const auto wm = decoder_.watermarks().Save(IndexOf(part));
      w.I64(wm.max_event_time);
      w.Bool(wm.finished);
    }
  }

  void RestorePositions(const std::map<std::string, std::string>& positions, int64_t watermark) override {
    std::map<std::pair<std::string, int32_t>, SourceGroup::Restored> restored;
    for (const auto& [key, bytes] : positions) {
      const size_t colon = key.rfind(':');
      if (colon == std::string::npos) continue;
      SnapshotReader r(bytes);
      SourceGroup::Restored p;
      p.next = r.I64();
      p.watermark.max_event_time = r.I64();
      p.watermark.finished = r.Bool();
      p.source_watermark = watermark;
      restored[{key.substr(0, colon), static_cast<int32_t>(std::atoi(key.c_str() + colon + 1))}] = p;
    }
    if (config_.task) {
      RestoreTask(restored, watermark);
      return;
    }
    if (!config_.bounded) {
      group_->SetRestored(std::move(restored));  // applied as partitions are assigned
      return;
    }
    // Bounded: the partitions are assigned already; move them to the restored offsets.
    const int64_t now = NowMs();
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
    for (Partition& part : parts_) {
      if (!part.assigned) continue;
      const std::string& topic = config_.topics[static_cast<size_t>(part.topic)];
      auto it = restored.find({topic, part.partition});
      if (it != restored.end()) {
        decoder_.watermarks().Restore(IndexOf(part), it->second.watermark, watermark, now);
        if (it->second.next >= 0) part.start = it->second.next;
      }
      if (part.finished) continue;
      if (part.start >= part.end) {
        Finish(part, now);
        continue;
      }
      rd_kafka_topic_partition_list_add(list, topic.c_str(), part.partition)->offset = part.start;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, list->cnt > 0 ? list : nullptr);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) Throw(config_, std::string("assigning partitions: ") + rd_kafka_err2str(err));
  }

  // ---- a task of a job: its partitions, from `start` or its checkpoint ------

  void AssignTask() {
    const int64_t now = NowMs();
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
    for (int32_t p : config_.task_partitions) {
      Partition& part = PartitionAt(0, p);
      part.assigned = true;
      decoder_.watermarks().Assign(IndexOf(part), now);
      rd_kafka_topic_partition_list_add(list, config_.topics[0].c_str(), p)->offset =
          config_.start == Start::kLatest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) Throw(config_, std::string("assigning partitions: ") + rd_kafka_err2str(err));
  }

  void RestoreTask(const std::map<std::pair<std::string, int32_t>, SourceGroup::Restored>& restored,
                   int64_t watermark) {
    const int64_t now = NowMs();
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
    for (Partition& part : parts_) {
      if (!part.assigned) continue;
      const std::string& topic = config_.topics[static_cast<size_t>(part.topic)];
      auto* e = rd_kafka_topic_partition_list_add(list, topic.c_str(), part.partition);
      e->offset = config_.start == Start::kLatest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
      auto it = restored.find({topic, part.partition});
      if (it == restored.end()) continue;
      decoder_.watermarks().Restore(IndexOf(part), it->second.watermark, watermark, now);
      if (it->second.next >= 0) e->offset = part.start = it->second.next;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) Throw(config_, std::string("assigning partitions: ") + rd_kafka_err2str(err));
  }

  // ---- bounded: a fixed set of partitions and end offsets ------------------

  void AssignBounded(int workers) {
    // Every worker lists the same partitions in the same order and takes its share.
    std::vector<std::pair<int32_t, int32_t>> all;  // (topic index, partition)
    for (size_t t = 0; t < config_.topics.size(); ++t) {
      for (int32_t p = 0; p < PartitionCount(config_.topics[t]); ++p)
        all.emplace_back(static_cast<int32_t>(t), p);
    }
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < all.size(); ++i) {
      if (static_cast<int>(i % static_cast<size_t>(workers)) != worker_) continue;
      auto [t, p] = all[i];
      PartitionAt(t, p).assigned = true;
      rd_kafka_topic_partition_list_add(list, config_.topics[static_cast<size_t>(t)].c_str(), p);
    }
    // Their start and end offsets, in one ListOffsets request each.
    rd_kafka_topic_partition_list_t* ends = ListOffsets(list, RD_KAFKA_OFFSET_END);
    rd_kafka_topic_partition_list_t* starts = ListOffsets(list, RD_KAFKA_OFFSET_BEGINNING);
    for (int i = 0; i < list->cnt; ++i) {
      auto& e = list->elems[i];
      PartitionAt(TopicIndex(e.topic), e.partition).end = ends->elems[i].offset;
      e.offset = config_.start == Start::kLatest ? ends->elems[i].offset : starts->elems[i].offset;
    }
    if (config_.start == Start::kCommitted && list->cnt > 0) {
      rd_kafka_topic_partition_list_t* committed = rd_kafka_topic_partition_list_copy(list);
      rd_kafka_resp_err_t err = rd_kafka_committed(consumer_, committed, 10000);
      if (err) Throw(config_, std::string("reading committed offsets: ") + rd_kafka_err2str(err));
      for (int i = 0; i < list->cnt; ++i)  // where nothing is committed: from the start
        if (committed->elems[i].offset >= 0) list->elems[i].offset = committed->elems[i].offset;
      rd_kafka_topic_partition_list_destroy(committed);
    }
    rd_kafka_topic_partition_list_destroy(ends);
    rd_kafka_topic_partition_list_destroy(starts);
    const int64_t now = NowMs();
    remaining_ = list->cnt;  // Finish counts down, also for partitions empty from the start
    for (int i = 0; i < list->cnt; ++i) {
      const auto& e = list->elems[i];
      Partition& part = PartitionAt(TopicIndex(e.topic), e.partition);
      part.start = e.offset;
      decoder_.watermarks().Assign(IndexOf(part), now);
      if (e.offset >= part.end) Finish(part, now);
    }
    if (remaining_ > 0) {
      rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, list);
      if (err) Throw(config_, std::string("assigning partitions: ") + rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(list);
  }

  // The offsets of `list`'s partitions at `which` (RD_KAFKA_OFFSET_END or _BEGINNING).
  rd_kafka_topic_partition_list_t* ListOffsets(const rd_kafka_topic_partition_list_t* list, int64_t which) {
    rd_kafka_topic_partition_list_t* out = rd_kafka_topic_partition_list_copy(list);
    for (int i = 0; i < out->cnt; ++i) out->elems[i].offset = which;
    if (out->cnt == 0) return out;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(consumer_, out, 10000);
    if (err) Throw(config_, std::string("listing offsets: ") + rd_kafka_err2str(err));
    for (int i = 0; i < out->cnt; ++i) {
      const auto& e = out->elems[i];
      if (e.err || e.offset < 0)
        Throw(config_, std::string("offsets of ") + e.topic + "/" + std::to_string(e.partition) + ": " +
                           (e.err ? rd_kafka_err2str(e.err) : "none"));
    }
    return out;
  }

  int32_t PartitionCount(const std::string& topic) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(consumer_, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (err) Throw(config_, "metadata of topic " + topic + ": " + rd_kafka_err2str(err));
    int32_t count = 0;
    std::string problem;
    if (md->topic_cnt == 1) {
      if (md->topics[0].err)
        problem = rd_kafka_err2str(md->topics[0].err);
      else
        count = md->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    if (count == 0)
      Throw(config_, "topic " + topic + " is not available" + (problem.empty() ? "" : ": " + problem));
    return count;
  }

  // ---- unbounded: partitions come and go in rebalances -------------------

  void Subscribe() {
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(config_.topics.size()));
    for (const auto& t : config_.topics)
      rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) Throw(config_, std::string("subscribing: ") + rd_kafka_err2str(err));
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list,
                          void* opaque) {
    static_cast<KafkaSourceInstance*>(opaque)->Rebalance(rk, err, list);
  }

  void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
    // NULL while the consumer closes (a revoke from rd_kafka_consumer_close).
    const char* protocol = rd_kafka_rebalance_protocol(rk);
    const bool cooperative = protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
    const int64_t now = NowMs();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      // Where each partition resumes: `start` the first time this process
      // reads it; else the furthest of the group's committed offset and the
      // position a worker of this process reached before it moved (a handover
      // inside the process is exact even when a commit could not be made).
      rd_kafka_topic_partition_list_t* committed = rd_kafka_topic_partition_list_copy(list);
      if (rd_kafka_committed(rk, committed, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < committed->cnt; ++i) committed->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
      for (int i = 0; i < list->cnt; ++i) {
        auto& e = list->elems[i];
        int32_t t = TopicIndex(e.topic);
        Partition& part = PartitionAt(t, e.partition);
        part.assigned = true;
        part.next = -1;
        decoder_.watermarks().Assign(IndexOf(part), now);
        const bool first = group_->FirstStart(e.topic, e.partition);
        int64_t resume = std::max(committed->elems[i].offset, group_->Position(e.topic, e.partition));
        if (first && config_.start != Start::kCommitted) resume = -1;
        // A restored checkpoint's position wins: the state holds exactly the
        // records before it.
        if (auto restored = group_->TakeRestored(e.topic, e.partition)) {
          if (restored->next >= 0) resume = restored->next;
          decoder_.watermarks().Restore(IndexOf(part), restored->watermark, restored->source_watermark, now);
        }
        e.offset = resume >= 0                       ? resume
                   : config_.start == Start::kLatest ? RD_KAFKA_OFFSET_END
                                                     : RD_KAFKA_OFFSET_BEGINNING;
        part.start = resume;
      }
      rd_kafka_topic_partition_list_destroy(committed);
      if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, list));
      else
        rd_kafka_assign(rk, list);
      return;
    }
    // Revoked (or lost): what was read has been handed to the pipeline, so its
    // position is committed now, before another member starts at it.
    StoreOffsets();
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) CommitNow();
    for (int i = 0; i < list->cnt; ++i) {
      Partition& part = PartitionAt(TopicIndex(list->elems[i].topic), list->elems[i].partition);
      if (part.next >= 0) group_->SetPosition(list->elems[i].topic, part.partition, part.next);
      part.assigned = false;
      part.lag = -1;
      if (metrics_ != nullptr) metrics_->ClearConsumerLag(list->elems[i].topic, part.partition);
      decoder_.watermarks().Remove(IndexOf(part), now);
    }
    if (cooperative)
      rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, list));
    else
      rd_kafka_assign(rk, nullptr);
  }

  // ---- messages ----------------------------------------------------------

  void Take(const rd_kafka_message_t* m, Batch& batch, RecordErrors& errors, int64_t now) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (!m->rkt) return;
      Partition* part = Find(m);
      if (part && config_.bounded && !part->finished && m->offset >= part->end) Finish(*part, now);
      return;
    }
    if (m->err) {
      // Transient (a broker down, a rebalance in progress): librdkafka retries.
      if (now - last_warning_ >= 5000) {
        last_warning_ = now;
        log::Warn(log::OperatorOf(config_.name), "{}", rd_kafka_message_errstr(m));
      }
      return;
    }
    Partition* part = Find(m);
    if (!part || !part->assigned || part->finished) return;  // from before a rebalance or past the end
    if (config_.bounded && m->offset >= part->end) return;
    if (m->offset < part->next) return;  // read already (a fetch repeated after a seek)
    part->next = m->offset + 1;
    dirty_ = true;
    RecordPosition pos{source_index_, m->partition, m->offset, 0, part->topic};
    if (!m->payload) {
      errors.Add(RecordError{"", pos, "message has no value (a tombstone)"});
    } else {
      std::string_view value(static_cast<const char*>(m->payload), m->len);
      if (value.size() > config_.line.max_record_bytes) {
        errors.Add(RecordError{std::string(value.substr(0, 1024)), pos,
                               "record longer than max_record_size (" +
                                   std::to_string(config_.line.max_record_bytes) +
                                   " bytes); its first bytes are kept",
                               config_.line.record_format.binary()});
      } else {
        fields_.Set(m, part->topic);
        decoder_.Add(value, pos, batch, errors, now, IndexOf(*part), fields_.any() ? &fields_ : nullptr);
      }
    }
    if (config_.bounded && part->next >= part->end) Finish(*part, now);
  }

  void Finish(Partition& part, int64_t now) {
    if (part.finished) return;
    part.finished = true;
    decoder_.watermarks().Finish(IndexOf(part), now);
    if (config_.bounded) --remaining_;
  }

  // Positions read are stored for the next commit (every second, before a
  // partition is revoked, and at the end of the run).
  void StoreOffsets() {
    if (!dirty_) return;
    dirty_ = false;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(8);
    for (const auto& p : parts_)
      if (p.assigned && p.next >= 0)
        rd_kafka_topic_partition_list_add(list, config_.topics[static_cast<size_t>(p.topic)].c_str(),
                                          p.partition)
            ->offset = p.next;
    if (list->cnt > 0) rd_kafka_offsets_store(consumer_, list);  // a revoked partition's store just fails
    rd_kafka_topic_partition_list_destroy(list);
  }

  // A synchronous commit of the stored positions, retried for a few seconds
  // while the coordinator is unreachable: a position not committed before a
  // partition moves is read again by its next owner (at least once, not lost).
  void CommitNow() {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < 10; ++attempt) {
      err = rd_kafka_commit(consumer_, nullptr, 0);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
      // The group moved on without this member: its commit can never succeed.
      if (err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS || err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
          err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || err == RD_KAFKA_RESP_ERR__STATE)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    log::Warn(log::OperatorOf(config_.name),
              "committing positions failed ({}); their records may be read again", rd_kafka_err2str(err));
  }

  // librdkafka's statistics (served on this worker's thread, by its polls):
  // per partition this instance reads, the records after its position.
  static int OnStatistics(rd_kafka_t*, char* json, size_t len, void* opaque) {
    static_cast<KafkaSourceInstance*>(opaque)->Statistics(std::string_view(json, len));
    return 0;  // librdkafka frees the text
  }
  // The lag of a partition: librdkafka's own figure (its end, the last
  // stable offset under read_committed, past transaction markers, minus the
  // offset after the last record handed to us) once a record was handed
  // over; before that, what lies beyond the fetch position (0 when a `latest`
  // start is caught up). Not known before the position is.
  void Statistics(std::string_view text) {
    const auto stats = nlohmann::json::parse(text, nullptr, false);
    if (stats.is_discarded() || !stats.contains("topics")) return;
    for (auto& p : parts_) {
      if (!p.assigned) continue;
      const std::string& topic = config_.topics[static_cast<size_t>(p.topic)];
      const auto t = stats["topics"].find(topic);
      if (t == stats["topics"].end() || !t->contains("partitions")) continue;
      const auto& parts = (*t)["partitions"];
      const auto it = parts.find(std::to_string(p.partition));
      if (it == parts.end()) continue;
      const int64_t app = it->value("app_offset", int64_t{-1});
      const int64_t lag = it->value("consumer_lag", int64_t{-1});
      const int64_t high = it->value("hi_offset", int64_t{-1});
      const int64_t stable = it->value("ls_offset", int64_t{-1});
      const int64_t fetch = it->value("next_offset", int64_t{-1});
      const int64_t end = stable >= 0 ? std::min(stable, high) : high;
      if (app >= 0 && lag >= 0) {
        p.lag = lag;
      } else if (p.next >= 0 && high >= 0) {
        p.lag = std::max<int64_t>(0, end - p.next);
      } else if (fetch >= 0 && end >= 0) {
        p.lag = std::max<int64_t>(0, end - fetch);
      } else {
        continue;
      }
      metrics_->SetConsumerLag(topic, p.partition, p.lag);
    }
  }

  // Every `lag_log_interval`: the lag per partition, from the last statistics
  // (or from the broker's high watermark when statistics are off).
  void LogLag() {
    std::string line;
    int64_t total = 0;
    for (const auto& p : parts_) {
      if (!p.assigned) continue;
      const std::string& topic = config_.topics[static_cast<size_t>(p.topic)];
      int64_t lag = p.lag;
      if (lag < 0) {
        int64_t low = 0, high = 0;
        if (rd_kafka_get_watermark_offsets(consumer_, topic.c_str(), p.partition, &low, &high) != 0 ||
            high < 0)
          continue;
        lag = std::max<int64_t>(0, high - (p.next >= 0 ? p.next : low));
      }
      total += lag;
      line += " " + topic + "/" + std::to_string(p.partition) + "=" + std::to_string(lag);
    }
    if (line.empty()) return;
    log::Info(log::OperatorOf(config_.name), "consumer lag {}:{}", total, line);
  }

  int32_t TopicIndex(const char* topic) const {
    for (size_t i = 0; i < config_.topics.size(); ++i)
      if (config_.topics[i] == topic) return static_cast<int32_t>(i);
    return 0;
  }
  Partition* Find(const rd_kafka_message_t* m) {
    // Messages come in runs of one partition: the last one found is checked first.
    if (m->rkt == last_rkt_ && m->partition == last_partition_ && last_found_ >= 0)
      return &parts_[static_cast<size_t>(last_found_)];
    if (m->rkt != last_rkt_) {
      last_topic_ = TopicIndex(rd_kafka_topic_name(m->rkt));
      last_rkt_ = m->rkt;
    }
    last_partition_ = m->partition;
    auto it = index_.find(Key(last_topic_, m->partition));
    last_found_ = it == index_.end() ? -1 : static_cast<int64_t>(it->second);
    return last_found_ < 0 ? nullptr : &parts_[static_cast<size_t>(last_found_)];
  }
  Partition& PartitionAt(int32_t topic, int32_t partition) {
    auto [it, inserted] = index_.emplace(Key(topic, partition), parts_.size());
    if (inserted) {
      Partition p;
      p.topic = topic;
      p.partition = partition;
      parts_.push_back(p);
    }
    return parts_[it->second];
  }
  // The partition's index for the watermark tracker.
  int32_t IndexOf(const Partition& p) const { return static_cast<int32_t>(&p - parts_.data()); }
  static uint64_t Key(int32_t topic, int32_t partition) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(topic)) << 32) | static_cast<uint32_t>(partition);
  }

  const KafkaSourceConfig& config_;
  metrics::OperatorMetrics* metrics_;  // null outside a run
  std::shared_ptr<SourceGroup> group_;
  std::shared_ptr<InputIdle> input_idle_;  // a task of a job: null otherwise
  LineDecoder decoder_;
  MessageFields fields_;
  int source_index_;
  int worker_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<rd_kafka_message_t*> messages_;
  std::vector<Partition> parts_;
  std::unordered_map<uint64_t, size_t> index_;
  int64_t remaining_ = 0;  // bounded: partitions not yet at their end
  int empty_polls_ = 0;
  bool dirty_ = false;
  int64_t last_lag_log_ = 0;
  int64_t last_commit_ = 0;
  static constexpr int64_t kCommitIntervalMs = 1000;
  int64_t last_warning_ = 0;
  const rd_kafka_topic_t* last_rkt_ = nullptr;
  int32_t last_topic_ = 0;
  int32_t last_partition_ = -1;
  int64_t last_found_ = -1;  // index into parts_ of the last partition found; -1: none
};

class KafkaSourcePlan : public SourcePlan {
 public:
  explicit KafkaSourcePlan(KafkaSourceConfig config) : config_(std::move(config)) {}

  // Once per run, before any worker reads: the group the workers' consumers
  // share, the embedded topics, the simulated events.
  std::unique_ptr<RunShared> MakeRunShared(int workers) const override {
    auto run = std::make_unique<RunGroup>();
    run->group = std::make_shared<SourceGroup>(workers);
    for (const auto& t : config_.topics) kafka::EnsureEmbeddedTopic(config_.brokers, t, config_.partitions);
    if (config_.simulate) {
      if (config_.brokers == kafka::kEmbedded) {
        run->simulator = std::make_shared<Simulator>(config_);
        run->simulator->Start();
      } else {
        log::Warn(log::OperatorOf(config_.name), "brokers are not embedded; `simulate` is not used");
      }
    }
    return run;
  }

  std::unique_ptr<SourceInstance> Instantiate(const OperatorContext& context, const Universe& universe,
                                              int source_index) const override {
    auto& run = static_cast<RunGroup&>(*context.shared);
    auto instance = std::make_unique<Holder>(config_, run.group, universe, source_index, context.worker,
                                             context.workers, context.metrics);
    if (context.worker == 0) instance->simulator = run.simulator;
    if (config_.task)
      instance->ShareIdle(context.scope->Get<InputIdle>(kInputIdle, [] { return new InputIdle; }));
    return instance;
  }

  bool JobInput(JobKafkaInput* input) const override {
    if (config_.bounded) return false;
    input->brokers = config_.brokers;
    input->topics = config_.topics;
    input->properties = config_.properties;
    input->partitions = config_.partitions;
    return true;
  }

  void AssignTask(const std::vector<int32_t>& partitions) override {
    config_.task = true;
    config_.task_partitions = partitions;
    config_.group += ".tasks";  // never joined: a task's consumer only assigns
  }

  std::string Describe() const override {
    std::string topics;
    for (const auto& t : config_.topics) topics += (topics.empty() ? "" : ",") + t;
    return "kafka " + topics + " @ " + config_.brokers + " (" + DescribeLineSourceOptions(config_.line) +
           ", group " + config_.group + (config_.bounded ? ", bounded" : "") + ")";
  }

 private:
  // Worker 0's instance keeps the simulator running as long as it reads.
  struct Holder : KafkaSourceInstance {
    using KafkaSourceInstance::KafkaSourceInstance;
    bool Next(Batch& batch, size_t max_rows, RecordErrors& errors) override {
      if (simulator) {
        if (std::string failure = simulator->failure(); !failure.empty()) throw std::runtime_error(failure);
      }
      return KafkaSourceInstance::Next(batch, max_rows, errors);
    }
    std::shared_ptr<Simulator> simulator;
  };

  struct RunGroup : RunShared {
    std::shared_ptr<SourceGroup> group;
    std::shared_ptr<Simulator> simulator;  // null: no `simulate`
  };

  KafkaSourceConfig config_;
};

bool ParseSimulate(const config::Options& o, const config::ConfNode& node, PlanContext& ctx, Simulate* out) {
  bool ok = ParseGenerateOptions(o, ctx, &out->options, &out->rate);
  if (out->rate > 0 && out->options.count >= 0) {
    ctx.Error(node.mark, "simulate takes `rate` (a live stream) or `count` (a fixed set), not both");
    ok = false;
  }
  if (out->rate <= 0 && out->options.count < 0) {
    ctx.Error(node.mark, "simulate needs `rate` (a live stream) or `count` (a fixed set)");
    ok = false;
  }
  std::string error;
  if (ok && !generate::Make(out->options, &error)) {
    ctx.Error(node.mark, "simulate: " + error);
    ok = false;
  }
  return ok;
}

}  // namespace

std::unique_ptr<SourcePlan> PlanKafkaSource(const config::ConfNode& node, PlanContext& ctx) {
  const config::Options o = ctx.Options(node, KafkaSourceSpec());
  KafkaSourceConfig config;
  bool ok = true;
  config.name = ctx.where();
  config.brokers = o.String("brokers");
  if (config.brokers.empty()) {
    ctx.Error(node.mark, "missing 'brokers' (host:port,... or embedded)");
    ok = false;
  }
  if (auto topic = o.OptString("topic")) config.topics.push_back(*topic);
  for (const auto& t : o.Strings("topics")) config.topics.push_back(t);
  if (config.topics.empty()) {
    ctx.Error(node.mark, "needs 'topic' or 'topics'");
    ok = false;
  }
  for (const auto& t : config.topics)
    if (t.empty()) ok = false, ctx.Error(node.mark, "a topic name is empty");
  config.group = o.OptString("group").value_or(ctx.pipeline_name());
  if (config.group.empty()) config.group = "streamrun";
  config.client_id = "streamrun-" + config.group + (ctx.member().empty() ? "" : "-" + ctx.member());
  config.member_job = !ctx.member().empty();
  const std::string start = o.Enum("start");
  config.start = start == "earliest" ? Start::kEarliest
                 : start == "latest" ? Start::kLatest
                                     : Start::kCommitted;
  config.bounded = o.Bool("bounded");
  config.partitions = static_cast<int>(o.Int("partitions"));
  if (config.partitions < 1)
    ok = false, ctx.Error(o.Node("partitions")->mark, "partitions must be at least 1");
  config.lag_log_interval_ms = o.DurationMs("lag_log_interval");
  if (!ParseKafkaProperties(o, ctx, &config.properties)) ok = false;
  if (o.Has("simulate")) {
    Simulate s;
    const config::ConfNode& sim = *o.Node("simulate");
    if (!ParseSimulate(o.Object("simulate"), sim, ctx, &s)) ok = false;
    if (s.rate > 0 && config.bounded) {
      ctx.Error(sim.mark, "a live `simulate` (rate) never ends; a bounded source needs `count` instead");
      ok = false;
    }
    config.simulate = s;
  }
  if (!ParseLineSourceOptions(o, ctx, &config.line, config.topics.empty() ? "" : config.topics.front()))
    ok = false;
  if (!ok) return nullptr;
  return std::make_unique<KafkaSourcePlan>(std::move(config));
}

}  // namespace streamrun
