// kafka sink: records to a Kafka topic through librdkafka (docs/operators.md and docs/guarantees.md).
// One producer per worker. At least once (no checkpoints, or mode
// at_least_once): idempotent, every delivery report checked, a failed delivery
// fails the run, and a checkpoint waits until every record before it is
// delivered. Exactly once: the worker's Kafka sinks write through one shared
// transactional producer, one transaction per checkpoint (kafka::Transaction).
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "operators/kafka_properties.h"
#include "operators/record_format.h"
#include "operators/run_scope.h"
#include "operators/sinks/sinks.h"
#include "runner/config/duration.h"
#include "runner/kafka/client.h"
#include "runner/kafka/transaction.h"
#include "runner/log/log.h"
#include "runner/record/clock.h"
#include "runner/record/json_decoder.h"

namespace streamrun {

const config::ComponentSpec& KafkaSinkSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSink;
    s.name = "kafka";
    s.summary = "Write records to a Kafka topic, one JSON object per message.";
    s.description =
        "Every worker has its own producer, idempotent by default (no duplicates or reordering from its own "
        "retries; acks=all). Every message's delivery report is checked: a message Kafka did not "
        "take fails the run with the reason. `key` is an expression over the record; a string is "
        "written as is, null as no key, anything else as its JSON text. `batch_size`, `linger` and "
        "`compression` tune batching; `properties` are passed to librdkafka and win over them. "
        "With `brokers: embedded` the topic is created on the in-process broker with `partitions` "
        "partitions. With checkpoints in mode `exactly_once` the sink is transactional: each worker "
        "writes in one transaction per checkpoint, committed when the checkpoint completes, with the "
        "transactional id `<transactional_id>-<worker>`; consumers of the topic must read with "
        "isolation.level=read_committed. Kafka sinks of a pipeline with the same `transactional_id` "
        "(by default all of them) share the worker's transaction, so results and dead letters commit "
        "together; they need the same brokers and producer settings. Records wait in memory (and in "
        "the checkpoint) until their transaction commits, so a restore can publish them again if the "
        "commit did not happen.";
    s.value = Obj(
        "",
        {Required(Str("brokers", "Bootstrap servers `host:port,...`, or `embedded`.")),
         Required(Str("topic", "The topic to write.")),
         Expr("key", "The message key, e.g. `user_id`; absent: no key (partitions chosen by librdkafka)."),
         Default(Enum("format", {"json", "protobuf", "avro"},
                      "Message value format: json, or protobuf/avro with `schema:`; with `registry:` each "
                      "value carries the registry framing."),
                 "json"),
         Str("schema",
             "protobuf: the .proto file; avro: the .avsc file; json with `registry:`: the JSON "
             "Schema file it registers."),
         Str("message", "protobuf: the message type's full name (default: the file's first message)."),
         Default(Int("batch_size", "Most messages in one produce request (batch.num.messages)."), "10000"),
         Default(Dur("linger", "How long the producer waits to fill a batch (linger.ms)."), "5ms"),
         Default(Enum("compression", {"none", "gzip", "snappy", "lz4", "zstd"}, "Batch compression."),
                 "none"),
         Default(Bool("idempotent", "Idempotent producer (enable.idempotence)."), "true"),
         Default(Int("partitions", "With `brokers: embedded`: partitions of the topic it creates."), "4"),
         Default(Dur("flush_timeout",
                     "How long closing, a checkpoint or a transaction's commit waits for the broker."),
                 "60s"),
         Str("transactional_id",
             "Exactly once: the prefix of the producers' transactional ids (in a job of several processes "
             "the task's name, then the worker's number are appended); default `streamrun-<pipeline name>`."),
         Default(Dur("transaction_timeout",
                     "Exactly once: transaction.timeout.ms, after which the broker aborts a transaction "
                     "left open by a crashed run; must be longer than the checkpoint interval plus the "
                     "time a checkpoint takes, and at most the broker's transaction.max.timeout.ms."),
                 "60s"),
         MapOf("properties", Str("", "A librdkafka property value."),
               "librdkafka producer properties, passed through (security.protocol, sasl.*, ssl.*...).")},
        "");
    s.example =
        "alerts:\n  type: kafka\n  input: scored\n  brokers: ${KAFKA_BROKERS:-embedded}\n  topic: alerts\n  "
        "key: card_id";
    for (auto& f : RecordFormatFields({"json"}, /*registry=*/true, ""))
      if (f.name == "registry") s.value.fields.push_back(f);
    return s;
  }();
  return spec;
}

