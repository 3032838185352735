#include "runner/checkpoint/checkpoints.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace streamrun::checkpoint {

namespace {

constexpr char kManifest[] = "_manifest.json";

std::string WorkerFile(int worker) { return "worker-" + std::to_string(worker) + ".state"; }

// "chk-0000000007/" -> 7; -1 for anything else.
int64_t IdOf(const std::string& name) {
  if (name.rfind("chk-", 0) != 0) return -1;
  int64_t id = 0;
  size_t i = 4;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) id = id * 10 + (name[i] - '0');
  return i == 4 ? -1 : id;
}

Loaded Read(Store& store, const std::string& folder, const std::string& location) {
  Loaded out;
  out.location = location;
  auto manifest = store.Get(folder + kManifest);
  if (!manifest) throw StoreError(location + ": no " + kManifest + " (not a complete checkpoint)");
  out.manifest_json = std::move(*manifest);
  int workers = 0;
  try {
    const auto json = nlohmann::json::parse(out.manifest_json);
    workers = json.at("workers").get<int>();
    out.id = json.at("id").get<int64_t>();
  } catch (const std::exception& e) {
    throw StoreError(location + ": damaged manifest: " + e.what());
  }
  for (int w = 0; w < workers; ++w) {
    auto state = store.Get(folder + WorkerFile(w));
    if (!state) throw StoreError(location + ": " + WorkerFile(w) + " is missing");
    out.workers.push_back(std::move(*state));
  }
  return out;
}

}  // namespace

Checkpoints::Checkpoints(std::unique_ptr<Store> store, std::string pipeline)
    : store_(std::move(store)), pipeline_(std::move(pipeline)) {}

std::string Checkpoints::Folder(int64_t id) const {
  char name[32];
  std::snprintf(name, sizeof name, "chk-%010lld/", static_cast<long long>(id));
  return pipeline_ + "/" + name;
}

std::string Checkpoints::Location(int64_t id) const { return store_->Describe(Folder(id)); }

std::vector<int64_t> Checkpoints::Complete() {
  std::vector<int64_t> ids;
  for (const auto& key : store_->List(pipeline_ + "/")) {
    const int64_t id = IdOf(key.substr(pipeline_.size() + 1));
    if (id < 0) continue;
    const auto files = store_->List(Folder(id));
    if (std::find(files.begin(), files.end(), Folder(id) + kManifest) != files.end()) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

int64_t Checkpoints::HighestId() {
  int64_t highest = 0;
  for (const auto& key : store_->List(pipeline_ + "/"))
    highest = std::max(highest, IdOf(key.substr(pipeline_.size() + 1)));
  return highest;
}

void Checkpoints::WriteWorker(int64_t id, int worker, std::string_view state) {
  store_->Put(Folder(id) + WorkerFile(worker), state);
}

void Checkpoints::WriteManifest(int64_t id, std::string_view json) {
  store_->Put(Folder(id) + kManifest, json);
}

void Checkpoints::WriteRunning(const std::string& pid) { store_->Put(pipeline_ + "/_running", pid); }

std::string Checkpoints::Running() { return store_->Get(pipeline_ + "/_running").value_or(""); }

std::optional<std::string> Checkpoints::Manifest(int64_t id) { return store_->Get(Folder(id) + kManifest); }

Loaded Checkpoints::Load(int64_t id) { return Read(*store_, Folder(id), Location(id)); }

void Checkpoints::Retain(int retain) {
  const auto complete = Complete();
  if (complete.empty()) return;
  const int64_t newest = complete.back();
  const size_t keep_from = complete.size() > static_cast<size_t>(retain) ? complete.size() - retain : 0;
  const int64_t oldest_kept = complete[keep_from];
  for (const auto& key : store_->List(pipeline_ + "/")) {
    const int64_t id = IdOf(key.substr(pipeline_.size() + 1));
    if (id < 0) continue;
    const bool is_complete = std::binary_search(complete.begin(), complete.end(), id);
    if ((is_complete && id < oldest_kept) || (!is_complete && id < newest)) store_->DeletePrefix(Folder(id));
  }
}

Loaded LoadFolder(const std::string& path) {
  std::string dir = path.rfind("file://", 0) == 0 ? path.substr(7) : path;
  std::string error;
  auto store = OpenStore(StoreConfig{"file://" + dir, "", "", std::nullopt}, &error);
  if (!store) throw StoreError(error);
  return Read(*store, "", dir);
}

}  // namespace streamrun::checkpoint
