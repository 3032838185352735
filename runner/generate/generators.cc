#include "runner/generate/generators.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <queue>
#include <string_view>

#include "runner/generate/nexmark.h"
#include "runner/record/json_writer.h"

namespace streamrun::generate {
namespace {

// ---------------------------------------------------------------------------
// Randomness. Only integer operations and single, correctly rounded floating
// operations (no transcendental functions, no a*b+c that a compiler could fuse),
// so the output is the same with any compiler, standard library and CPU.

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A stateless hash of (seed, x): per-user / per-card attributes without storing them.
uint64_t Mix(uint64_t seed, uint64_t x) {
  uint64_t s = seed ^ (x * 0xD6E8FEB86659FD93ULL);
  return SplitMix64(&s);
}

// xoshiro256**, seeded by splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = SplitMix64(&seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n), n > 0 (modulo bias is below 1e-12 for our n).
  uint64_t Below(uint64_t n) { return Next() % n; }
  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // True with probability p: a 53-bit uniform in [0, 1) (exact) compared with p.
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Picks an index with probability proportional to integer weights.
class Weighted {
 public:
  explicit Weighted(const std::vector<uint32_t>& weights) {
    uint64_t sum = 0;
    for (uint32_t w : weights) cumulative_.push_back(sum += w);
  }
  size_t FromBits(uint64_t bits) const {
    uint64_t r = bits % cumulative_.back();
    return static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), r) -
                               cumulative_.begin());
  }
  size_t Pick(Rng* rng) const { return FromBits(rng->Next()); }
  size_t size() const { return cumulative_.size(); }

 private:
  std::vector<uint64_t> cumulative_;
};

// Zipf-like weights (s = 1): rank k gets 1/(k+1) of the top weight.
std::vector<uint32_t> ZipfWeights(size_t n) {
  std::vector<uint32_t> w;
  for (size_t k = 0; k < n; ++k) w.push_back(static_cast<uint32_t>(1000000 / (k + 1)));
  return w;
}

// ---------------------------------------------------------------------------
// Writing.

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// 1234 -> 12.34 (cents >= 0).
void AppendCents(int64_t cents, std::string* out) {
  AppendInt(cents / 100, out);
  int64_t c = cents % 100;
  out->push_back('.');
  out->push_back(static_cast<char>('0' + c / 10));
  out->push_back(static_cast<char>('0' + c % 10));
}

// "u123": a prefixed id as a JSON string.
void AppendId(char prefix, uint64_t id, std::string* out) {
  char buf[24];
  buf[0] = prefix;
  auto r = std::to_chars(buf + 1, buf + sizeof buf, id);
  AppendJsonString(std::string_view(buf, static_cast<size_t>(r.ptr - buf)), out);
}

// ---------------------------------------------------------------------------
// Shared tables.

constexpr const char* kCountries[] = {"US", "GB", "DE", "FR", "ES", "IT", "NL", "SE",
                                      "PL", "CA", "BR", "MX", "JP", "IN", "AU"};
constexpr size_t kNumCountries = sizeof kCountries / sizeof kCountries[0];
const std::vector<uint32_t> kCountryWeights = {30, 12, 10, 8, 6, 6, 4, 3, 3, 5, 4, 3, 3, 2, 1};

// Any country other than `home`, uniformly.
size_t OtherCountry(size_t home, Rng* rng) {
  size_t c = rng->Below(kNumCountries - 1);
  return c >= home ? c + 1 : c;
}

// ---------------------------------------------------------------------------
// The common part: event count, in-order event time, disorder.

class GeneratorBase : public Generator {
 public:
  explicit GeneratorBase(const Options& o)
      : options_(o), rng_(o.seed), disorder_(Mix(o.seed, 0x0D150DE5ULL)) {}