namespace {

struct KafkaSinkConfig {
  std::string name;  // "sink 'alerts'"
  std::string brokers;
  std::string topic;
  std::string client_id;
  int partitions = 4;
  int64_t flush_timeout_ms = 60000;
  std::string transactional_id;  // prefix
  int64_t transaction_timeout_ms = 60000;
  kafka::Properties defaults;  // from batch_size, linger, compression, idempotent
  kafka::Properties properties;
  std::shared_ptr<expr::Expression> key;  // null: no key
  RecordFormatOptions format;
};

// One worker's transaction, shared by the Kafka sinks of that worker that have
// the same transactional id: the first to join owns it (its PreCommit carries
// the staged records into the checkpoint). The run's table holds it only
// while a sink does.
struct SharedTransaction {
  std::unique_ptr<kafka::Transaction> txn;
  std::string settings;          // brokers and producer properties: its members' must match
  std::string first_sink;        // "sink 'alerts'"
  int64_t prepared = INT64_MIN;  // the checkpoint whose PreCommit ran
};

// The run's transactions by transactional id (in the run's RunScope).
struct TransactionTable {
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<SharedTransaction>> by_id;
};

std::string SettingsKey(const std::string& brokers, const kafka::Properties& a, const kafka::Properties& b) {
  std::string key = brokers;
  for (const auto* list : {&a, &b})
    for (const auto& [k, v] : *list) key += "\n" + k + "=" + v;
  return key;
}

class KafkaSinkInstance : public SinkInstance {
 public:
  KafkaSinkInstance(const KafkaSinkConfig& config, const OperatorContext& context)
      : config_(config),
        worker_(context.worker),
        transactions_(context.scope->Get<TransactionTable>("kafka sink transactions",
                                                           [] { return new TransactionTable; })) {
    kafka::EnsureEmbeddedTopic(config.brokers, config.topic, config.partitions);
    const RecordFormatOptions& f = config.format;
    if (f.registry) {
      // The schema is registered (or found) once per worker at start; a
      // registry that refuses it stops the run with the registry's reason.
      int32_t id = 0;
      std::string error;
      if (!f.registry->Register(f.subject, f.schema->RegistryType(), f.schema->RegistryText(), &id, &error))
        throw std::runtime_error(config.name + ": " + error);
      encoder_ = format::NewFramedEncoder(f.schema, id);
    } else if (f.binary()) {
      encoder_ = f.schema->NewEncoder();
    }
    rd_kafka_conf_t* conf = kafka::MakeConf(ProducerDefaults(), config.properties);
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSinkInstance::OnDelivery);
    char error[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(config.name + ": " + error);
    }
    topic_ = rd_kafka_topic_new(producer_, config.topic.c_str(), nullptr);
  }

  ~KafkaSinkInstance() override {
    if (topic_) rd_kafka_topic_destroy(topic_);
    if (producer_) {
      rd_kafka_flush(producer_, 1000);  // Close() already waited in a normal run
      rd_kafka_destroy(producer_);
    }
  }

