// The fraud plugin: two keyed operators for card transactions (key_by card_id
// before them), used by pipelines/fraud.yaml.
//
// - fraud_score: a logistic model over a handful of features of each
//   transaction and its card's history (amount, amount against the card's
//   running average, a country other than the card's usual one, a transaction
//   soon after the previous one, a card with no history), with weights read
//   from a JSON file named in the configuration. Every transaction leaves with
//   `score`, `amount_ratio` and `rules` (the rules that fired: "model" when the
//   score reaches `threshold`, "amount_spike" when the amount is `spike_ratio`
//   times the card's average or more).
// - geo_velocity: flags a card seen in two countries farther apart than travel
//   at `max_kmh` allows in the time between: one row per such pair.
//
// Both judge a card's transactions in event-time order, not arrival order, so
// their results are the same at every parallelism and across restores: a
// transaction waits in map state (keyed by its event time and position) until
// the watermark passes it, then an event-time timer takes it. A card's state
// expires after `expiry` without a transaction (a timer that each new
// transaction deletes and registers again).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <streamrun/sdk.hpp>
#include <string>

namespace sdk = streamrun::sdk;

namespace {

// Timer tags.
constexpr int64_t kTagDue = 0;     // transactions up to this time are due
constexpr int64_t kTagExpire = 1;  // the card's state expires

void PutBigEndian(uint64_t v, std::string& out) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// A waiting transaction's key in the map: its event time and where it was read,
// big-endian so that the map's byte order is event-time order.
std::string OrderKey(const sr_record_meta& m) {
  std::string k;
  PutBigEndian(static_cast<uint64_t>(m.event_time) ^ (1ull << 63), k);
  PutBigEndian(static_cast<uint32_t>(m.source), k);
  PutBigEndian(static_cast<uint32_t>(m.topic), k);
  PutBigEndian(static_cast<uint32_t>(m.partition), k);
  PutBigEndian(static_cast<uint64_t>(m.offset), k);
  return k;
}

int64_t TimeOf(const std::string& order_key) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(order_key[i]);
  return static_cast<int64_t>(v ^ (1ull << 63));
}

// A waiting transaction: what the operators read of it, and its JSON text.
struct Txn {
  double amount = 0;
  std::string country;
  std::string json;
  void Encode(std::string& out) const {
    out.assign(reinterpret_cast<const char*>(&amount), sizeof amount);
    const uint32_t n = static_cast<uint32_t>(country.size());
    out.append(reinterpret_cast<const char*>(&n), sizeof n);
    out += country;
    out += json;
  }
  static Txn Decode(std::string_view b) {
    Txn t;
    uint32_t n = 0;
    if (b.size() < sizeof t.amount + sizeof n) throw std::runtime_error("fraud: damaged state");
    std::memcpy(&t.amount, b.data(), sizeof t.amount);
    std::memcpy(&n, b.data() + sizeof t.amount, sizeof n);
    b.remove_prefix(sizeof t.amount + sizeof n);
    if (b.size() < n) throw std::runtime_error("fraud: damaged state");
    t.country.assign(b.substr(0, n));
    t.json.assign(b.substr(n));
    return t;
  }
};

// Transactions of the current card in event-time order: Add them as they
// come, and Due gives those the watermark has passed, oldest first.
class EventOrder {
 public:
  void Open(sdk::Context& ctx) { waiting_ = ctx.DeclareMap<std::string, Txn>("waiting"); }
  void Add(sdk::Context& ctx, const sr_record_meta& meta, const Txn& txn) {
    waiting_.Put(OrderKey(meta), txn);
    ctx.RegisterEventTimer(meta.event_time, kTagDue);
  }
  // Calls f(time, txn) for every waiting transaction at or before `time`.
  template <typename F>
  void Due(int64_t time, F&& f) {
    while (waiting_.Size() > 0) {
      auto [key, txn] = waiting_.Entry(0);
      const int64_t t = TimeOf(key);
      if (t > time) break;
      waiting_.Remove(key);
      f(t, txn);
    }
  }

 private:
  sdk::MapState<std::string, Txn> waiting_;
};

