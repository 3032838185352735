#include "runner/checkpoint/checkpoints.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "runner/record/checksum.h"

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

bool PlainName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 255) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

}  // namespace

bool ValidRef(const std::string& ref) {
  std::string_view r = ref;
  if (r.rfind(kSharedRef, 0) == 0) return PlainName(r.substr(kSharedRef.size()));
  if (r.rfind("db-w", 0) == 0) {
    const size_t slash = r.find('/');
    if (slash == std::string_view::npos || slash == 4) return false;
    for (size_t i = 4; i < slash; ++i)
      if (r[i] < '0' || r[i] > '9') return false;
    return PlainName(r.substr(slash + 1));
  }
  return PlainName(r);
}

namespace {

// The store key of a file of the checkpoint in `folder` ("<pipeline>/chk-N/").
std::string FileKey(const std::string& folder, const std::string& ref) {
  if (!ValidRef(ref)) throw StoreError("refused a state file name a checkpoint cannot have: '" + ref + "'");
  if (ref.rfind(kSharedRef, 0) != 0) return folder + ref;
  // folder ends with "/": its parent is up to the slash before that.
  const size_t slash = folder.size() >= 2 ? folder.rfind('/', folder.size() - 2) : std::string::npos;
  const std::string parent = slash == std::string::npos ? std::string() : folder.substr(0, slash + 1);
  return parent + std::string(kSharedDir) + "/" + ref.substr(kSharedRef.size());
}

Loaded Read(std::shared_ptr<Store> shared_store, const std::string& folder, const std::string& location,
            std::optional<int64_t> expected_id, const std::string& expected_pipeline) {
  Store& store = *shared_store;
  Loaded out;
  out.location = location;
  out.read_file = [shared_store, folder, location](const std::string& ref) {
    auto bytes = shared_store->Get(FileKey(folder, ref));
    if (!bytes) throw StoreError(location + ": state file " + ref + " is missing");
    return std::move(*bytes);
  };
  auto manifest = store.Get(folder + kManifest);
  if (!manifest) throw StoreError(location + ": no " + kManifest + " (not a complete checkpoint)");
  out.manifest_json = std::move(*manifest);
  nlohmann::json files;
  int64_t workers = 0;
  try {
    const auto json = nlohmann::json::parse(out.manifest_json);
    const int format = json.value("format", 1);
    if (format != kManifestFormat)
      throw StoreError("format " + std::to_string(format) + ", this streamrun reads format " +
                       std::to_string(kManifestFormat) + ": restore it with the streamrun that wrote it");
    workers = json.at("workers").get<int64_t>();
    out.id = json.at("id").get<int64_t>();
    files = json.at("files");
    if (!expected_pipeline.empty() && json.at("pipeline").get<std::string>() != expected_pipeline)
      throw StoreError("it is of pipeline '" + json.at("pipeline").get<std::string>() + "', not '" +
                       expected_pipeline + "'");
  } catch (const StoreError& e) {
    throw StoreError(location + ": " + e.what());
  } catch (const std::exception& e) {
    throw StoreError(location + ": damaged manifest: " + e.what());
  }
  if (workers < 1 || workers > kMaxCheckpointWorkers)
    throw StoreError(location + ": damaged manifest: " + std::to_string(workers) + " workers");
  if (expected_id && out.id != *expected_id)
    throw StoreError(location + ": damaged manifest: it says checkpoint " + std::to_string(out.id));
  if (!files.is_array() || files.size() != static_cast<size_t>(workers))
    throw StoreError(location + ": damaged manifest: it lists " +
                     std::to_string(files.is_array() ? files.size() : 0) + " worker states for " +
                     std::to_string(workers) + " workers");
  for (int64_t w = 0; w < workers; ++w) {
    const std::string name = WorkerFile(static_cast<int>(w));
    uint64_t bytes = 0, crc = 0;
    try {
      if (files[static_cast<size_t>(w)].at("name").get<std::string>() != name) throw StoreError("");
      bytes = files[static_cast<size_t>(w)].at("bytes").get<uint64_t>();
      crc = files[static_cast<size_t>(w)].at("crc32").get<uint64_t>();
    } catch (const std::exception&) {
      throw StoreError(location + ": damaged manifest: its entry for " + name + " is not as written");
    }
    auto state = store.Get(folder + name);
    if (!state) throw StoreError(location + ": " + name + " is missing");
    if (state->size() != bytes)
      throw StoreError(location + ": " + name + " has " + std::to_string(state->size()) +
                       " bytes, the manifest says " + std::to_string(bytes));
    if (Crc32(*state) != crc) throw StoreError(location + ": " + name + " is damaged (its checksum differs)");
    out.workers.push_back(std::move(*state));
  }
  return out;
}

}  // namespace

