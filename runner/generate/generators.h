#pragma once
// Deterministic synthetic event streams (clicks, cart sessions, card transactions,
// Nexmark auctions) for demos, benchmarks and tests. Same options and seed give
// byte-identical output on any machine: the generators use their own PRNGs
// (splitmix64 seeding xoshiro256**; java.util.Random for nexmark) and integer or
// single correctly rounded floating operations only, never std::random
// distributions or libm.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace streamrun::generate {

struct Options {
  std::string kind;  // "clicks", "cart", "transactions", "nexmark"
  uint64_t seed = 1;
  int64_t count = -1;                // events to produce; -1: unbounded
  int64_t start_ms = 1767225600000;  // event time of the first event (2026-01-01T00:00:00Z)
  double events_per_second =
      1000;  // EVENT-TIME spacing: event i has time start_ms + i*1000/events_per_second (before disorder)
  double out_of_order_fraction = 0;  // share of events whose time is moved back
  int64_t max_delay_ms = 0;          // by a uniform delay in [1, max_delay_ms]
  // Partition `partition` of `partitions` yields the events n of the whole
  // stream with n % partitions == partition, each exactly as the whole stream
  // has it (the partitions' union is the stream); `count` counts the whole.
  int partition = 0;
  int partitions = 1;
};

class Generator {
 public:
  virtual ~Generator() = default;
  // Appends the next event as one JSON object (no newline) to *out and sets *event_time.
  // False when `count` events have been produced.
  virtual bool Next(std::string* out, int64_t* event_time) = 0;
};

// nullptr and *error ("unknown kind 'x' (clicks, cart, transactions, nexmark)") for an unknown kind or
// bad options.
std::unique_ptr<Generator> Make(const Options& options, std::string* error);
const std::vector<std::string>& Kinds();

}  // namespace streamrun::generate