// The card's state expires `expiry` after its last transaction.
void RenewExpiry(sdk::Context& ctx, sdk::ValueState<int64_t>& expires, int64_t time, int64_t expiry) {
  if (auto old = expires.Get()) ctx.DeleteEventTimer(*old, kTagExpire);
  expires.Put(time + expiry);
  ctx.RegisterEventTimer(time + expiry, kTagExpire);
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The transaction's JSON with more fields: `extra` is ",\"a\":1,...".
std::string WithFields(const std::string& json, const std::string& extra) {
  const size_t end = json.rfind('}');
  if (end == std::string::npos) throw std::runtime_error("fraud: a transaction is not a JSON object");
  return json.substr(0, end) + (json.find(':') == std::string::npos ? extra.substr(1) : extra) + "}";
}

// ---- fraud_score ------------------------------------------------------------------

const char* const kScoreSchema = R"schema({
  "type": "object",
  "properties": {
    "model": {"type": "string", "description": "JSON file of the model: {\"bias\": B, \"weights\": {feature: w}}; features: log_amount, amount_ratio, foreign, rapid, new_card"},
    "amount": {"type": "string", "default": "amount", "description": "The amount field"},
    "country": {"type": "string", "default": "country", "description": "The country field"},
    "threshold": {"type": "number", "default": 0.8, "description": "A score at or above it fires the rule \"model\""},
    "spike_ratio": {"type": "number", "default": 5, "description": "An amount this many times the card's average fires \"amount_spike\""},
    "min_history": {"type": "integer", "default": 3, "description": "Transactions a card needs before amount_spike applies"},
    "rapid": {"type": "string", "format": "duration", "default": "1m", "description": "A transaction this soon after the previous one is rapid"},
    "expiry": {"type": "string", "format": "duration", "default": "1d", "description": "A card's history is forgotten this long after its last transaction"}
  },
  "required": ["model"]
})schema";

struct Model {
  double bias = 0, log_amount = 0, amount_ratio = 0, foreign = 0, rapid = 0, new_card = 0;
};

Model ReadModel(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the model file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  const sdk::Json j = sdk::Json::Parse(text.str());
  if (!j.IsObject() || !j["weights"].IsObject())
    throw std::runtime_error("the model file '" + path + "' needs {\"bias\": B, \"weights\": {...}}");
  Model m;
  m.bias = j["bias"].Number();
  for (const auto& [name, w] : j["weights"].Items()) {
    double* slot = name == "log_amount"     ? &m.log_amount
                   : name == "amount_ratio" ? &m.amount_ratio
                   : name == "foreign"      ? &m.foreign
                   : name == "rapid"        ? &m.rapid
                   : name == "new_card"     ? &m.new_card
                                            : nullptr;
    if (!slot)
      throw std::runtime_error("the model file '" + path + "' has an unknown feature '" + name + "'");
    *slot = w.Number();
  }
  return m;
}

// A card's history.
struct CardHistory {
  int64_t count = 0;
  double mean = 0;      // running average amount
  int64_t last_ts = 0;  // event time of the last transaction
  char home[8] = {};    // the country of its first transaction
};

class FraudScore : public sdk::Operator {
 public:
  FraudScore(const sdk::Json& config, sdk::Context& ctx)
      : model_(ReadModel(config["model"].Str())),
        threshold_(config["threshold"].Number()),
        spike_ratio_(config["spike_ratio"].Number()),
        min_history_(config["min_history"].Int()),
        rapid_ms_(config["rapid"].Int()),
        expiry_ms_(config["expiry"].Int()) {
    if (spike_ratio_ <= 1) throw std::runtime_error("spike_ratio must be more than 1");
    if (expiry_ms_ <= 0) throw std::runtime_error("expiry must be positive");
    amount_ = ctx.DeclareField(config["amount"].Str());
    country_ = ctx.DeclareField(config["country"].Str());
  }

  void Open(sdk::Context& ctx) override {
    order_.Open(ctx);
    history_ = ctx.DeclareValue<CardHistory>("history");
    expires_ = ctx.DeclareValue<int64_t>("expires");
  }