  void BeginExactlyOnce(const std::vector<std::string>& recovered) override {
    kafka::Transaction::Options options = TransactionOptions();
    const std::string id = options.transactional_id;
    const std::string settings = SettingsKey(config_.brokers, options.defaults, config_.properties);
    {
      std::lock_guard<std::mutex> lock(transactions_->mutex);
      shared_ = transactions_->by_id[id].lock();
      if (shared_ && shared_->settings != settings)
        throw std::runtime_error(config_.name + " and " + shared_->first_sink + " share transactional id " +
                                 id +
                                 " (one transaction per worker) but not their brokers and producer settings: "
                                 "give one of them its own transactional_id");
      if (!shared_) {
        shared_ = std::make_shared<SharedTransaction>();
        shared_->txn = std::make_unique<kafka::Transaction>(std::move(options));
        shared_->settings = settings;
        shared_->first_sink = config_.name;
        transactions_->by_id[id] = shared_;
      }
    }
    // The transactional producer replaces the idempotent one (nothing was sent).
    rd_kafka_topic_destroy(topic_);
    topic_ = nullptr;
    rd_kafka_destroy(producer_);
    producer_ = nullptr;
    topic_index_ = shared_->txn->Topic(config_.topic);
    shared_->txn->Start(recovered);
  }

  void ResumeAtLeastOnce(const std::vector<std::string>& recovered) override {
    if (recovered.empty()) return;
    // The checkpoint was taken exactly once: its transactions that did not
    // commit are published now (and the ids fenced); then the idempotent
    // producer goes on.
    kafka::Transaction(TransactionOptions()).Start(recovered);
  }

  std::string PreCommit(int64_t id) override {
    if (!shared_) {
      // At least once: the checkpoint completes only once every record before
      // it is delivered.
      Deliver("a checkpoint");
      return {};
    }
    if (shared_->prepared == id) return {};  // another sink of this transaction did it
    shared_->prepared = id;
    return shared_->txn->Prepare(id);
  }

  void Commit(int64_t id) override {
    if (!shared_) return;
    const uint64_t before = shared_->txn->stats().committed;
    const uint64_t records = shared_->txn->stats().records;
    shared_->txn->Commit(id);
    if (shared_->txn->stats().committed != before)
      log::Debug(log::OperatorOf(config_.name), "transaction {} committed for checkpoint {}: {} records",
                 shared_->txn->transactional_id(), id, shared_->txn->stats().records - records);
  }

  void Write(const Batch& batch, const RecordView& view, RecordErrors& errors) override {
    const bool modified = view.modified();
    expr::EvalContext ctx;
    ctx.arena = batch.shared_arena().get();
    ctx.now_ms = NowMs();
    for (uint32_t i = 0; i < batch.size(); ++i) {
      std::string_view value;
      if (modified || encoder_) {
        buf_.clear();
        if (modified) {
          EncodeJson(view, batch.row(i), batch.raw(i), &buf_);
        } else {
          buf_.assign(batch.raw(i));
        }
        value = buf_;
      } else {
        value = batch.raw(i);
      }
      if (encoder_) {
        buf_.reserve(buf_.size() + JsonPadding());
        encoded_.clear();
        if (!encoder_->Encode(buf_, &encoded_, &encode_error_)) {
          errors.Fail(batch, i,
                      config_.name + ": cannot write as " +
                          std::string(format::FormatName(config_.format.format)) + ": " + encode_error_);
          continue;
        }
        value = encoded_;
      }
      std::string_view key;
      bool has_key = false;
      if (config_.key) {
        Value k;
        if (!config_.key->Eval(batch.row(i), ctx, &k)) {
          errors.Fail(batch, i, config_.name + ": key " + config_.key->text() + ": " + ctx.error);
          ctx.error.clear();
          continue;
        }
        has_key = KeyBytes(k, &key);
      }
      Produce(value, has_key ? &key : nullptr);
    }
    Flush();
  }

