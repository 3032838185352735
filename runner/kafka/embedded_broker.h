#pragma once
// A Kafka-protocol broker inside the process: librdkafka's mock cluster on
// loopback (produce, fetch, consumer groups, idempotence; no transaction
// markers). For `brokers: embedded` and `streamrun kafka`; data stays in memory.
#include <memory>
#include <string>
#include <vector>

namespace streamrun::kafka {

class EmbeddedBroker {
 public:
  // Starts `brokers` brokers on random loopback ports. Throws std::runtime_error.
  explicit EmbeddedBroker(int brokers);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:PORT,127.0.0.1:PORT..."
  const std::string& bootstrap() const { return bootstrap_; }
  // Creates a topic with `partitions` partitions (replication: min(3, brokers)).
  // Topics a client asks for that do not exist are created on demand (4
  // partitions). False if the topic exists already.
  bool CreateTopic(const std::string& topic, int partitions);
  // Fault injection: broker `broker_id` (1..brokers) stops answering (down) or
  // comes back (up); clients see connection failures as with a real outage.
  void SetBrokerUp(int broker_id, bool up);
  // Fault injection: the next requests of Kafka API `api_key` (26: EndTxn,
  // 28: TxnOffsetCommit, ...) are answered with `errors` (Kafka error codes),
  // one request each, whichever broker gets them.
  void FailRequests(int api_key, const std::vector<int>& errors);
  int brokers() const { return brokers_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
  int brokers_;
};

}  // namespace streamrun::kafka
