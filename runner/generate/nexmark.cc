#include "runner/generate/nexmark.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runner/record/json_writer.h"

// Built with -ffp-contract=off (CMakeLists.txt): the double-double arithmetic below
// relies on every + - * being rounded on its own, never fused into an FMA.

namespace streamrun::generate::nexmark {

// ---------------------------------------------------------------------------
// java.util.Random

int64_t JavaRandom::NextLong() {
  const int64_t high = Next(32);
  const int64_t low = Next(32);  // sign-extended, as in Java
  return static_cast<int64_t>((static_cast<uint64_t>(high) << 32) + static_cast<uint64_t>(low));
}

double JavaRandom::NextDouble() {
  const int64_t high = Next(26);
  const int64_t low = Next(27);
  return static_cast<double>((high << 27) + low) * 0x1.0p-53;
}

// ---------------------------------------------------------------------------
// 10^x without libm: double-double arithmetic (an unevaluated sum hi + lo carrying
// about 106 bits), rounded to a double only at the end.

namespace {

struct DoubleDouble {
  double hi, lo;
};

// a + b exactly (Knuth).
DoubleDouble TwoSum(double a, double b) {
  const double s = a + b;
  const double b_part = s - a;
  const double a_part = s - b_part;
  return {s, (a - a_part) + (b - b_part)};
}

// a + b exactly, for |a| >= |b|.
DoubleDouble QuickTwoSum(double a, double b) {
  const double s = a + b;
  return {s, b - (s - a)};
}

// a * b exactly (Dekker: split each factor into two 26-bit halves).
DoubleDouble TwoProduct(double a, double b) {
  auto split = [](double v, double* high, double* low) {
    const double c = 134217729.0 * v;  // 2^27 + 1
    *high = c - (c - v);
    *low = v - *high;
  };
  double ah, al, bh, bl;
  split(a, &ah, &al);
  split(b, &bh, &bl);
  const double p = a * b;
  return {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}

DoubleDouble Add(DoubleDouble a, DoubleDouble b) {  // both >= 0
  DoubleDouble s = TwoSum(a.hi, b.hi);
  return QuickTwoSum(s.hi, s.lo + (a.lo + b.lo));
}

DoubleDouble Multiply(DoubleDouble a, DoubleDouble b) {
  DoubleDouble p = TwoProduct(a.hi, b.hi);
  return QuickTwoSum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi));
}

DoubleDouble Multiply(DoubleDouble a, double b) {
  DoubleDouble p = TwoProduct(a.hi, b);
  return QuickTwoSum(p.hi, p.lo + a.lo * b);
}

DoubleDouble Divide(DoubleDouble a, double b) {
  const double q1 = a.hi / b;
  const DoubleDouble p = TwoProduct(q1, b);
  const DoubleDouble s = TwoSum(a.hi, -p.hi);
  const double rest = ((s.hi + s.lo) - p.lo) + a.lo;
  return QuickTwoSum(q1, rest / b);
}

constexpr DoubleDouble kLn10 = {0x1.26bb1bbb55516p+1, -0x1.f48ad494ea3e9p-53};
constexpr std::array<double, 7> kPowersOf10 = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};

// f ln 10, for an exact f.
DoubleDouble TimesLn10(double f) {
  const DoubleDouble g = TwoProduct(f, kLn10.hi);
  return QuickTwoSum(g.hi, g.lo + f * kLn10.lo);
}

// e^g for 0 <= g < 2.31, slowly (for the tables): the Taylor series of e^(g/256),
// squared eight times.
DoubleDouble SlowExp(DoubleDouble g) {
  const DoubleDouble r = {g.hi * 0x1.0p-8, g.lo * 0x1.0p-8};  // < 0.009: 13 terms reach 2^-120
  DoubleDouble sum = {1, 0};
  for (int k = 13; k >= 1; --k) sum = Add({1, 0}, Divide(Multiply(r, sum), k));  // Horner
  for (int i = 0; i < 8; ++i) sum = Multiply(sum, sum);
  return sum;
}

struct Pow10Tables {
  std::array<DoubleDouble, 64> coarse;  // 10^(j / 64)
  std::array<DoubleDouble, 64> fine;    // 10^(k / 4096)
  std::array<DoubleDouble, 9> inverse_factorial;
};

