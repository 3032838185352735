#pragma once
// The layout of a pipeline's checkpoints in a Store:
//   <pipeline>/chk-0000000007/worker-0.state ... worker-(P-1).state
//   <pipeline>/chk-0000000007/_manifest.json      written last: the checkpoint
//                                                  is complete once it exists
//   <pipeline>/chk-0000000007/db-w0/...            rocksdb state files of this
//                                                  checkpoint only (all of a savepoint's)
//   <pipeline>/shared/...                          rocksdb SST files several
//                                                  checkpoints refer to
// A crash at any moment leaves the previous complete checkpoint whole. A file
// of a checkpoint is named by a ref relative to its folder: "db-w0/CURRENT",
// or kSharedRef + NAME for a file of the pipeline's shared folder (a sibling
// of the checkpoint folders); the manifest lists the shared ones it needs.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runner/checkpoint/store.h"

namespace streamrun::checkpoint {

// The folder of a pipeline's store that holds the files several checkpoints
// share, and the prefix of a ref to one of them from a checkpoint's folder.
inline constexpr std::string_view kSharedDir = "shared";
inline const std::string kSharedRef = ".." + ("/" + std::string(kSharedDir)) + "/";

// True if `ref` names a file of a checkpoint the way streamrun writes them:
// "NAME", "db-wN/NAME" or kSharedRef + "NAME", NAME of letters, digits, '.', '_'
// and '-' (not "." or ".."). A checkpoint naming anything else is refused.
bool ValidRef(const std::string& ref);

// The manifest's "format": 2 added checksums of every file; a checkpoint of
// another format is refused by name.
inline constexpr int kManifestFormat = 2;
// A checkpoint has at most this many workers (a damaged count is refused).
inline constexpr int kMaxCheckpointWorkers = 4096;

// The process that writes a pipeline's (or a member's) checkpoints.
struct RunningProcess {
  long pid = 0;            // 0: none recorded
  std::string host;        // gethostname(); empty in records of older versions
  int64_t renewed_ms = 0;  // when it last wrote the record (wall clock)
  // This process, now.
  static RunningProcess Self();
  // True if `this` is another process that still writes: on this host its pid
  // is alive; on another host it renewed within `stale_ms`.
  bool OtherAndAlive(int64_t now_ms, int64_t stale_ms) const;
};

// A complete checkpoint, read back.
struct Loaded {
  int64_t id = 0;
  std::string location;              // for messages
  std::string manifest_json;         // as written
  std::vector<std::string> workers;  // each worker's state, in worker order
  // Reads a file of the checkpoint by its ref. Throws StoreError.
  std::function<std::string(const std::string& ref)> read_file;
};

class Checkpoints {
 public:
  Checkpoints(std::shared_ptr<Store> store, std::string pipeline);

  // Ids of the complete checkpoints, oldest first.
  std::vector<int64_t> Complete();
  // The highest id of any checkpoint folder, complete or not; 0 if none.
  int64_t HighestId();
  void WriteWorker(int64_t id, int worker, std::string_view state);
  // A state file of checkpoint `id`, by its ref.
  void WriteFile(int64_t id, const std::string& ref, std::string_view bytes);
  // Completes checkpoint `id`; its manifest must name the worker count ("workers").
  void WriteManifest(int64_t id, std::string_view json);
  // Reads checkpoint `id` and checks it against its manifest (format, id,
  // pipeline, worker count, each worker state's length and CRC-32). Throws
  // StoreError naming what is wrong.
  Loaded Load(int64_t id);
  // Keeps the newest `retain` complete checkpoints and removes the rest (and
  // incomplete folders older than the newest complete one), then the shared
  // files no kept checkpoint names.
  void Retain(int retain);
  std::string Location(int64_t id) const;
  // The process writing these checkpoints (`streamrun savepoint` signals it,
  // and a second process refuses to start while it lives): `_running` holds
  // "PID HOST RENEWED_MS", renewed at every checkpoint. Empty pid if none.
  void WriteRunning(const RunningProcess& process);
  // Removes the record if it is `pid`'s on this host (the job ended).
  void ClearRunning(long pid);
  RunningProcess Running();
  // The manifest of checkpoint `id`, or nullopt if it is not complete.
  std::optional<std::string> Manifest(int64_t id);

 private:
  std::string Folder(int64_t id) const;
  std::shared_ptr<Store> store_;
  std::string pipeline_;
};

// A checkpoint folder given by its path (`--from`): DIR or file://DIR.
Loaded LoadFolder(const std::string& path);

}  // namespace streamrun::checkpoint
