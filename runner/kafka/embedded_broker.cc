#include "runner/kafka/embedded_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "runner/kafka/client.h"

namespace streamrun::kafka {

struct EmbeddedBroker::Impl {
  rd_kafka_t* handle = nullptr;  // owns the mock cluster's threads
  rd_kafka_mock_cluster_t* cluster = nullptr;
};

EmbeddedBroker::EmbeddedBroker(int brokers) : impl_(std::make_unique<Impl>()), brokers_(brokers) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, &LogFromLibrdkafka);
  // The handle only hosts the cluster; keep it quiet.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
  impl_->handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!impl_->handle) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("embedded broker: ") + error);
  }
  impl_->cluster = rd_kafka_mock_cluster_new(impl_->handle, brokers);
  if (!impl_->cluster) {
    rd_kafka_destroy(impl_->handle);
    throw std::runtime_error("embedded broker: could not start the mock cluster");
  }
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

EmbeddedBroker::~EmbeddedBroker() {
  if (impl_->cluster) rd_kafka_mock_cluster_destroy(impl_->cluster);
  if (impl_->handle) rd_kafka_destroy(impl_->handle);
}

bool EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, std::min(3, brokers_));
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return false;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("embedded broker: creating topic " + topic + ": " + rd_kafka_err2str(err));
  return true;
}

void EmbeddedBroker::SetBrokerUp(int broker_id, bool up) {
  rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(impl_->cluster, broker_id)
                               : rd_kafka_mock_broker_set_down(impl_->cluster, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("embedded broker " + std::to_string(broker_id) + ": " + rd_kafka_err2str(err));
}

}  // namespace streamrun::kafka

namespace streamrun::kafka {

void EmbeddedBroker::FailRequests(int api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> codes;
  for (int e : errors) codes.push_back(static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, static_cast<int16_t>(api_key), codes.size(),
                                          codes.data());
}

}  // namespace streamrun::kafka
