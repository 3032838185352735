// Deterministic event generators: reproducibility, counts, fields, event-time
// order and disorder, cart sessions, transaction fraud patterns.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runner/generate/generators.h"

namespace gen = streamrun::generate;

namespace {

struct Event {
  std::string text;
  int64_t time;
};

std::vector<Event> Run(gen::Options o) {
  std::string error;
  auto g = gen::Make(o, &error);
  REQUIRE_MESSAGE(g != nullptr, error);
  std::vector<Event> events;
  std::string line;
  int64_t t = 0;
  while (true) {
    line.clear();
    if (!g->Next(&line, &t)) break;
    events.push_back({line, t});
  }
  return events;
}

gen::Options Opts(const std::string& kind, int64_t count, uint64_t seed = 1) {
  gen::Options o;
  o.kind = kind;
  o.count = count;
  o.seed = seed;
  return o;
}

std::string Joined(const std::vector<Event>& events) {
  std::string s;
  for (const auto& e : events) s += e.text + "\n";
  return s;
}

}  // namespace

TEST_CASE("generate: kinds and bad options") {
  CHECK(gen::Kinds() == std::vector<std::string>{"clicks", "cart", "transactions"});
  std::string error;
  CHECK(gen::Make(Opts("nope", 1), &error) == nullptr);
  CHECK(error == "unknown kind 'nope' (clicks, cart, transactions)");
  auto o = Opts("clicks", 1);
  o.events_per_second = 0;
  CHECK(gen::Make(o, &error) == nullptr);
  CHECK(!error.empty());
  o = Opts("clicks", -2);
  CHECK(gen::Make(o, &error) == nullptr);
  o = Opts("clicks", 1);
  o.out_of_order_fraction = 1.5;
  CHECK(gen::Make(o, &error) == nullptr);
  o.out_of_order_fraction = 0.1;
  o.max_delay_ms = 0;
  CHECK(gen::Make(o, &error) == nullptr);
  o.max_delay_ms = 10;
  CHECK(gen::Make(o, &error) != nullptr);
}

TEST_CASE("generate: same seed same bytes, different seeds differ, count respected") {
  for (const auto& kind : gen::Kinds()) {
    CAPTURE(kind);
    auto a = Run(Opts(kind, 10000, 42));
    auto b = Run(Opts(kind, 10000, 42));
    auto c = Run(Opts(kind, 10000, 43));
    CHECK(a.size() == 10000);
    CHECK(Joined(a) == Joined(b));
    CHECK(Joined(a) != Joined(c));
    CHECK(Run(Opts(kind, 0)).empty());
    CHECK(Run(Opts(kind, 7)).size() == 7);
  }
}

TEST_CASE("generate: unbounded keeps going") {
  std::string error;
  auto g = gen::Make(Opts("cart", -1), &error);
  REQUIRE(g);
  std::string out;
  int64_t t;
  for (int i = 0; i < 50000; ++i) REQUIRE(g->Next(&out, &t));
}

TEST_CASE("generate: fields, types and order") {
  const std::map<std::string, std::vector<std::string>> fields = {
      {"clicks", {"user_id", "page_url", "referrer", "ts"}},
      {"cart", {"user_id", "action", "cart_value", "country", "ts"}},
      {"transactions", {"card_id", "amount", "merchant", "country", "fraud_pattern", "ts"}},
  };
  for (const auto& entry : fields) {
    const std::string& kind = entry.first;
    const std::vector<std::string>& names = entry.second;
    CAPTURE(kind);
    auto events = Run(Opts(kind, 10000));
    int64_t prev = 0;
    std::map<std::string, int> pages, referrers, actions;
    for (const auto& e : events) {
      CAPTURE(e.text);
      auto j = nlohmann::ordered_json::parse(e.text);  // throws on invalid JSON
      REQUIRE(j.is_object());
      std::vector<std::string> keys;
      for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
      REQUIRE(keys == names);
      REQUIRE(j["ts"].is_number_integer());
      CHECK(j["ts"].get<int64_t>() == e.time);
      CHECK(e.time >= prev);  // in order without disorder
      prev = e.time;
      if (kind == "clicks") {
        CHECK(j["user_id"].get<std::string>().starts_with("u"));
        CHECK(j["page_url"].is_string());
        CHECK((j["referrer"].is_null() || j["referrer"].is_string()));
        ++pages[j["page_url"].get<std::string>()];
        ++referrers[j["referrer"].is_null() ? "null" : j["referrer"].get<std::string>()];
      } else if (kind == "cart") {
        CHECK(j["cart_value"].is_number());
        CHECK(j["country"].get<std::string>().size() == 2);
        ++actions[j["action"].get<std::string>()];
      } else {
        CHECK(j["card_id"].get<std::string>().starts_with("c"));
        CHECK(j["amount"].get<double>() > 0);
        CHECK(j["merchant"].is_string());
        CHECK(j["fraud_pattern"].is_boolean());
      }
    }
    CHECK(events.front().time == 1767225600000);
    CHECK(events.back().time == 1767225600000 + 9999);  // 1000 events per second
    if (kind == "clicks") {
      CHECK(pages.size() >= 45);
      CHECK(pages.size() <= 50);
      CHECK(pages["/"] > 1500);  // Zipf: the top page gets ~22%
      CHECK(referrers.size() == 5);
    }
    if (kind == "cart") {
      CHECK(actions.size() == 3);
      CHECK(actions["view"] > actions["add_to_cart"]);
      CHECK(actions["add_to_cart"] > 0);
    }
  }
}