  bool Next(std::string* out, int64_t* event_time) final {
    while (true) {
      if (options_.count >= 0 && number_ >= options_.count) return false;
      const int64_t t = InOrderTime(number_);
      int64_t ts = t;
      // A separate stream, so disorder changes only the times, not the events.
      if (options_.out_of_order_fraction > 0 && disorder_.Chance(options_.out_of_order_fraction)) {
        ts = std::max(options_.start_ms, t - disorder_.Range(1, options_.max_delay_ms));
      }
      if (number_ % options_.partitions == options_.partition) {
        Emit(t, ts, out);
        ++number_;
        *event_time = ts;
        return true;
      }
      // Another partition's event: generators whose events depend only on
      // their number skip it; the others make it (their state moves on) and drop it.
      if (!independent_events()) {
        skipped_.clear();
        Emit(t, ts, &skipped_);
      }
      ++number_;
    }
  }

 protected:
  // The in-order event time of event number n (0 for the first).
  int64_t InOrderTime(int64_t n) const {
    double offset = std::floor(static_cast<double>(n) * 1000.0 / options_.events_per_second);
    if (offset > 4e18) offset = 4e18;
    return options_.start_ms + static_cast<int64_t>(offset);
  }

  // Appends the event whose in-order time is `t`; `ts` is the time to write.
  virtual void Emit(int64_t t, int64_t ts, std::string* out) = 0;

  // The number of the event being emitted (0 for the first).
  int64_t number() const { return number_; }
  // True if an event depends only on its number (not on the events before).
  virtual bool independent_events() const { return false; }

  static void AppendTs(int64_t ts, std::string* out) {
    out->append(",\"ts\":");
    AppendInt(ts, out);
    out->push_back('}');
  }

  Options options_;
  Rng rng_;

 private:
  Rng disorder_;
  int64_t number_ = 0;
  std::string skipped_;
};

// ---------------------------------------------------------------------------
// clicks: {"user_id":"u42","page_url":"/","referrer":"google","ts":...}

class Clicks final : public GeneratorBase {
 public:
  explicit Clicks(const Options& o)
      : GeneratorBase(o), pages_(ZipfWeights(kPages.size())), referrers_({35, 25, 10, 10, 20}) {}

 protected:
  void Emit(int64_t t, int64_t ts, std::string* out) override {
    // Mildly skewed: 30% of clicks come from the first 1,000 of 10,000 users.
    uint64_t user = 1 + (rng_.Chance(0.3) ? rng_.Below(1000) : rng_.Below(10000));
    out->append("{\"user_id\":");
    AppendId('u', user, out);
    out->append(",\"page_url\":");
    AppendJsonString(kPages[pages_.Pick(&rng_)], out);
    out->append(",\"referrer\":");
    const char* referrer = kReferrers[referrers_.Pick(&rng_)];
    if (referrer) {
      AppendJsonString(referrer, out);
    } else {
      out->append("null");
    }
    AppendTs(ts, out);
  }

 private:
  static constexpr std::array<const char*, 50> kPages = {"/",
                                                         "/products",
                                                         "/search",
                                                         "/cart",
                                                         "/product/p1",
                                                         "/product/p2",
                                                         "/deals",
                                                         "/product/p3",
                                                         "/checkout",
                                                         "/product/p4",
                                                         "/category/shoes",
                                                         "/product/p5",
                                                         "/category/shirts",
                                                         "/login",
                                                         "/product/p6",
                                                         "/category/jackets",
                                                         "/product/p7",
                                                         "/account",
                                                         "/product/p8",
                                                         "/blog",
                                                         "/product/p9",
                                                         "/category/bags",
                                                         "/product/p10",
                                                         "/help",
                                                         "/product/p11",
                                                         "/category/hats",
                                                         "/product/p12",
                                                         "/blog/spring-sale",
                                                         "/product/p13",
                                                         "/orders",
                                                         "/product/p14",
                                                         "/category/socks",
                                                         "/product/p15",
                                                         "/wishlist",
                                                         "/product/p16",
                                                         "/blog/size-guide",
                                                         "/product/p17",
                                                         "/stores",
                                                         "/product/p18",
                                                         "/about",
                                                         "/product/p19",
                                                         "/contact",
                                                         "/product/p20",
                                                         "/careers",
                                                         "/product/p21",
                                                         "/returns",
                                                         "/product/p22",
                                                         "/privacy",
                                                         "/product/p23",
                                                         "/terms"};
  static constexpr const char* kReferrers[] = {"google", "direct", "newsletter", "twitter", nullptr};
  Weighted pages_;
  Weighted referrers_;
};