Checkpoints::Checkpoints(std::shared_ptr<Store> store, std::string pipeline)
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

void Checkpoints::WriteFile(int64_t id, const std::string& ref, std::string_view bytes) {
  store_->Put(FileKey(Folder(id), ref), bytes);
}

void Checkpoints::WriteManifest(int64_t id, std::string_view json) {
  store_->Put(Folder(id) + kManifest, json);
}

RunningProcess RunningProcess::Self() {
  RunningProcess p;
  p.pid = static_cast<long>(::getpid());
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) p.host = host;
  p.renewed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  return p;
}

bool RunningProcess::OtherAndAlive(int64_t now_ms, int64_t stale_ms) const {
  if (pid <= 0) return false;
  const RunningProcess self = Self();
  if (host.empty() || host == self.host) {
    // Here (or an older record, which named no host): the pid decides.
    return pid != self.pid && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
  }
  return now_ms - renewed_ms < stale_ms;
}

void Checkpoints::WriteRunning(const RunningProcess& process) {
  store_->Put(pipeline_ + "/_running",
              std::to_string(process.pid) + " " + process.host + " " + std::to_string(process.renewed_ms));
}

void Checkpoints::ClearRunning(long pid) {
  const RunningProcess running = Running();
  if (running.pid == pid && (running.host.empty() || running.host == RunningProcess::Self().host))
    store_->DeletePrefix(pipeline_ + "/_running");
}

RunningProcess Checkpoints::Running() {
  RunningProcess p;
  const std::string text = store_->Get(pipeline_ + "/_running").value_or("");
  // "PID HOST RENEWED_MS", or a bare pid (written before the host and time).
  std::istringstream in(text);
  std::string pid, host, renewed;
  in >> pid >> host >> renewed;
  auto number = [](const std::string& s) -> int64_t {
    if (s.empty() || s.size() > 18 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return 0;
    return std::stoll(s);
  };
  p.pid = static_cast<long>(number(pid));
  p.host = host;
  p.renewed_ms = number(renewed);
  return p;
}

std::optional<std::string> Checkpoints::Manifest(int64_t id) { return store_->Get(Folder(id) + kManifest); }

Loaded Checkpoints::Load(int64_t id) { return Read(store_, Folder(id), Location(id), id, pipeline_); }

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
  // Shared files: those of a failed checkpoint, or compacted away since.
  const std::string shared = pipeline_ + "/shared/";
  const auto files = store_->List(shared);
  if (files.empty()) return;
  std::set<std::string> needed;
  for (size_t i = keep_from; i < complete.size(); ++i) {
    const auto manifest = Manifest(complete[i]);
    if (!manifest) return;  // changed under us: delete nothing
    try {
      const auto json = nlohmann::json::parse(*manifest);
      if (json.contains("shared"))
        for (const auto& ref : json.at("shared"))
          needed.insert(FileKey(Folder(complete[i]), ref.get<std::string>()));
    } catch (const std::exception&) {
      return;
    }
  }
  for (const auto& key : files)
    if (!needed.count(key)) store_->DeletePrefix(key);
}

Loaded LoadFolder(const std::string& path) {
  std::string dir = path.rfind("file://", 0) == 0 ? path.substr(7) : path;
  std::string error;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const size_t slash = dir.rfind('/');
  // The folder's parent is the root, so that refs into the shared folder resolve.
  const std::string root = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  const std::string folder = (slash == std::string::npos ? dir : dir.substr(slash + 1)) + "/";
  std::shared_ptr<Store> store = OpenStore(StoreConfig{"file://" + root, "", "", std::nullopt}, &error);
  if (!store) throw StoreError(error);
  return Read(store, folder, dir, std::nullopt, {});
}

}  // namespace streamrun::checkpoint