const Pow10Tables& Tables() {
  static const Pow10Tables tables = [] {
    Pow10Tables t;
    for (int j = 0; j < 64; ++j) {
      t.coarse[static_cast<size_t>(j)] = SlowExp(TimesLn10(j / 64.0));
      t.fine[static_cast<size_t>(j)] = SlowExp(TimesLn10(j / 4096.0));
    }
    t.inverse_factorial[0] = {1, 0};
    for (size_t n = 1; n < t.inverse_factorial.size(); ++n) {
      t.inverse_factorial[n] = Divide(t.inverse_factorial[n - 1], static_cast<double>(n));
    }
    return t;
  }();
  return tables;
}

}  // namespace

double Pow10(double x) {
  // 10^x = 10^i * 10^(j/64) * 10^(k/4096) * e^(d ln 10), splitting x at the bits
  // i . jjjjjj kkkkkk ddd...; each part is exact.
  const Pow10Tables& t = Tables();
  const int i = static_cast<int>(x);
  const double scaled = (x - i) * 4096;
  const int m = static_cast<int>(scaled);
  const DoubleDouble g = TimesLn10((scaled - m) * 0x1.0p-12);  // < 0.00057
  DoubleDouble e = t.inverse_factorial[8];  // Taylor series to g^8/8!: the rest is < 2^-115
  for (int n = 7; n >= 0; --n) e = Add(t.inverse_factorial[static_cast<size_t>(n)], Multiply(g, e));
  const DoubleDouble y = Multiply(
      Multiply(Multiply(t.coarse[static_cast<size_t>(m >> 6)], t.fine[static_cast<size_t>(m & 63)]), e),
      kPowersOf10[static_cast<size_t>(i)]);
  return y.hi + y.lo;  // hi is already the nearest double to hi + lo; kept explicit
}

namespace {

// Math.round(p * 100): the cents, halves rounded up.
int64_t RoundCents(double p) {
  const double cents = p * 100.0;
  const double whole = std::floor(cents);
  return static_cast<int64_t>(whole) + (cents - whole >= 0.5 ? 1 : 0);
}

}  // namespace

int64_t PriceFromUniform(double u) {
  // As Beam: x = u * 6 and the cents 10^x * 100 are each one rounded double
  // operation; Math.round then rounds halves up. glibc's pow is within 1 ulp of
  // 10^x (the correctly rounded value is then at most 1 ulp away): when the
  // doubles 2 ulp either side give the same cents, so does the exact 10^x, and the
  // slow exact Pow10 is needed only near a half cent (about 1 event in 10^6).
  const double x = u * 6.0;
  const double fast = std::pow(10.0, x);
  const int64_t cents = RoundCents(fast);
  const double below = std::nextafter(std::nextafter(fast, 0.0), 0.0);
  const double above = std::nextafter(std::nextafter(fast, 1e300), 1e300);
  if (RoundCents(below) == cents && RoundCents(above) == cents) return cents;
  return RoundCents(Pow10(x));
}

// ---------------------------------------------------------------------------
// The Nexmark model. Constants are Beam's NexmarkConfiguration defaults.

namespace {

constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kFirstCategoryId = 10;
constexpr int32_t kNumCategories = 5;
// Out of every 50 consecutive event ids: 1 person, then 3 auctions, then 46 bids.
constexpr int64_t kPersonProportion = 1;
constexpr int64_t kAuctionProportion = 3;
constexpr int64_t kProportionDenominator = 50;
constexpr int64_t kNumActivePeople = 1000;
constexpr int64_t kNumInFlightAuctions = 100;
constexpr int64_t kPersonIdLead = 10;   // ids of people not created yet that may be drawn
constexpr int64_t kAuctionIdLead = 10;  // the same for auctions
// A bid is for the hot auction with probability 1 - 1/kHotAuctionRatio, by a hot
// bidder with 1 - 1/kHotBiddersRatio; an auction is by a hot seller with 1 - 1/kHotSellersRatio.
constexpr int32_t kHotAuctionRatio = 2;
constexpr int32_t kHotSellersRatio = 4;
constexpr int32_t kHotBiddersRatio = 4;
// One hot auction / seller / bidder per block of this many auctions / people.
constexpr int64_t kHotBlock = 100;
constexpr int kAvgPersonByteSize = 200;
constexpr int kAvgAuctionByteSize = 500;
constexpr int kAvgBidByteSize = 100;

constexpr std::array<std::string_view, 6> kUsStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::array<std::string_view, 10> kUsCities = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                                        "Portland", "Bend",        "Redmond",       "Seattle",
                                                        "Kent",     "Cheyenne"};