  void ProcessRecord(sdk::Record& r, sdk::Context& ctx) override {
    const sdk::Value amount = r[amount_];
    if (!amount.IsNumber()) throw std::runtime_error("amount is not a number");
    if (amount.AsDouble() < 0) throw std::runtime_error("amount is negative");
    const sdk::Value country = r[country_];
    if (!country.IsString()) throw std::runtime_error("country is not a string");
    Txn t;
    t.amount = amount.AsDouble();
    t.country.assign(country.Str());
    t.json.assign(r.Json());
    order_.Add(ctx, r.Meta(), t);
  }

  void OnTimer(const sdk::Timer& timer, sdk::Context& ctx) override {
    if (timer.tag == kTagExpire) {
      history_.Clear();
      expires_.Clear();
      return;
    }
    order_.Due(timer.time, [&](int64_t time, const Txn& t) { Score(ctx, time, t); });
  }

 private:
  void Score(sdk::Context& ctx, int64_t time, const Txn& t) {
    CardHistory h = history_.Get().value_or(CardHistory{});
    const bool has_history = h.count > 0;
    const double ratio = has_history ? t.amount / std::max(h.mean, 1.0) : 1.0;
    const bool foreign = has_history && t.country != h.home;
    const bool rapid = has_history && time - h.last_ts < rapid_ms_;
    const double z = model_.bias + model_.log_amount * std::log1p(t.amount) +
                     model_.amount_ratio * std::min(ratio, 50.0) + model_.foreign * foreign +
                     model_.rapid * rapid + model_.new_card * !has_history;
    const double score = 1.0 / (1.0 + std::exp(-z));
    std::string rules;
    if (score >= threshold_) rules += "\"model\"";
    if (h.count >= min_history_ && ratio >= spike_ratio_)
      rules += std::string(rules.empty() ? "" : ",") + "\"amount_spike\"";
    ctx.EmitJson(WithFields(t.json, ",\"score\":" + Fixed(score, 4) + ",\"amount_ratio\":" + Fixed(ratio, 2) +
                                        ",\"rules\":[" + rules + "]"),
                 time);
    if (!has_history) std::snprintf(h.home, sizeof h.home, "%s", t.country.c_str());
    h.count += 1;
    h.mean += (t.amount - h.mean) / static_cast<double>(h.count);
    h.last_ts = std::max(h.last_ts, time);
    history_.Put(h);
    RenewExpiry(ctx, expires_, h.last_ts, expiry_ms_);
    ctx.Count("transactions_scored");
  }

  Model model_;
  double threshold_, spike_ratio_;
  int64_t min_history_, rapid_ms_, expiry_ms_;
  sdk::FieldRef amount_, country_;
  EventOrder order_;
  sdk::ValueState<CardHistory> history_;
  sdk::ValueState<int64_t> expires_;
};

// ---- geo_velocity -------------------------------------------------------------------

const char* const kVelocitySchema = R"schema({
  "type": "object",
  "properties": {
    "country": {"type": "string", "default": "country", "description": "The field with an ISO country code"},
    "max_kmh": {"type": "number", "default": 900, "description": "The fastest travel believed (km/h)"},
    "expiry": {"type": "string", "format": "duration", "default": "1d", "description": "A card's last place is forgotten this long after its last transaction"}
  }
})schema";

struct Place {
  const char* code;
  double lat, lon;
};
// Countries by their centre (the generator's countries, and a few more).
constexpr Place kPlaces[] = {
    {"US", 39.8, -98.6},  {"GB", 54.0, -2.0},   {"DE", 51.2, 10.4},  {"FR", 46.6, 2.2},  {"ES", 40.2, -3.7},
    {"IT", 42.8, 12.6},   {"NL", 52.2, 5.3},    {"SE", 62.0, 15.0},  {"PL", 52.1, 19.4}, {"CA", 56.1, -106.3},
    {"BR", -14.2, -51.9}, {"MX", 23.6, -102.6}, {"JP", 36.2, 138.3}, {"IN", 20.6, 79.0}, {"AU", -25.3, 133.8},
    {"CN", 35.9, 104.2},  {"PT", 39.4, -8.2},   {"IE", 53.4, -8.2},  {"CH", 46.8, 8.2},  {"AT", 47.5, 14.6},
    {"BE", 50.5, 4.5},    {"DK", 56.3, 9.5},    {"NO", 60.5, 8.5},   {"FI", 61.9, 25.7}, {"ZA", -30.6, 22.9}};