  void WriteEncoded(const std::vector<std::string>& records) override {
    for (const auto& r : records) {
      if (!encoder_) {
        Produce(r, nullptr);
        continue;
      }
      buf_.assign(r);
      buf_.reserve(buf_.size() + JsonPadding());
      encoded_.clear();
      if (!encoder_->Encode(buf_, &encoded_, &encode_error_))
        throw std::runtime_error(config_.name + ": a dead letter cannot be written as " +
                                 std::string(format::FormatName(config_.format.format)) + ": " +
                                 encode_error_);
      Produce(encoded_, nullptr);
    }
    Flush();
  }

  void Flush() override {
    if (shared_) {
      shared_->txn->Poll();
      return;
    }
    rd_kafka_poll(producer_, 0);
    CheckFailed();
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    // Exactly once: the final checkpoint committed everything; a transaction
    // still open belongs to no complete checkpoint and is aborted.
    if (shared_)
      shared_->txn->Close();
    else
      Deliver("closing");
  }

 private:
  // A key as bytes: strings as they are, numbers and the rest as JSON text.
  bool KeyBytes(const Value& k, std::string_view* out) {
    if (k.is_null()) return false;
    if (k.kind == Kind::kString) {
      *out = k.text();
      return true;
    }
    key_buf_.clear();
    expr::AppendJson(k, &key_buf_);
    *out = key_buf_;
    return true;
  }

  // The sink's producer settings with where to connect, before the user's properties.
  kafka::Properties ProducerDefaults() const {
    kafka::Properties defaults = config_.defaults;
    defaults.insert(defaults.begin(), {{"bootstrap.servers", kafka::ResolveBrokers(config_.brokers)},
                                       {"client.id", config_.client_id}});
    return defaults;
  }

  kafka::Transaction::Options TransactionOptions() const {
    kafka::Transaction::Options options;
    options.transactional_id = config_.transactional_id + "-" + std::to_string(worker_);
    options.defaults = ProducerDefaults();
    options.properties = config_.properties;
    options.timeout_ms = config_.flush_timeout_ms;
    options.transaction_timeout_ms = config_.transaction_timeout_ms;
    return options;
  }

  void Deliver(const char* when) {
    rd_kafka_resp_err_t err = rd_kafka_flush(producer_, static_cast<int>(config_.flush_timeout_ms));
    CheckFailed();
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(config_.name + ": " + when + ": " +
                               std::to_string(rd_kafka_outq_len(producer_)) + " messages not delivered to " +
                               config_.topic + " within flush_timeout");
    }
  }

  void Produce(std::string_view value, const std::string_view* key) {
    if (shared_) {
      shared_->txn->Send(topic_index_, value, key);
      return;
    }
    rd_kafka_resp_err_t err = kafka::Produce(producer_, topic_, value, key, -1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw std::runtime_error(config_.name + ": producing to " + config_.topic + ": " +
                               rd_kafka_err2str(err));
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (!m->err) return;
    auto* self = static_cast<KafkaSinkInstance*>(opaque);
    ++self->failed_;
    if (self->first_failure_.empty()) self->first_failure_ = rd_kafka_err2str(m->err);
  }

  void CheckFailed() {
    if (failed_ == 0) return;
    throw std::runtime_error(config_.name + ": " + std::to_string(failed_) + " message" +
                             (failed_ == 1 ? "" : "s") + " not delivered to " + config_.topic + ": " +
                             first_failure_);
  }

  const KafkaSinkConfig& config_;
  const int worker_;
  std::shared_ptr<TransactionTable> transactions_;
  std::shared_ptr<SharedTransaction> shared_;  // exactly once
  int topic_index_ = 0;                        // config_.topic in shared_->txn
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;
  std::string buf_;
  std::string encoded_, encode_error_;
  std::unique_ptr<format::RecordEncoder> encoder_;
  std::string key_buf_;
  uint64_t failed_ = 0;  // delivery reports come on this thread (rd_kafka_poll/flush)
  std::string first_failure_;
  bool closed_ = false;
};