constexpr std::array<std::string_view, 11> kFirstNames = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::array<std::string_view, 9> kLastNames = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                                        "Walton", "Smith",  "Jones",   "Noris"};

// Flink Nexmark's bid channels: half the bids come from four hot channels, the rest
// from "channel-0" .. "channel-9999".
constexpr std::array<std::string_view, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};
constexpr int32_t kHotChannelsRatio = 2;
constexpr int32_t kNumChannels = 10000;
// Seeds each channel's own Random (for its URL), apart from any event's seed.
constexpr uint64_t kChannelSeed = 0x6368616E6E656C00ULL;  // "channel\0"

template <size_t N>
std::string_view Pick(const std::array<std::string_view, N>& choices, JavaRandom* random) {
  return choices[static_cast<size_t>(random->NextInt(static_cast<int32_t>(N)))];
}

// Beam's LongGenerator.nextLong: uniform in [0, n), n > 0 (skewed beyond 2^31).
int64_t NextLong(JavaRandom* random, int64_t n) {
  if (n < INT32_MAX) return random->NextInt(static_cast<int32_t>(n));
  return std::abs(random->NextLong() % n);
}

// The id (base 0) of the last person created up to event `event_id`, inclusive.
int64_t LastBase0PersonId(int64_t event_id) {
  const int64_t epoch = event_id / kProportionDenominator;
  const int64_t offset = std::min(event_id % kProportionDenominator, kPersonProportion - 1);
  return epoch * kPersonProportion + offset;
}

