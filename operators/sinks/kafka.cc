// kafka sink: records to a Kafka topic through librdkafka (SPEC section 5).
// One idempotent producer per worker; every delivery report is checked, and a
// failed delivery fails the run (never a silent loss).
#include <atomic>
#include <mutex>
#include <stdexcept>

#include "operators/kafka_properties.h"
#include "operators/sinks/sinks.h"
#include "runner/config/duration.h"
#include "runner/kafka/client.h"
#include "runner/record/clock.h"

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
        "partitions.";
    s.value = Obj(
        "",
        {Required(Str("brokers", "Bootstrap servers `host:port,...`, or `embedded`.")),
         Required(Str("topic", "The topic to write.")),
         Expr("key", "The message key, e.g. `user_id`; absent: no key (partitions chosen by librdkafka)."),
         Default(Enum("format", {"json"}, "Message value format."), "json"),
         Default(Int("batch_size", "Most messages in one produce request (batch.num.messages)."), "10000"),
         Default(Dur("linger", "How long the producer waits to fill a batch (linger.ms)."), "5ms"),
         Default(Enum("compression", {"none", "gzip", "snappy", "lz4", "zstd"}, "Batch compression."),
                 "none"),
         Default(Bool("idempotent", "Idempotent producer (enable.idempotence)."), "true"),
         Default(Int("partitions", "With `brokers: embedded`: partitions of the topic it creates."), "4"),
         Default(Dur("flush_timeout", "How long closing waits for outstanding deliveries."), "60s"),
         MapOf("properties", Str("", "A librdkafka property value."),
               "librdkafka producer properties, passed through (security.protocol, sasl.*, ssl.*...).")},
        "");
    s.example =
        "alerts:\n  type: kafka\n  input: scored\n  brokers: ${KAFKA_BROKERS:-embedded}\n  topic: alerts\n  "
        "key: card_id";
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
  kafka::Properties defaults;  // from batch_size, linger, compression, idempotent
  kafka::Properties properties;
  std::shared_ptr<expr::Expression> key;  // null: no key
};