// ---------------------------------------------------------------------------
// cart: {"user_id":"u7","action":"add_to_cart","cart_value":23.99,"country":"DE","ts":...}
//
// Event i (at its in-order time t) goes to the active session that is due
// earliest, if one is due by t; otherwise a new session starts. A session is a
// view, then views / add_to_cart / purchase 2 s to 3 min apart; a purchase ends
// it. A session that would wait more than 25 min for its next event (only at
// very low rates) is abandoned, so gaps inside a session are always < 30 min.
// A user starts a new session only more than 30 min (plus up to 2 h) after the
// last event of their previous one: a user's sessions are split by gaps > 30 min.

class Cart final : public GeneratorBase {
 public:
  explicit Cart(const Options& o) : GeneratorBase(o), countries_(kCountryWeights) {}

 protected:
  void Emit(int64_t t, int64_t ts, std::string* out) override {
    while (!active_.empty() && active_.top().due <= t) {
      Session s = active_.top();
      active_.pop();
      if (t - s.last > kMaxInSessionGapMs) {
        Retire(s.user, s.last);
        continue;
      }
      Step(&s, false, t, ts, out);
      return;
    }
    Session s;
    if (!idle_.empty() && idle_.top().eligible <= t) {
      s.user = idle_.top().user;
      idle_.pop();
    } else {
      s.user = next_user_++;
    }
    const size_t home = countries_.FromBits(Mix(options_.seed, s.user));
    s.country = static_cast<uint8_t>(rng_.Chance(0.9) ? home : OtherCountry(home, &rng_));
    s.left = 1 + static_cast<int32_t>(rng_.Below(8));
    Step(&s, true, t, ts, out);
  }

 private:
  static constexpr int64_t kSessionGapMs = 30 * 60 * 1000;
  static constexpr int64_t kMaxInSessionGapMs = 25 * 60 * 1000;

  struct Session {
    int64_t due = 0;
    uint64_t seq = 0;  // tie-break: a strict order gives the same heap on any standard library
    int64_t last = 0;
    int64_t cart_cents = 0;
    uint32_t user = 0;
    int32_t left = 0;
    uint8_t country = 0;
    bool added = false;
  };
  struct DueLater {
    bool operator()(const Session& a, const Session& b) const {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };
  struct Idle {
    int64_t eligible;
    uint32_t user;
  };
  struct EligibleLater {
    bool operator()(const Idle& a, const Idle& b) const {
      return a.eligible != b.eligible ? a.eligible > b.eligible : a.user > b.user;
    }
  };

  void Step(Session* s, bool first, int64_t t, int64_t ts, std::string* out) {
    enum { kView, kAdd, kPurchase } action = kView;
    if (!first) {
      uint64_t r = rng_.Below(100);
      if (s->added) {
        action = r < 45 ? kView : r < 70 ? kAdd : kPurchase;
      } else {
        action = r < 70 ? kView : kAdd;
      }
    }
    int64_t value = 0;
    if (action == kAdd) {
      // Item prices: mostly 5-50, some 50-200, a few 200-1000.
      uint64_t r = rng_.Below(100);
      value = r < 70 ? rng_.Range(499, 4999) : r < 95 ? rng_.Range(5000, 19999) : rng_.Range(20000, 99999);
      s->cart_cents += value;
      s->added = true;
    } else if (action == kPurchase) {
      value = s->cart_cents;
    }
    static constexpr const char* kActions[] = {"view", "add_to_cart", "purchase"};
    out->append("{\"user_id\":");
    AppendId('u', s->user, out);
    out->append(",\"action\":");
    AppendJsonString(kActions[action], out);
    out->append(",\"cart_value\":");
    AppendCents(value, out);
    out->append(",\"country\":");
    AppendJsonString(kCountries[s->country], out);
    AppendTs(ts, out);

    s->last = t;
    if (action == kPurchase || --s->left <= 0) {
      Retire(s->user, t);
      return;
    }
    // Next event of the session: mostly seconds, sometimes minutes later.
    s->due = t + (rng_.Chance(0.7) ? rng_.Range(2000, 30000) : rng_.Range(30000, 180000));
    s->seq = seq_++;
    active_.push(*s);
  }

