// `streamrun kafka`: the embedded broker as its own process (docs/operators.md and docs/commands.md).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runner/cli/commands.h"
#include "runner/kafka/embedded_broker.h"

namespace streamrun::cli {

namespace {
std::atomic<bool> g_broker_stop{false};
extern "C" void OnBrokerStop(int) { g_broker_stop = true; }
}  // namespace

int KafkaCommand(const KafkaArgs& args) {
  try {
    kafka::EmbeddedBroker broker(args.brokers);
    for (const auto& topic : args.topics) broker.CreateTopic(topic, args.partitions);
    if (!args.bootstrap_file.empty()) {
      std::ofstream out(args.bootstrap_file);
      out << broker.bootstrap() << "\n";
      if (!out) {
        std::fprintf(stderr, "streamrun kafka: cannot write %s\n", args.bootstrap_file.c_str());
        return kExitRunFailure;
      }
    }
    std::printf("%s\n", broker.bootstrap().c_str());
    std::fflush(stdout);
    std::fprintf(
        stderr,
        "streamrun kafka: %d broker%s at %s (in memory, for development and tests); Ctrl-C stops it\n",
        args.brokers, args.brokers == 1 ? "" : "s", broker.bootstrap().c_str());
    std::signal(SIGINT, OnBrokerStop);
    std::signal(SIGTERM, OnBrokerStop);
    if (args.control) {
      // Fault injection for tests: `down N` / `up N` take broker N away and
      // back; `fail API CODE...` answers the next requests of Kafka API number
      // API (26: EndTxn) with the error codes CODE, one request each.
      std::thread([&broker] {
        char line[256];
        while (std::fgets(line, sizeof line, stdin)) {
          std::istringstream in(line);
          std::string command;
          int id = 0;
          if (!(in >> command >> id)) continue;
          try {
            if (command == "down" || command == "up") {
              broker.SetBrokerUp(id, command == "up");
              std::fprintf(stderr, "streamrun kafka: broker %d %s\n", id, command.c_str());
            } else if (command == "fail") {
              std::vector<int> codes;
              for (int code; in >> code;) codes.push_back(code);
              broker.FailRequests(id, codes);
              std::fprintf(stderr, "streamrun kafka: the next %zu requests of API %d fail\n", codes.size(),
                           id);
            }
          } catch (const std::exception& e) {
            std::fprintf(stderr, "streamrun kafka: %s\n", e.what());
          }
        }
      }).detach();
    }
    while (!g_broker_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streamrun kafka: %s\n", e.what());
    return kExitRunFailure;
  }
}

}  // namespace streamrun::cli