class KafkaSinkPlan : public SinkPlan {
 public:
  explicit KafkaSinkPlan(KafkaSinkConfig config) : config_(std::move(config)) {}
  std::unique_ptr<SinkInstance> Instantiate(const OperatorContext& context) const override {
    return std::make_unique<KafkaSinkInstance>(config_, context);
  }
  std::string Describe() const override {
    return "kafka " + config_.topic + " @ " + config_.brokers +
           (config_.key ? " key " + config_.key->text() : "");
  }
  bool ReadsFields() const override { return config_.key != nullptr; }
  std::string DescribeState(std::string_view state) const override {
    return state.empty() ? std::string() : kafka::Transaction::Describe(state);
  }
  // Each worker produces its own records: no hop to worker 0, and a key's
  // records (all on one worker after key_by) stay in order.
  bool PerWorker() const override { return true; }

 private:
  KafkaSinkConfig config_;
};

}  // namespace

std::unique_ptr<SinkPlan> PlanKafkaSink(const config::ConfNode& node, PlanContext& ctx) {
  const config::Options o = ctx.Options(node, KafkaSinkSpec());
  KafkaSinkConfig config;
  bool ok = true;
  config.name = ctx.where();
  config.brokers = o.String("brokers");
  config.topic = o.String("topic");
  if (config.brokers.empty() || config.topic.empty()) {
    ctx.Error(node.mark, "needs 'brokers' and 'topic'");
    ok = false;
  }
  if (!ParseRecordFormat(o, ctx, /*sink=*/true, config.topic, &config.format)) ok = false;
  config.client_id =
      "streamrun-" + (ctx.pipeline_name().empty() ? std::string("pipeline") : ctx.pipeline_name());
  if (const auto* k = o.Node("key")) {
    auto key = ctx.Compile(*k);
    if (!key) ok = false;
    config.key = std::move(key);
  }
  const int64_t batch = o.Int("batch_size");
  if (batch < 1) ok = false, ctx.Error(o.Node("batch_size")->mark, "batch_size must be at least 1");
  const int64_t linger_ms = o.DurationMs("linger");
  config.partitions = static_cast<int>(o.Int("partitions"));
  if (config.partitions < 1)
    ok = false, ctx.Error(o.Node("partitions")->mark, "partitions must be at least 1");
  config.flush_timeout_ms = o.DurationMs("flush_timeout");
  if (config.flush_timeout_ms <= 0)
    ok = false, ctx.Error(o.Node("flush_timeout")->mark, "flush_timeout must be a positive duration");
  config.transactional_id = o.OptString("transactional_id").value_or(config.client_id);
  // Members of one job (runtime.member) each have their own producers: the
  // same id in two processes would fence one by the other at every commit.
  if (!ctx.member().empty()) {
    config.client_id += "-" + ctx.member();
    if (!config.transactional_id.empty()) config.transactional_id += "-" + ctx.member();
  }
  if (config.transactional_id.empty())
    ok = false, ctx.Error(o.Node("transactional_id")->mark, "transactional_id must not be empty");
  config.transaction_timeout_ms = o.DurationMs("transaction_timeout");
  if (config.transaction_timeout_ms < 1000)
    ok = false, ctx.Error(o.Node("transaction_timeout")->mark, "transaction_timeout must be at least 1s");
  config.defaults = {{"batch.num.messages", std::to_string(batch)},
                     {"linger.ms", std::to_string(linger_ms)},
                     {"compression.type", o.Enum("compression")},
                     {"enable.idempotence", o.Bool("idempotent") ? "true" : "false"},
                     {"acks", "all"}};
  if (!ParseKafkaProperties(o, ctx, &config.properties)) ok = false;
  for (const auto& [key, value] : config.properties)
    if (key == "transactional.id") {
      ctx.Error(
          o.Node("properties")->Find("transactional.id")->mark,
          "transactional.id is set by the sink (one per worker): use `transactional_id:` for its prefix");
      ok = false;
    }
  if (!ok) return nullptr;
  return std::make_unique<KafkaSinkPlan>(std::move(config));
}

}  // namespace streamrun