// The id (base 0) of the last auction created up to event `event_id`, inclusive.
int64_t LastBase0AuctionId(int64_t event_id) {
  int64_t epoch = event_id / kProportionDenominator;
  int64_t offset = event_id % kProportionDenominator;
  if (offset < kPersonProportion) {  // a person: the last auction of the previous epoch
    --epoch;
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {  // a bid: this epoch's last
    offset = kAuctionProportion - 1;
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

// One of the last kNumActivePeople people, or of the next kPersonIdLead to come.
int64_t NextBase0PersonId(int64_t event_id, JavaRandom* random) {
  const int64_t num_people = LastBase0PersonId(event_id) + 1;
  const int64_t active_people = std::min(num_people, kNumActivePeople);
  return num_people - active_people + NextLong(random, active_people + kPersonIdLead);
}

// One of the last kNumInFlightAuctions + 1 auctions, or of the next kAuctionIdLead to come.
int64_t NextBase0AuctionId(int64_t event_id, JavaRandom* random) {
  const int64_t max_auction = LastBase0AuctionId(event_id);
  const int64_t min_auction = std::max<int64_t>(max_auction - kNumInFlightAuctions, 0);
  return min_auction + NextLong(random, max_auction - min_auction + 1 + kAuctionIdLead);
}

// Beam's nextString: 3 .. max_length - 1 characters, each `special` with
// probability 1/13, else a lowercase letter; then trimmed of spaces (Java's trim).
void NextString(JavaRandom* random, int32_t max_length, char special, std::string* out) {
  out->clear();
  for (int32_t n = 3 + random->NextInt(max_length - 3); n > 0; --n) {
    out->push_back(random->NextInt(13) == 0 ? special : static_cast<char>('a' + random->NextInt(26)));
  }
  const size_t begin = out->find_first_not_of(' ');
  if (begin == std::string::npos) {
    out->clear();
    return;
  }
  out->erase(out->find_last_not_of(' ') + 1);
  out->erase(0, begin);
}

// Beam's nextExactString: six characters per NextInt(). Java's % keeps the sign, so
// a negative draw gives 'H' .. '`' (including '\\') rather than letters, as in Beam.
void NextExactString(JavaRandom* random, int32_t length, std::string* out) {
  const size_t at = out->size();
  out->resize(at + static_cast<size_t>(std::max(length, 0)));
  char* p = out->data() + at;
  while (length > 0) {
    int32_t rnd = random->NextInt();
    for (int k = 0; k < 6 && length > 0; ++k, --length) {
      *p++ = static_cast<char>('a' + rnd % 26);
      rnd /= 26;
    }
  }
}

// Beam's nextExtra: padding so that current_size plus its length averages
// desired_average, uniform within +-20%.
void NextExtra(JavaRandom* random, int current_size, int desired_average, std::string* out) {
  out->clear();
  if (current_size > desired_average) return;
  const int target = desired_average - current_size;
  const int delta = (2 * target + 5) / 10;  // Java's Math.round(target * 0.2), exactly
  const int length = target - delta + (delta == 0 ? 0 : random->NextInt(2 * delta));
  NextExactString(random, length, out);
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// ,"key":
void AppendKey(std::string_view key, std::string* out) {
  out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

void AppendIntField(std::string_view key, int64_t v, std::string* out) {
  AppendKey(key, out);
  AppendInt(v, out);
}

void AppendStringField(std::string_view key, std::string_view v, std::string* out) {
  AppendKey(key, out);
  AppendJsonString(v, out);
}

// Flink's channel URL: "https://www.nexmark.com/<s>/<s>/<s>/item.htm?query=1", each
// <s> nextString(5, '_'); numbered channels add "&channel_id=<|reverse bits|>" with
// probability 9/10. Flink draws these once per channel from an unseeded Random;
// here channel `number` always gets the same URL, from its own Random (the hot
// channels' seeds have bit 40 set).
void AppendChannelUrl(int32_t number, bool hot, std::string* part, std::string* url, std::string* out) {
  JavaRandom random(
      static_cast<int64_t>(kChannelSeed ^ (hot ? uint64_t{1} << 40 : 0) ^ static_cast<uint64_t>(number)));
  url->assign("https://www.nexmark.com/");
  for (int i = 0; i < 3; ++i) {
    NextString(&random, 5, '_', part);
    url->append(*part);
    url->push_back('/');
  }
  url->append("item.htm?query=1");
  if (!hot && random.NextInt(10) > 0) {
    // Integer.reverse, then Math.abs, which leaves INT_MIN (channel 1) negative.
    uint32_t bits = static_cast<uint32_t>(number), reversed = 0;
    for (int i = 0; i < 32; ++i, bits >>= 1) reversed = (reversed << 1) | (bits & 1);
    const int32_t r = static_cast<int32_t>(reversed);
    url->append("&channel_id=");
    AppendInt(r == INT32_MIN ? r : std::abs(r), url);
  }
  AppendJsonString(*url, out);
}

}  // namespace

EventWriter::EventWriter(uint64_t seed) : salt_((seed - 1) * 0x9E3779B97F4A7C15ULL) {}

void EventWriter::Append(int64_t event_id, int64_t ts, int64_t horizon_ms, std::string* out) {
  // Beam seeds each event's Random with its id; other seeds change every event.
  JavaRandom random(static_cast<int64_t>(static_cast<uint64_t>(event_id) ^ salt_));
  const int64_t rem = event_id % kProportionDenominator;
  const int type = rem < kPersonProportion ? 0 : rem < kPersonProportion + kAuctionProportion ? 1 : 2;
  out->append("{\"event_type\":");
  AppendInt(type, out);
  AppendIntField("ts", ts, out);
  out->append(",\"person\":");
  if (type == 0) {
    AppendPerson(event_id, &random, ts, out);
  } else {
    out->append("null");
  }
  out->append(",\"auction\":");
  if (type == 1) {
    AppendAuction(event_id, &random, ts, horizon_ms, out);
  } else {
    out->append("null");
  }
  out->append(",\"bid\":");
  if (type == 2) {
    AppendBid(event_id, &random, ts, out);
  } else {
    out->append("null");
  }
  out->push_back('}');
}

// The draws below are in Beam's order; fields are written in Flink's column order.

void EventWriter::AppendPerson(int64_t event_id, JavaRandom* random, int64_t ts, std::string* out) {
  out->append("{\"id\":");
  AppendInt(LastBase0PersonId(event_id) + kFirstPersonId, out);
  int size = 8;

  name_.assign(Pick(kFirstNames, random));
  name_.push_back(' ');
  name_.append(Pick(kLastNames, random));
  AppendStringField("name", name_, out);
  size += static_cast<int>(name_.size());

  NextString(random, 7, ' ', &part_);
  text_.assign(part_);
  text_.push_back('@');
  NextString(random, 5, ' ', &part_);
  text_.append(part_);
  text_.append(".com");
  AppendStringField("emailAddress", text_, out);
  size += static_cast<int>(text_.size());

  text_.clear();
  for (int i = 0; i < 4; ++i) {
    const int32_t group = random->NextInt(10000);  // "%04d"
    if (i > 0) text_.push_back(' ');
    for (int32_t d = 1000; d > 0; d /= 10) text_.push_back(static_cast<char>('0' + group / d % 10));
  }
  AppendStringField("creditCard", text_, out);
  size += static_cast<int>(text_.size());

  const std::string_view city = Pick(kUsCities, random);
  const std::string_view state = Pick(kUsStates, random);
  AppendStringField("city", city, out);
  AppendStringField("state", state, out);
  size += static_cast<int>(city.size() + state.size());

  AppendIntField("dateTime", ts, out);
  NextExtra(random, size, kAvgPersonByteSize, &extra_);
  AppendStringField("extra", extra_, out);
  out->push_back('}');
}

void EventWriter::AppendAuction(int64_t event_id, JavaRandom* random, int64_t ts, int64_t horizon_ms,
                                std::string* out) {
  int64_t seller;
  if (random->NextInt(kHotSellersRatio) > 0) {
    seller = LastBase0PersonId(event_id) / kHotBlock * kHotBlock;
  } else {
    seller = NextBase0PersonId(event_id, random);
  }
  const int64_t category = kFirstCategoryId + random->NextInt(kNumCategories);
  const int64_t initial_bid = PriceFromUniform(random->NextDouble());
  const int64_t expires = ts + 1 + NextLong(random, std::max<int64_t>(horizon_ms * 2, 1));
  NextString(random, 20, ' ', &name_);
  NextString(random, 100, ' ', &description_);
  const int64_t reserve = initial_bid + PriceFromUniform(random->NextDouble());
  // Beam counts 8 bytes for the id, each number and each time.
  const int size = 8 + static_cast<int>(name_.size() + description_.size()) + 8 * 5;
  NextExtra(random, size, kAvgAuctionByteSize, &extra_);

  out->append("{\"id\":");
  AppendInt(LastBase0AuctionId(event_id) + kFirstAuctionId, out);
  AppendStringField("itemName", name_, out);
  AppendStringField("description", description_, out);
  AppendIntField("initialBid", initial_bid, out);
  AppendIntField("reserve", reserve, out);
  AppendIntField("dateTime", ts, out);
  AppendIntField("expires", expires, out);
  AppendIntField("seller", seller + kFirstPersonId, out);
  AppendIntField("category", category, out);
  AppendStringField("extra", extra_, out);
  out->push_back('}');
}

const std::string& EventWriter::ChannelFields(int32_t channel, bool hot) {
  const size_t index =
      hot ? static_cast<size_t>(channel) : kHotChannels.size() + static_cast<size_t>(channel);
  if (channel_fields_.size() <= index) channel_fields_.resize(kHotChannels.size() + kNumChannels);
  std::string& fields = channel_fields_[index];
  if (!fields.empty()) return fields;
  AppendKey("channel", &fields);
  if (hot) {
    AppendJsonString(kHotChannels[static_cast<size_t>(channel)], &fields);
  } else {
    text_.assign("channel-");
    AppendInt(channel, &text_);
    AppendJsonString(text_, &fields);
  }
  AppendKey("url", &fields);
  AppendChannelUrl(channel, hot, &part_, &text_, &fields);
  return fields;
}

void EventWriter::AppendBid(int64_t event_id, JavaRandom* random, int64_t ts, std::string* out) {
  int64_t auction;
  if (random->NextInt(kHotAuctionRatio) > 0) {
    auction = LastBase0AuctionId(event_id) / kHotBlock * kHotBlock;
  } else {
    auction = NextBase0AuctionId(event_id, random);
  }
  int64_t bidder;
  if (random->NextInt(kHotBiddersRatio) > 0) {
    // + 1: the hot bidder is not the hot seller. (Flink adds kFirstPersonId twice; Beam once.)
    bidder = LastBase0PersonId(event_id) / kHotBlock * kHotBlock + 1;
  } else {
    bidder = NextBase0PersonId(event_id, random);
  }
  const int64_t price = PriceFromUniform(random->NextDouble());
  NextExtra(random, 8 * 4, kAvgBidByteSize, &extra_);
  // Flink's additions come last, so Beam's fields stay Beam's.
  const bool hot_channel = random->NextInt(kHotChannelsRatio) > 0;
  const int32_t channel = hot_channel ? random->NextInt(static_cast<int32_t>(kHotChannels.size()))
                                      : random->NextInt(kNumChannels);

  out->append("{\"auction\":");
  AppendInt(auction + kFirstAuctionId, out);
  AppendIntField("bidder", bidder + kFirstPersonId, out);
  AppendIntField("price", price, out);
  out->append(ChannelFields(channel, hot_channel));
  AppendIntField("dateTime", ts, out);
  AppendStringField("extra", extra_, out);
  out->push_back('}');
}

}  // namespace streamrun::generate::nexmark