TEST_CASE("generate: events_per_second spaces event time") {
  auto o = Opts("clicks", 5);
  o.events_per_second = 4;
  o.start_ms = 1000;
  auto events = Run(o);
  REQUIRE(events.size() == 5);
  CHECK(events[4].time == 2000);
  CHECK(events[1].time == 1250);
}

TEST_CASE("generate: out of order 0.2 within 5000 ms") {
  for (const auto& kind : gen::Kinds()) {
    CAPTURE(kind);
    auto o = Opts(kind, 20000);
    o.out_of_order_fraction = 0.2;
    o.max_delay_ms = 5000;
    auto events = Run(o);
    int64_t max = events.front().time;
    int late = 0;
    for (const auto& e : events) {
      CHECK(e.time >= o.start_ms);
      CHECK(e.time >= max - 5000);
      if (e.time < max) ++late;
      max = std::max(max, e.time);
    }
    double share = late / 20000.0;
    CHECK(share > 0.18);
    CHECK(share < 0.22);
    // Disorder moves times only: the events are the same as without it.
    auto plain = Run(Opts(kind, 20000));
    for (size_t i = 0; i < 200; ++i) {
      auto a = nlohmann::json::parse(events[i].text), b = nlohmann::json::parse(plain[i].text);
      a.erase("ts");
      b.erase("ts");
      CHECK(a == b);
    }
  }
}

TEST_CASE("generate: cart sessions") {
  // One event per second: 40,000 events span 11 hours, so users come back.
  auto o = Opts("cart", 40000, 7);
  o.events_per_second = 1;
  auto events = Run(o);
  struct UserState {
    int64_t last = -1;
    std::string last_action;
    bool added = false;
    int sessions = 0;
  };
  std::map<std::string, UserState> users;
  int purchases = 0, returning = 0;
  std::map<std::string, int> countries;
  for (const auto& e : events) {
    CAPTURE(e.text);
    auto j = nlohmann::json::parse(e.text);
    auto& u = users[j["user_id"].get<std::string>()];
    const int64_t ts = j["ts"].get<int64_t>();
    const auto action = j["action"].get<std::string>();
    if (u.last >= 0) {
      const int64_t gap = ts - u.last;
      CHECK(gap >= 2000);  // a user's events are seconds to minutes apart ...
      // ... inside a session, and more than 30 min apart between sessions.
      CHECK((gap <= 25 * 60 * 1000 || gap > 30 * 60 * 1000));
      if (u.last_action == "purchase") CHECK(gap > 30 * 60 * 1000);  // a purchase ends a session
    }
    if (u.last < 0 || ts - u.last > 30 * 60 * 1000) {  // a new session
      CHECK(action == "view");
      u.added = false;
      if (++u.sessions == 2) ++returning;
    }
    if (action == "add_to_cart") {
      u.added = true;
      CHECK(j["cart_value"].get<double>() >= 4.99);
    } else if (action == "purchase") {
      CHECK(u.added);  // purchase only after an add_to_cart in the same session
      CHECK(j["cart_value"].get<double>() >= 4.99);
      ++purchases;
    } else {
      CHECK(action == "view");
      CHECK(j["cart_value"].get<double>() == 0);
    }
    u.last = ts;
    u.last_action = action;
    ++countries[j["country"].get<std::string>()];
  }
  CHECK(purchases > 500);
  CHECK(returning > 500);  // many users have several sessions
  CHECK(countries.size() > 5);
  CHECK(users.size() > 500);

  // At 1000 events per second, many users are interleaved.
  auto fast = Run(Opts("cart", 20000, 3));
  std::map<std::string, int64_t> last;
  for (const auto& e : fast) {
    auto j = nlohmann::json::parse(e.text);
    auto [it, fresh] = last.try_emplace(j["user_id"].get<std::string>(), e.time);
    if (!fresh) CHECK(e.time - it->second >= 2000);
    it->second = e.time;
  }
  CHECK(last.size() > 5000);
}

TEST_CASE("generate: transactions fraud patterns") {
  auto events = Run(Opts("transactions", 100000, 5));
  int fraud = 0, large = 0;
  std::map<std::string, std::vector<std::pair<int64_t, std::string>>> bursts;  // card -> (ts, country)
  for (const auto& e : events) {
    auto j = nlohmann::json::parse(e.text);
    if (!j["fraud_pattern"].get<bool>()) {
      CHECK(j["amount"].get<double>() < 2000.01);
      continue;
    }
    ++fraud;
    if (j["amount"].get<double>() >= 2500) {
      ++large;
    } else {
      bursts[j["card_id"].get<std::string>()].push_back({e.time, j["country"].get<std::string>()});
    }
  }
  const double share = fraud / 100000.0;
  CHECK(share > 0.007);
  CHECK(share < 0.013);
  CHECK(large > 50);
  CHECK(bursts.size() > 50);
  for (const auto& entry : bursts) {
    const auto& txs = entry.second;
    CAPTURE(entry.first);
    if (txs.size() > 5) continue;                                  // the same card drew two bursts (rare)
    if (txs.front().first > events.back().time - 60000) continue;  // may be cut off by `count`
    CHECK(txs.size() >= 3);
    CHECK(txs.back().first - txs.front().first <= 60000);
    std::map<std::string, int> seen;
    for (const auto& tx : txs) CHECK(++seen[tx.second] == 1);  // all different countries
  }
}