const Place* Find(const std::string& code) {
  for (const auto& p : kPlaces)
    if (code == p.code) return &p;
  return nullptr;
}

double Kilometres(const Place& a, const Place& b) {
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  const double dlat = (b.lat - a.lat) * kRad, dlon = (b.lon - a.lon) * kRad;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.lat * kRad) * std::cos(b.lat * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * 6371.0 * std::asin(std::min(1.0, std::sqrt(h)));
}

struct LastSeen {
  int64_t ts = 0;
  char country[8] = {};
};

class GeoVelocity : public sdk::Operator {
 public:
  GeoVelocity(const sdk::Json& config, sdk::Context& ctx)
      : max_kmh_(config["max_kmh"].Number()), expiry_ms_(config["expiry"].Int()) {
    if (max_kmh_ <= 0) throw std::runtime_error("max_kmh must be positive");
    if (expiry_ms_ <= 0) throw std::runtime_error("expiry must be positive");
    country_ = ctx.DeclareField(config["country"].Str());
  }

  void Open(sdk::Context& ctx) override {
    order_.Open(ctx);
    last_ = ctx.DeclareValue<LastSeen>("last");
    expires_ = ctx.DeclareValue<int64_t>("expires");
  }

  void ProcessRecord(sdk::Record& r, sdk::Context& ctx) override {
    const sdk::Value country = r[country_];
    if (!country.IsString()) throw std::runtime_error("country is not a string");
    Txn t;
    t.country.assign(country.Str());
    if (!Find(t.country)) {
      ctx.Count("unknown_countries");
      return;  // nowhere to place it: it neither flags nor moves the card
    }
    order_.Add(ctx, r.Meta(), t);
  }

  void OnTimer(const sdk::Timer& timer, sdk::Context& ctx) override {
    if (timer.tag == kTagExpire) {
      last_.Clear();
      expires_.Clear();
      return;
    }
    order_.Due(timer.time, [&](int64_t time, const Txn& t) { Check(ctx, time, t); });
  }

 private:
  void Check(sdk::Context& ctx, int64_t time, const Txn& t) {
    const auto last = last_.Get();
    if (last && t.country != last->country) {
      const double km = Kilometres(*Find(last->country), *Find(t.country));
      const double hours = static_cast<double>(time - last->ts) / 3.6e6;
      if (km > max_kmh_ * hours) {
        ctx.Build()
            .SetKeyFields()
            .Set("rule", "impossible_travel")
            .Set("from_country", std::string_view(last->country))
            .Set("to_country", std::string_view(t.country))
            .Set("km", std::round(km))
            .Set("minutes", std::round(hours * 600.0) / 10.0)
            .Set("ts", time)
            .Emit(time);
        ctx.Count("impossible_travel");
      }
    }
    LastSeen now;
    now.ts = time;
    std::snprintf(now.country, sizeof now.country, "%s", t.country.c_str());
    last_.Put(now);
    RenewExpiry(ctx, expires_, time, expiry_ms_);
  }

  double max_kmh_;
  int64_t expiry_ms_;
  sdk::FieldRef country_;
  EventOrder order_;
  sdk::ValueState<LastSeen> last_;
  sdk::ValueState<int64_t> expires_;
};

const sr_operator kFraudScore = sdk::MakeOperator<FraudScore, SR_OP_KEYED>(
    "fraud_score", "1.0.0", "Scores card transactions with a logistic model over per-card history",
    kScoreSchema);
const sr_operator kGeoVelocity = sdk::MakeOperator<GeoVelocity, SR_OP_KEYED>(
    "geo_velocity", "1.0.0", "Flags a card seen in two places farther apart than travel allows",
    kVelocitySchema);

}  // namespace

STREAMRUN_PLUGIN("fraud", "1.0.0", &kFraudScore, &kGeoVelocity)
