#include "runner/state/rocksdb_state.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <filesystem>
#include <stdexcept>

namespace streamrun {

namespace {

// Buffered writes go to the database once they hold this many bytes.
constexpr size_t kWriteBufferBytes = 16 << 20;

void Check(const rocksdb::Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error("rocksdb state: " + what + ": " + s.ToString());
}

rocksdb::WriteOptions NoWal() {
  rocksdb::WriteOptions w;
  w.disableWAL = true;  // durability comes from checkpoints
  return w;
}

// The first key after every key that starts with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xFF) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;  // empty: no upper bound
}

}  // namespace

RocksStateDb::RocksStateDb(std::string dir) : dir_(std::move(dir)) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kLZ4Compression;
  options.max_background_jobs = 2;
  options.write_buffer_size = 64 << 20;
  options.max_open_files = 512;
  rocksdb::BlockBasedTableOptions table;
  cache_ = rocksdb::NewLRUCache(64 << 20);
  table.block_cache = cache_;
  // Most reads are for keys the cache in front has never seen: new keys.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* db = nullptr;
  Check(rocksdb::DB::Open(options, dir_, &db), "open " + dir_);
  db_.reset(db);
  batch_ = std::make_unique<rocksdb::WriteBatchWithIndex>(rocksdb::BytewiseComparator(), 0, true);
}

RocksStateDb::~RocksStateDb() {
  batch_.reset();
  if (db_) db_->Close().PermitUncheckedError();
}

std::string RocksStateDb::Key(uint32_t group, uint32_t op, std::string_view key) const {
  std::string k;
  k.reserve(5 + key.size());
  k.push_back(static_cast<char>(group));
  for (int shift = 24; shift >= 0; shift -= 8) k.push_back(static_cast<char>((op >> shift) & 0xFF));
  k.append(key);
  return k;
}

bool RocksStateDb::Get(uint32_t group, uint32_t op, std::string_view key, std::string* value) {
  const std::string k = Key(group, op, key);
  const auto s = batch_->GetFromBatchAndDB(db_.get(), rocksdb::ReadOptions(), k, value);
  if (s.IsNotFound()) return false;
  Check(s, "get");
  return true;
}

void RocksStateDb::Put(uint32_t group, uint32_t op, std::string_view key, std::string_view value) {
  Check(batch_->Put(Key(group, op, key), rocksdb::Slice(value.data(), value.size())), "put");
  MaybeFlush();
}

void RocksStateDb::Delete(uint32_t group, uint32_t op, std::string_view key) {
  Check(batch_->Delete(Key(group, op, key)), "delete");
  MaybeFlush();
}

void RocksStateDb::MaybeFlush() {
  if (batch_->GetWriteBatch()->GetDataSize() >= kWriteBufferBytes) Flush();
}

void RocksStateDb::Flush() {
  if (batch_->GetWriteBatch()->Count() == 0) return;
  Check(db_->Write(NoWal(), batch_->GetWriteBatch()), "write");
  batch_->Clear();
}

void RocksStateDb::Scan(uint32_t group, uint32_t op, std::string_view prefix,
                        const std::function<bool(std::string_view, std::string_view)>& fn) {
  // The iterator reads a snapshot of the database: `fn` may write (into the
  // buffer, or flushing it) without disturbing it.
  Flush();
  const std::string start = Key(group, op, prefix);
  const std::string end = PrefixEnd(start);
  rocksdb::ReadOptions read;
  rocksdb::Slice upper(end);
  if (!end.empty()) read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read));
  for (it->Seek(start); it->Valid(); it->Next()) {
    const auto k = it->key();
    const auto v = it->value();
    if (!fn(std::string_view(k.data() + 5, k.size() - 5), std::string_view(v.data(), v.size()))) break;
  }
  Check(it->status(), "scan");
}

std::vector<RocksStateDb::File> RocksStateDb::CheckpointTo(const std::string& dir) {
  Flush();
  rocksdb::Checkpoint* raw = nullptr;
  Check(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // 0: always flush the memtable first (there is no write-ahead log to copy).
  Check(checkpoint->CreateCheckpoint(dir, 0), "checkpoint to " + dir);
  return ListDbFiles(dir);
}

void RocksStateDb::ForEach(
    const std::function<void(uint32_t, uint32_t, std::string_view, std::string_view)>& fn) {
  Flush();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto k = it->key();
    if (k.size() < 5) continue;
    const auto* b = reinterpret_cast<const unsigned char*>(k.data());
    const uint32_t op = (uint32_t{b[1]} << 24) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 8) | b[4];
    const auto v = it->value();
    fn(b[0], op, std::string_view(k.data() + 5, k.size() - 5), std::string_view(v.data(), v.size()));
  }
  Check(it->status(), "iterate");
}

uint64_t RocksStateDb::ApproximateBytes(uint32_t group, uint32_t op) {
  const std::string start = Key(group, op, "");
  const std::string end = PrefixEnd(start);
  rocksdb::Range range(start, end);
  rocksdb::SizeApproximationOptions options;
  options.include_memtables = true;
  options.include_files = true;
  uint64_t size = 0;
  db_->GetApproximateSizes(options, db_->DefaultColumnFamily(), &range, 1, &size).PermitUncheckedError();
  return size;
}

std::vector<RocksStateDb::File> ListDbFiles(const std::string& dir) {
  std::vector<RocksStateDb::File> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    files.push_back({entry.path().filename().string(), static_cast<uint64_t>(entry.file_size())});
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

}  // namespace streamrun
