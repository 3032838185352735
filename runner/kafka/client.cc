#include "runner/kafka/client.h"

#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>

#include "runner/log/log.h"

namespace streamrun::kafka {

// librdkafka's own lines (a broker down, a rebalance) go to streamrun's log:
// syslog levels 0-3 error, 4 warn, 5-6 info, 7 debug. Called on librdkafka's
// threads; the log is safe from any thread.
void LogFromLibrdkafka(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  const log::Level ours = level <= 3   ? log::Level::kError
                          : level == 4 ? log::Level::kWarn
                          : level <= 6 ? log::Level::kInfo
                                       : log::Level::kDebug;
  if (!log::Enabled(ours)) return;
  log::Write(ours, "",
             std::string("librdkafka ") + (rk ? rd_kafka_name(rk) : "") + " " + facility + ": " + text);
}

namespace {
std::mutex g_broker_mutex;
std::set<std::string> g_created_topics;  // guarded by g_broker_mutex

EmbeddedBroker& BrokerLocked() {
  // Never destroyed: clients on other threads may still be closing at exit,
  // and the mock cluster's threads end with the process.
  static EmbeddedBroker* broker = new EmbeddedBroker(1);
  return *broker;
}
}  // namespace

EmbeddedBroker& ProcessBroker() {
  std::lock_guard<std::mutex> lock(g_broker_mutex);
  return BrokerLocked();
}

std::string ResolveBrokers(const std::string& brokers) {
  if (brokers == kEmbedded) return ProcessBroker().bootstrap();
  return brokers;
}

rd_kafka_conf_t* MakeConf(const Properties& defaults, const Properties& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, &LogFromLibrdkafka);
  char error[512];
  for (const auto* list : {&defaults, &properties}) {
    for (const auto& [key, value] : *list) {
      if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error("Kafka property '" + key + "': " + error);
      }
    }
  }
  return conf;
}

rd_kafka_resp_err_t Produce(rd_kafka_t* producer, rd_kafka_topic_t* topic, std::string_view value,
                            const std::string_view* key, int64_t timestamp_ms) {
  while (true) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0),
                          RD_KAFKA_V_TIMESTAMP(timestamp_ms < 0 ? 0 : timestamp_ms), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return err;
    rd_kafka_poll(producer, 10);
  }
}

ssize_t PollBatch(rd_kafka_t* consumer, rd_kafka_queue_t* queue, rd_kafka_message_t** out, size_t want,
                  int* empty_polls) {
  size_t first = 0;
  if (*empty_polls >= 8 && want > 0) {
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 5)) out[first++] = m;
  }
  ssize_t n = rd_kafka_consume_batch_queue(queue, 0, out + first, want - first);
  if (n < 0) {
    for (size_t i = 0; i < first; ++i) rd_kafka_message_destroy(out[i]);
    return -1;
  }
  n += static_cast<ssize_t>(first);
  *empty_polls = n == 0 ? *empty_polls + 1 : 0;
  return n;
}

std::string CheckProperty(const std::string& key, const std::string& value) {
  rd_kafka_conf_t* probe = rd_kafka_conf_new();
  char error[512];
  std::string result;
  if (rd_kafka_conf_set(probe, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK)
    result = error;
  rd_kafka_conf_destroy(probe);
  return result;
}

void EnsureEmbeddedTopic(const std::string& brokers, const std::string& topic, int partitions) {
  if (brokers != kEmbedded || partitions <= 0) return;
  std::lock_guard<std::mutex> lock(g_broker_mutex);
  if (!g_created_topics.insert(topic).second) return;
  BrokerLocked().CreateTopic(topic, partitions);
}

}  // namespace streamrun::kafka
