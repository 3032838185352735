#pragma once
// The rocksdb state backend: a StateDb over one RocksDB database per worker,
// in a scratch directory of its own (the checkpoint, not this directory, is
// what survives a crash, so the write-ahead log is off).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runner/state/state_db.h"

namespace rocksdb {
class DB;
class WriteBatchWithIndex;
class Cache;
}  // namespace rocksdb

namespace streamrun {

class RocksStateDb : public StateDb {
 public:
  // Opens the database in `dir`, creating it if absent. Throws std::runtime_error.
  explicit RocksStateDb(std::string dir);
  ~RocksStateDb() override;

  bool Get(uint32_t group, uint32_t op, std::string_view key, std::string* value) override;
  void Put(uint32_t group, uint32_t op, std::string_view key, std::string_view value) override;
  void Delete(uint32_t group, uint32_t op, std::string_view key) override;
  void Scan(uint32_t group, uint32_t op, std::string_view prefix,
            const std::function<bool(std::string_view key, std::string_view value)>& fn) override;

  // Applies the buffered writes to the database.
  void Flush();

  struct File {
    std::string name;  // e.g. "000012.sst", "MANIFEST-000005"
    uint64_t size = 0;
  };
  // A consistent copy of the whole database in `dir` (which must not exist):
  // buffered writes and the memtable are flushed, SST files are hard links.
  std::vector<File> CheckpointTo(const std::string& dir);

  // Every entry, with its key group and operator (a restore at another parallelism).
  void ForEach(const std::function<void(uint32_t group, uint32_t op, std::string_view key,
                                        std::string_view value)>& fn);
  // Approximate bytes of one operator's key group (files and memtable).
  uint64_t ApproximateBytes(uint32_t group, uint32_t op);

  const std::string& dir() const { return dir_; }

 private:
  std::string Key(uint32_t group, uint32_t op, std::string_view key) const;
  void MaybeFlush();

  std::string dir_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<rocksdb::WriteBatchWithIndex> batch_;
  mutable std::string key_;  // scratch
};

// The files of a database directory with their sizes (what a checkpoint uploads).
std::vector<RocksStateDb::File> ListDbFiles(const std::string& dir);

}  // namespace streamrun
