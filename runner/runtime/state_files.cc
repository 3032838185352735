#include "runner/runtime/state_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "runner/record/checksum.h"

namespace streamrun {

namespace fs = std::filesystem;

namespace {

bool IsSst(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".sst") == 0;
}

std::string ReadLocal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteLocal(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

void SaveDbFiles(const std::vector<DbFile>& files, SnapshotWriter& w) {
  w.U64(files.size());
  for (const auto& f : files) {
    w.Str(f.name);
    w.U64(f.size);
    w.Str(f.ref);
    w.U64(f.crc);
  }
}

std::vector<DbFile> LoadDbFiles(SnapshotReader& r) {
  std::vector<DbFile> files(r.Count());
  for (auto& f : files) {
    f.name = std::string(r.Str());
    f.size = r.U64();
    f.ref = std::string(r.Str());
    f.crc = static_cast<uint32_t>(r.U64());
    if (f.name.empty() || f.name.find('/') != std::string::npos || f.name.find("..") != std::string::npos ||
        !checkpoint::ValidRef(f.name))
      throw SnapshotError("state files: bad name '" + f.name + "'");
    if (!checkpoint::ValidRef(f.ref))
      throw SnapshotError("state files: refused the file reference '" + f.ref + "'");
  }
  return files;
}

void FetchDb(const std::vector<DbFile>& files,
             const std::function<std::string(const std::string&)>& read_file, const std::string& dir) {
  fs::create_directories(dir);
  for (const auto& f : files) {
    const std::string bytes = read_file(f.ref);
    if (bytes.size() != f.size)
      throw std::runtime_error("state file " + f.ref + " has " + std::to_string(bytes.size()) +
                               " bytes, the checkpoint says " + std::to_string(f.size));
    if (Crc32(bytes) != f.crc)
      throw std::runtime_error("state file " + f.ref + " is damaged (its checksum is not the one recorded)");
    WriteLocal(dir + "/" + f.name, bytes);
  }
}

WorkerDb::WorkerDb(std::string root, std::string run_id, int worker, const std::vector<DbFile>& restored,
                   const std::function<std::string(const std::string&)>& read_file)
    : root_(std::move(root)), run_id_(std::move(run_id)), worker_(worker) {
  std::error_code ec;
  fs::remove_all(root_, ec);
  fs::create_directories(root_);
  if (!restored.empty()) {
    FetchDb(restored, read_file, root_ + "/db");
    // What the restored checkpoint shared is in the store already.
    for (const auto& f : restored)
      if (f.ref.rfind(checkpoint::kSharedRef, 0) == 0) in_store_[f.name] = f;
  }
  db_ = std::make_unique<RocksStateDb>(root_ + "/db");
}

WorkerDb::~WorkerDb() {
  db_.reset();
  std::error_code ec;
  fs::remove_all(root_, ec);
}

std::string WorkerDb::LocalCopy(int64_t id) const { return root_ + "/chk-" + std::to_string(id); }

std::vector<DbFile> WorkerDb::Take(int64_t id, bool self_contained) {
  const std::string dir = LocalCopy(id);
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::vector<DbFile> files;
  const std::string own = "db-w" + std::to_string(worker_) + "/";
  for (const auto& f : db_->CheckpointTo(dir)) {
    DbFile file{f.name, f.size, "", 0, true};
    if (self_contained || !IsSst(f.name)) {
      file.ref = own + f.name;  // MANIFEST, CURRENT, OPTIONS change: this checkpoint's own
    } else if (auto it = in_store_.find(f.name); it != in_store_.end()) {
      file.ref = it->second.ref;  // an SST file never changes: its CRC is known
      file.crc = it->second.crc;
      file.upload = false;
    } else {
      file.ref = checkpoint::kSharedRef + run_id_ + "-w" + std::to_string(worker_) + "-" + f.name;
    }
    if (file.upload) {
      const auto crc = FileCrc32(dir + "/" + f.name, 0, static_cast<int64_t>(f.size));
      if (!crc) throw std::runtime_error("cannot read back " + dir + "/" + f.name);
      file.crc = *crc;
    }
    files.push_back(std::move(file));
  }
  return files;
}

uint64_t WorkerDb::Upload(checkpoint::Checkpoints& store, int64_t id, const std::vector<DbFile>& files) {
  uint64_t bytes = 0;
  for (const auto& f : files) {
    if (!f.upload) continue;
    store.WriteFile(id, f.ref, ReadLocal(LocalCopy(id) + "/" + f.name));
    bytes += f.size;
  }
  return bytes;
}

void WorkerDb::Done(int64_t id, const std::vector<DbFile>& files, bool completed) {
  std::error_code ec;
  fs::remove_all(LocalCopy(id), ec);
  if (!completed) return;
  // Only what the newest complete checkpoint names is sure to stay in the
  // store (Retain removes the rest once older checkpoints go); after a
  // savepoint, which shares nothing, the next checkpoint uploads everything.
  in_store_.clear();
  for (const auto& f : files)
    if (f.ref.rfind(checkpoint::kSharedRef, 0) == 0) in_store_[f.name] = f;
}

}  // namespace streamrun