  void Retire(uint32_t user, int64_t last) {
    idle_.push({last + kSessionGapMs + 1 + rng_.Range(0, 2 * 3600 * 1000), user});
  }

  Weighted countries_;
  std::priority_queue<Session, std::vector<Session>, DueLater> active_;
  std::priority_queue<Idle, std::vector<Idle>, EligibleLater> idle_;
  uint32_t next_user_ = 1;
  uint64_t seq_ = 0;
};

// ---------------------------------------------------------------------------
// transactions: {"card_id":"c123","amount":42.10,"merchant":"...","country":"US",
//                "fraud_pattern":false,"ts":...}
//
// About 1% of events have fraud_pattern true: either one very large amount
// (2,500-10,000), or a burst of 3-5 transactions on one card, each in a different
// country, 2-12 s apart in event time. Bursts overlap each other and interleave
// with normal traffic; a burst falls within a minute whenever events are at most
// ~12 s apart (at lower rates its transactions are consecutive events).

class Transactions final : public GeneratorBase {
 public:
  explicit Transactions(const Options& o)
      : GeneratorBase(o),
        countries_(kCountryWeights),
        merchants_(ZipfWeights(kMerchants.size())),
        amount_buckets_({30, 30, 22, 12, 5, 1}) {}

 protected:
  void Emit(int64_t t, int64_t ts, std::string* out) override {
    // The next event of a pending burst that is due, if any (earliest first).
    size_t due = bursts_.size();
    for (size_t i = 0; i < bursts_.size(); ++i) {
      if (bursts_[i].next <= t && (due == bursts_.size() || bursts_[i].next < bursts_[due].next)) due = i;
    }
    if (due < bursts_.size()) {
      Burst& b = bursts_[due];
      size_t country = 0;
      do {
        country = rng_.Below(kNumCountries);
      } while (b.countries & (1u << country));
      b.countries |= 1u << country;
      Write(b.card, NormalAmount(), country, true, ts, out);
      if (--b.left > 0) {
        b.next = t + rng_.Range(2000, 12000);
      } else {
        bursts_[due] = bursts_.back();
        bursts_.pop_back();
      }
      return;
    }
    const uint64_t card = 1 + rng_.Below(kCards);
    const size_t home = countries_.FromBits(Mix(options_.seed, card));
    if (rng_.Chance(0.004)) {
      if (rng_.Chance(0.5)) {
        Write(card, rng_.Range(250000, 999999), home, true, ts, out);
      } else {
        // 3-5 transactions in all: this one in the home country, the rest elsewhere.
        bursts_.push_back(
            {card, 2 + static_cast<int>(rng_.Below(3)), t + rng_.Range(2000, 12000), 1u << home});
        Write(card, NormalAmount(), home, true, ts, out);
      }
      return;
    }
    const size_t country = rng_.Chance(0.97) ? home : OtherCountry(home, &rng_);
    Write(card, NormalAmount(), country, false, ts, out);
  }

 private:
  struct Burst {
    uint64_t card;
    int left;            // transactions still to come
    int64_t next;        // in-order event time of the next one
    uint32_t countries;  // bit mask of the countries used so far
  };

  static constexpr uint64_t kCards = 50000;
  static constexpr std::array<const char*, 30> kMerchants = {
      "Amazon", "Walmart",   "Starbucks",   "Shell",     "Uber",    "Netflix", "Target",    "McDonald's",
      "Apple",  "Spotify",   "IKEA",        "Costco",    "Lidl",    "Aldi",    "Tesco",     "Zara",
      "H&M",    "Airbnb",    "Booking.com", "Steam",     "eBay",    "Etsy",    "Deliveroo", "Subway",
      "BP",     "Decathlon", "MediaMarkt",  "Carrefour", "Ryanair", "Nike"};

