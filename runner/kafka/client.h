#pragma once
// What every Kafka client of streamrun shares: the process's embedded broker
// (`brokers: embedded`) and librdkafka configuration built from `properties:`.
// Include only where librdkafka is used: it brings in rdkafka.h.
#include <librdkafka/rdkafka.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runner/kafka/embedded_broker.h"

namespace streamrun::kafka {

using Properties = std::vector<std::pair<std::string, std::string>>;

// The word that selects the embedded broker in `brokers:`.
inline constexpr const char* kEmbedded = "embedded";

// The broker inside this process, started on first use (one broker; topics a
// client asks for are created on demand with 4 partitions). Thread-safe.
EmbeddedBroker& ProcessBroker();
// `embedded` -> the process broker's bootstrap address; anything else as given.
std::string ResolveBrokers(const std::string& brokers);

// A librdkafka configuration: `defaults` first, then the user's `properties`
// (which win). Throws std::runtime_error naming the property librdkafka refused.
rd_kafka_conf_t* MakeConf(const Properties& defaults, const Properties& properties);

// A librdkafka log callback (rd_kafka_conf_set_log_cb) writing to streamrun's
// log; MakeConf sets it on every configuration it makes.
void LogFromLibrdkafka(const rd_kafka_t* rk, int level, const char* facility, const char* text);

// Produces one message (value and key copied; key null: none; timestamp -1:
// now) to librdkafka's queue. While the queue is full it serves delivery
// reports and waits: the producer's backpressure. Any other error is returned.
rd_kafka_resp_err_t Produce(rd_kafka_t* producer, rd_kafka_topic_t* topic, std::string_view value,
                            const std::string_view* key, int64_t timestamp_ms);

// Up to `want` messages of a consumer's queue into `out`. After a run of 8
// empty polls (`*empty_polls` counts them) it waits up to 5 ms for the first
// message, so a quiet topic does not spin a core; then it takes whatever
// else is there without waiting (a batch wait would hold up to 5 ms for a
// full batch). Returns how many, or -1 (rd_kafka_last_error says why).
ssize_t PollBatch(rd_kafka_t* consumer, rd_kafka_queue_t* queue, rd_kafka_message_t** out, size_t want,
                  int* empty_polls);

// Empty if librdkafka takes `key: value`, else its reason.
std::string CheckProperty(const std::string& key, const std::string& value);

// Creates the topic on the embedded broker if `brokers` is `embedded` and the
// topic does not exist yet (partitions > 0). No-op for real clusters.
void EnsureEmbeddedTopic(const std::string& brokers, const std::string& topic, int partitions);

}  // namespace streamrun::kafka