class KafkaSinkInstance : public SinkInstance {
 public:
  explicit KafkaSinkInstance(const KafkaSinkConfig& config) : config_(config) {
    kafka::EnsureEmbeddedTopic(config.brokers, config.topic, config.partitions);
    kafka::Properties defaults = config.defaults;
    defaults.insert(defaults.begin(), {{"bootstrap.servers", kafka::ResolveBrokers(config.brokers)},
                                       {"client.id", config.client_id}});
    rd_kafka_conf_t* conf = kafka::MakeConf(defaults, config.properties);
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

  void Write(const Batch& batch, const RecordView& view) override {
    const bool modified = view.modified();
    expr::EvalContext ctx;
    ctx.arena = batch.shared_arena().get();
    ctx.now_ms = NowMs();
    for (uint32_t i = 0; i < batch.size(); ++i) {
      std::string_view value;
      if (modified) {
        buf_.clear();
        EncodeJson(view, batch.row(i), batch.raw(i), &buf_);
        value = buf_;
      } else {
        value = batch.raw(i);
      }
      std::string_view key;
      bool has_key = false;
      if (config_.key) {
        Value k;
        if (!config_.key->Eval(batch.row(i), ctx, &k)) {
          throw std::runtime_error(config_.name + ": key " + config_.key->text() + ": " + ctx.error);
        }
        has_key = KeyBytes(k, &key);
      }
      Produce(value, has_key ? &key : nullptr);
    }
    rd_kafka_poll(producer_, 0);
    CheckFailed();
  }

  void WriteEncoded(const std::vector<std::string>& records) override {
    for (const auto& r : records) Produce(r, nullptr);
    rd_kafka_poll(producer_, 0);
    CheckFailed();
  }

  void Flush() override {
    rd_kafka_poll(producer_, 0);
    CheckFailed();
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    rd_kafka_resp_err_t err = rd_kafka_flush(producer_, static_cast<int>(config_.flush_timeout_ms));
    CheckFailed();
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(config_.name + ": " + std::to_string(rd_kafka_outq_len(producer_)) +
                               " messages not delivered to " + config_.topic + " within flush_timeout");
    }
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

  void Produce(std::string_view value, const std::string_view* key) {
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
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;
  std::string buf_;
  std::string key_buf_;
  uint64_t failed_ = 0;  // delivery reports come on this thread (rd_kafka_poll/flush)
  std::string first_failure_;
  bool closed_ = false;
};

class KafkaSinkPlan : public SinkPlan {
 public:
  explicit KafkaSinkPlan(KafkaSinkConfig config) : config_(std::move(config)) {}
  std::unique_ptr<SinkInstance> Instantiate() const override {
    return std::make_unique<KafkaSinkInstance>(config_);
  }
  std::string Describe() const override {
    return "kafka " + config_.topic + " @ " + config_.brokers +
           (config_.key ? " key " + config_.key->text() : "");
  }
  bool ReadsFields() const override { return config_.key != nullptr; }
  // Each worker produces its own records: no hop to worker 0, and a key's
  // records (all on one worker after key_by) stay in order.
  bool PerWorker() const override { return true; }

 private:
  KafkaSinkConfig config_;
};

}  // namespace

std::unique_ptr<SinkPlan> PlanKafkaSink(const config::ConfNode& node, PlanContext& ctx) {
  KafkaSinkConfig config;
  bool ok = true;
  config.name = ctx.where();
  if (const auto* b = node.Find("brokers")) config.brokers = b->scalar;
  if (const auto* t = node.Find("topic")) config.topic = t->scalar;
  if (config.brokers.empty() || config.topic.empty()) {
    ctx.Error(node.mark, "needs 'brokers' and 'topic'");
    ok = false;
  }
  config.client_id =
      "streamrun-" + (ctx.pipeline_name().empty() ? std::string("pipeline") : ctx.pipeline_name());
  if (const auto* k = node.Find("key")) {
    auto key = ctx.Compile(*k);
    if (!key) ok = false;
    config.key = std::move(key);
  }
  std::string batch = "10000", linger_ms = "5", compression = "none", idempotent = "true";
  if (const auto* b = node.Find("batch_size")) {
    if (std::atoll(b->scalar.c_str()) < 1) ok = false, ctx.Error(b->mark, "batch_size must be at least 1");
    batch = b->scalar;
  }
  if (const auto* l = node.Find("linger")) {
    auto ms = config::ParseDurationMs(l->scalar);
    if (!ms)
      ok = false, ctx.Error(l->mark, "'" + l->scalar + "' is not a duration");
    else
      linger_ms = std::to_string(*ms);
  }
  if (const auto* c = node.Find("compression")) compression = c->scalar;
  if (const auto* i = node.Find("idempotent")) idempotent = i->scalar;
  if (const auto* p = node.Find("partitions")) {
    config.partitions = std::atoi(p->scalar.c_str());
    if (config.partitions < 1) ok = false, ctx.Error(p->mark, "partitions must be at least 1");
  }
  if (const auto* f = node.Find("flush_timeout")) {
    auto ms = config::ParseDurationMs(f->scalar);
    if (!ms || *ms <= 0)
      ok = false, ctx.Error(f->mark, "'" + f->scalar + "' is not a positive duration");
    else
      config.flush_timeout_ms = *ms;
  }
  config.defaults = {{"batch.num.messages", batch},
                     {"linger.ms", linger_ms},
                     {"compression.type", compression},
                     {"enable.idempotence", idempotent},
                     {"acks", "all"}};
  if (!ParseKafkaProperties(node, ctx, &config.properties)) ok = false;
  if (!ok) return nullptr;
  return std::make_unique<KafkaSinkPlan>(std::move(config));
}

}  // namespace streamrun