  // Log-normal-ish (piecewise log-uniform): most 1-80, a tail up to 2,000.
  int64_t NormalAmount() {
    static constexpr int64_t kBounds[][2] = {{100, 999},    {1000, 2999},   {3000, 7999},
                                             {8000, 24999}, {25000, 99999}, {100000, 199999}};
    const auto& b = kBounds[amount_buckets_.Pick(&rng_)];
    return rng_.Range(b[0], b[1]);
  }

  void Write(uint64_t card, int64_t cents, size_t country, bool fraud, int64_t ts, std::string* out) {
    out->append("{\"card_id\":");
    AppendId('c', card, out);
    out->append(",\"amount\":");
    AppendCents(cents, out);
    out->append(",\"merchant\":");
    AppendJsonString(kMerchants[merchants_.Pick(&rng_)], out);
    out->append(",\"country\":");
    AppendJsonString(kCountries[country], out);
    out->append(fraud ? ",\"fraud_pattern\":true" : ",\"fraud_pattern\":false");
    AppendTs(ts, out);
  }

  Weighted countries_;
  Weighted merchants_;
  Weighted amount_buckets_;
  std::vector<Burst> bursts_;  // pending bursts (several overlap at high rates)
};

// ---------------------------------------------------------------------------
// nexmark: the Nexmark benchmark's person, auction and bid events as Beam's
// generator makes them (nexmark.h); event i has event id i.

class Nexmark final : public GeneratorBase {
 public:
  explicit Nexmark(const Options& o) : GeneratorBase(o), events_(o.seed) {}

 protected:
  // Each event has its own Random seeded by its id (Beam's design).
  bool independent_events() const override { return true; }

  // In-order times are Beam's (baseTime + eventNumber * interEventDelayUs / 1000)
  // whenever 1e6 / events_per_second is a whole number of microseconds.
  void Emit(int64_t t, int64_t ts, std::string* out) override {
    // From in-order times, so disorder does not change how long auctions last.
    const int64_t horizon = InOrderTime(number() + nexmark::kEventsForInFlightAuctions) - t;
    events_.Append(number(), ts, horizon, out);
  }

 private:
  nexmark::EventWriter events_;
};

}  // namespace

const std::vector<std::string>& Kinds() {
  static const std::vector<std::string> kinds = {"clicks", "cart", "transactions", "nexmark"};
  return kinds;
}

std::unique_ptr<Generator> Make(const Options& options, std::string* error) {
  auto fail = [&](std::string message) -> std::unique_ptr<Generator> {
    if (error) *error = std::move(message);
    return nullptr;
  };
  if (std::find(Kinds().begin(), Kinds().end(), options.kind) == Kinds().end()) {
    std::string names;
    for (const auto& k : Kinds()) names += (names.empty() ? "" : ", ") + k;
    return fail("unknown kind '" + options.kind + "' (" + names + ")");
  }
  if (options.count < -1) return fail("count must be -1 (unbounded) or >= 0");
  if (!(options.events_per_second > 0) || !std::isfinite(options.events_per_second)) {
    return fail("events_per_second must be a positive number");
  }
  if (options.partitions < 1 || options.partition < 0 || options.partition >= options.partitions) {
    return fail("partition must be in [0, partitions)");
  }
  if (!(options.out_of_order_fraction >= 0 && options.out_of_order_fraction <= 1)) {
    return fail("out_of_order_fraction must be between 0 and 1");
  }
  if (options.max_delay_ms < 0) return fail("max_delay_ms must be >= 0");
  if (options.out_of_order_fraction > 0 && options.max_delay_ms < 1) {
    return fail("max_delay_ms must be >= 1 when out_of_order_fraction > 0");
  }
  if (options.kind == "clicks") return std::make_unique<Clicks>(options);
  if (options.kind == "cart") return std::make_unique<Cart>(options);
  if (options.kind == "transactions") return std::make_unique<Transactions>(options);
  return std::make_unique<Nexmark>(options);
}

}  // namespace streamrun::generate
