// Keyed state (memory backend): key groups, value, list and map state.
#include <doctest/doctest.h>

#include <string>

#include "runner/state/keyed_state.h"

using namespace streamrun;

TEST_CASE("key groups cover 0..127 and are stable") {
  CHECK(KeyGroupOf(0) == 0);
  CHECK(KeyGroupOf(127) == 127);
  CHECK(KeyGroupOf(128) == 0);
  CHECK(KeyGroupOf(UINT64_MAX) == UINT64_MAX % 128);
}

TEST_CASE("value state: create, find, erase, per group") {
  ValueState<int> state;
  bool created = false;
  state.GetOrCreate(3, "a", &created) = 7;
  CHECK(created);
  state.GetOrCreate(3, "a", &created) += 1;
  CHECK_FALSE(created);
  CHECK(*state.Find(3, "a") == 8);
  CHECK(state.Find(4, "a") == nullptr);  // the same key bytes in another group is another entry
  state.GetOrCreate(4, "a") = 1;
  CHECK(state.size() == 2);
  CHECK(state.GroupSize(3) == 1);
  state.Erase(3, "a");
  state.Erase(3, "missing");
  CHECK(state.Find(3, "a") == nullptr);
  CHECK(state.size() == 1);
}

TEST_CASE("references stay valid while other keys come and go") {
  ValueState<std::string> state;
  std::string& a = state.GetOrCreate(0, "a");
  a = "kept";
  for (int i = 0; i < 1000; ++i) state.GetOrCreate(0, "k" + std::to_string(i));
  for (int i = 0; i < 1000; ++i) state.Erase(0, "k" + std::to_string(i));
  CHECK(a == "kept");
}

TEST_CASE("list state appends in order") {
  ListState<int> state;
  state.GetOrCreate(1, "k").push_back(1);
  state.GetOrCreate(1, "k").push_back(2);
  CHECK(*state.Find(1, "k") == std::vector<int>{1, 2});
}

TEST_CASE("map state: namespaces ordered, key gone with its last namespace") {
  MapState<int64_t, int> state;
  state.GetOrCreate(2, "k", 5000) = 1;
  state.GetOrCreate(2, "k", 0) = 2;
  bool created = true;
  state.GetOrCreate(2, "k", 5000, &created);
  CHECK_FALSE(created);
  auto* ns = state.Namespaces(2, "k");
  REQUIRE(ns != nullptr);
  CHECK(ns->begin()->first == 0);
  int visited = 0;
  state.ForEach([&](uint32_t g, const std::string& k, const int64_t&, int&) {
    CHECK(g == 2);
    CHECK(k == "k");
    ++visited;
  });
  CHECK(visited == 2);
  state.Erase(2, "k", 0);
  CHECK(state.keys() == 1);
  state.Erase(2, "k", 5000);
  CHECK(state.keys() == 0);
  CHECK(state.Namespaces(2, "k") == nullptr);
}
