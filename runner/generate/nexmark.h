#pragma once
// The Nexmark auction benchmark's events (Person, Auction, Bid) as Apache Beam's
// Nexmark generator makes them: event `eventId` draws all its fields from its own
// java.util.Random(eventId), so with seed 1 every field Beam has is Beam's, bit for
// bit (see README.md for the one caveat, the price's pow). Bids also carry Flink
// Nexmark's `channel` and `url`, drawn after Beam's fields so they change nothing
// else. The written layout is Flink Nexmark's Kafka JSON plus a top-level `ts`:
//   {"event_type":2,"ts":...,"person":null,"auction":null,"bid":{...}}
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

namespace streamrun::generate::nexmark {

// java.util.Random, bit for bit: a 48-bit linear congruential generator and the
// JDK's documented algorithms on top of it.
class JavaRandom {
 public:
  explicit JavaRandom(int64_t seed) : seed_((static_cast<uint64_t>(seed) ^ kMultiplier) & kMask) {}
  int32_t NextInt() { return Next(32); }
  // Uniform in [0, bound), bound > 0. Inline: with a constant bound the % is a multiply.
  int32_t NextInt(int32_t bound) {
    int32_t r = Next(31);
    const int32_t m = bound - 1;
    if ((bound & m) == 0) return static_cast<int32_t>((static_cast<int64_t>(bound) * r) >> 31);
    // Rejects the last, incomplete multiple of `bound` below 2^31 (where Java's
    // `u - r + m` overflows an int).
    for (int32_t u = r; static_cast<int64_t>(u) - (r = u % bound) + m > INT32_MAX; u = Next(31)) {
    }
    return r;
  }
  int64_t NextLong();
  double NextDouble();  // uniform in [0, 1), a multiple of 2^-53

 private:
  static constexpr uint64_t kMultiplier = 0x5DEECE66DULL;
  static constexpr uint64_t kMask = (uint64_t{1} << 48) - 1;
  int32_t Next(int bits) {
    seed_ = (seed_ * kMultiplier + 0xB) & kMask;
    return static_cast<int32_t>(static_cast<uint32_t>(seed_ >> (48 - bits)));
  }
  uint64_t seed_;
};

// 10^x rounded to the nearest double, for 0 <= x <= 6, from + - * / only (the same
// on every machine): correctly rounded unless 10^x lies within a relative 2^-90 of
// a rounding boundary.
double Pow10(double x);

// Beam's PriceGenerator for the uniform draw u: Math.round(Math.pow(10, u * 6) * 100),
// in cents, 100 .. 10^8.
int64_t PriceFromUniform(double u);

// Events until numInFlightAuctions (100) more auctions exist: an auction's mean
// length is the event time this many events take.
constexpr int64_t kEventsForInFlightAuctions = 100 * 50 / 3;

class EventWriter {
 public:
  // Seed 1 gives Beam's events; another seed mixes itself into each event's Random.
  explicit EventWriter(uint64_t seed);

  // Appends event `event_id` (0, 1, 2, ...) as one JSON object. `ts` is its event
  // time (epoch ms), written as `ts` and `dateTime`; an auction expires at
  // ts + 1 + uniform[0, 2 * horizon_ms), where horizon_ms is the event time until
  // kEventsForInFlightAuctions more events.
  void Append(int64_t event_id, int64_t ts, int64_t horizon_ms, std::string* out);

 private:
  void AppendPerson(int64_t event_id, JavaRandom* random, int64_t ts, std::string* out);
  void AppendAuction(int64_t event_id, JavaRandom* random, int64_t ts, int64_t horizon_ms, std::string* out);
  void AppendBid(int64_t event_id, JavaRandom* random, int64_t ts, std::string* out);

  // A bid's `"channel":...,"url":...` text, made once per channel: both depend on
  // the channel only. Hot channels first, then the numbered ones; empty until used.
  const std::string& ChannelFields(int32_t channel, bool hot);

  uint64_t salt_;
  std::vector<std::string> channel_fields_;
  // Scratch for the strings of one event, reused: no allocation per event once warm.
  std::string part_, text_, name_, description_, extra_;
};

}  // namespace streamrun::generate::nexmark
