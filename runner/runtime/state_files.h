#pragma once
// The rocksdb backend in checkpoints. At a checkpoint each worker's database
// is copied whole into a local folder (RocksDB's Checkpoint: hard links to its
// SST files, a flushed memtable), and worker 0 puts the files into the store.
// An SST file never changes once written, so one that is already in the store
// is not uploaded again: checkpoints share SST files under <pipeline>/shared/,
// and each names the ones it needs in its manifest. Savepoints are
// self-contained: all their files go into their own folder.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runner/checkpoint/checkpoints.h"
#include "runner/state/rocksdb_state.h"
#include "runner/state/snapshot.h"

namespace streamrun {

// A file of a checkpointed database.
struct DbFile {
  std::string name;  // in the database folder, e.g. "000012.sst"
  uint64_t size = 0;
  std::string ref;      // in the checkpoint: "db-w0/CURRENT", or kSharedRef + "<run>-w0-000012.sst"
  uint32_t crc = 0;     // CRC-32 of its bytes: a restore checks what it fetched
  bool upload = false;  // not in the store yet
};

void SaveDbFiles(const std::vector<DbFile>& files, SnapshotWriter& w);
std::vector<DbFile> LoadDbFiles(SnapshotReader& r);

// One worker's database and what of it is in the store.
class WorkerDb {
 public:
  // The database lives in `root`/db (root is emptied first); `restored` are
  // the files of a checkpoint of this worker to start from (already in the
  // store, fetched with `read_file`), or empty.
  WorkerDb(std::string root, std::string run_id, int worker, const std::vector<DbFile>& restored,
           const std::function<std::string(const std::string&)>& read_file);
  ~WorkerDb();
  RocksStateDb& db() { return *db_; }

  // Checkpoint `id`: a local copy of the database and its files, with refs.
  std::vector<DbFile> Take(int64_t id, bool self_contained);
  // Puts the files of `Take` that the store lacks into it; returns the bytes.
  uint64_t Upload(checkpoint::Checkpoints& store, int64_t id, const std::vector<DbFile>& files);
  // Checkpoint `id` ended; if it completed, its shared files are the ones in
  // the store from now on. The local copy is removed either way.
  void Done(int64_t id, const std::vector<DbFile>& files, bool completed);

 private:
  std::string LocalCopy(int64_t id) const;
  std::string root_;
  std::string run_id_;
  int worker_;
  std::unique_ptr<RocksStateDb> db_;
  std::map<std::string, DbFile> in_store_;  // file name -> its entry (ref, size, crc)
};

// A checkpointed database fetched into `dir` (created), to read from.
void FetchDb(const std::vector<DbFile>& files,
             const std::function<std::string(const std::string&)>& read_file, const std::string& dir);

}  // namespace streamrun
