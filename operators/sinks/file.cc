// file sink: JSON lines to a file, or to part files in a directory (docs/operators.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "operators/sinks/line_writer.h"
#include "operators/sinks/sinks.h"

namespace streamrun {

const config::ComponentSpec& FileSinkSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSink;
    s.name = "file";
    s.summary = "Write records to a file, one JSON object per line.";
    s.description =
        "A `path` ending in `/` is a directory of part files `part-W-NNNNN.jsonl` (W: the "
        "worker), a new part started when one reaches `part_size` bytes. The file (or part) "
        "is created or truncated when the pipeline starts, unless `append: true`.";
    s.value = Obj("",
                  {Required(Str("path", "The output file, or a directory ending in `/`.")),
                   Default(Enum("format", {"json"}, "Output format."), "json"),
                   Default(Bool("append", "Append to an existing file instead of truncating it."), "false"),
                   Default(Int("part_size", "Bytes after which a directory sink starts a new part file."),
                           "134217728")},
                  "");
    s.example = "archive:\n  type: file\n  input: cleaned\n  path: out/cleaned.jsonl";
    return s;
  }();
  return spec;
}

namespace {

// Exactly-once (checkpoints on): records go to `<file>.inprogress`. At a
// checkpoint it becomes `<file>.pending-<id>`; when the checkpoint completes it
// is published: appended to the file (a single file) or renamed to its part name
// (a directory). The checkpoint holds what was pending and the file's length
// before it, so a restore finishes a publish a crash interrupted and cuts off
// anything written after the checkpoint.
class FileSinkInstance : public SinkInstance {
 public:
  FileSinkInstance(std::string path, bool append, int64_t part_size)
      : path_(std::move(path)), append_(append), part_size_(part_size) {
    directory_ = !path_.empty() && path_.back() == '/';
  }
  ~FileSinkInstance() override {
    try {
      Close();
    } catch (...) {
    }
  }

  void Write(const Batch& batch, const RecordView& view) override {
    EnsureOpen();
    writer_->Write(batch, view);
    MaybeRoll();
  }
  void WriteEncoded(const std::vector<std::string>& records) override {
    EnsureOpen();
    writer_->WriteEncoded(records);
    MaybeRoll();
  }
  void Flush() override {
    EnsureOpen();
    if (writer_) writer_->Flush();
  }
  void Close() override {
    if (closed_) return;
    EnsureOpen();
    closed_ = true;
    CloseCurrent();
    // Exactly once: the final checkpoint published everything; an empty file
    // in progress is all that is left.
    if (exactly_once_ && written_ == 0) std::filesystem::remove(current_);
  }

  void BeginExactlyOnce(const std::vector<std::string>& recovered) override {
    exactly_once_ = true;
    if (directory_) std::filesystem::create_directories(path_);
    // One file sink, on worker 0: at most one state.
    Recover(recovered.empty() ? std::string() : recovered.front());
  }

  void ResumeAtLeastOnce(const std::vector<std::string>& recovered) override {
    // An exactly-once checkpoint's pending files first (the mode was switched).
    if (!recovered.empty()) Recover(recovered.front());
    resume_ = true;
    if (directory_) part_ = std::max(part_, NextFreePart());
  }

  std::string PreCommit(int64_t id) override {
    EnsureOpen();
    if (!exactly_once_) {
      // At least once: what came before the checkpoint is on disk.
      Flush();
      if (writer_) Sync(fd_, current_);
      return {};
    }
    Flush();
    written_ = static_cast<int64_t>(writer_->bytes_written());
    if (written_ > 0) {
      Sync(fd_, current_);
      CloseCurrent();
      const std::string pending =
          current_.substr(0, current_.size() - kInProgress.size()) + ".pending-" + std::to_string(id);
      Rename(current_, pending);
      pending_.push_back(Pending{id, pending, written_});
      if (directory_) ++part_;
      OpenInProgress();
    }
    // What a restore needs: the file's length before the pending data (single
    // file), the pending files in order with their sizes, the next part number.
    std::string state;
    SnapshotWriter w(&state);
    w.I64(published_length_);
    w.I64(part_);
    w.U64(pending_.size());
    for (const auto& p : pending_) {
      w.I64(p.id);
      w.Str(p.file);
      w.I64(p.bytes);
    }
    return state;
  }

  void Commit(int64_t id) override {
    if (!exactly_once_) return;
    size_t done = 0;
    for (; done < pending_.size() && pending_[done].id <= id; ++done) Publish(pending_[done]);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
  }

 private:
  static inline const std::string kInProgress = ".inprogress";
  struct Pending {
    int64_t id;
    std::string file;
    int64_t bytes;
  };

  void EnsureOpen() {
    if (writer_ || closed_) return;
    if (exactly_once_) {
      OpenInProgress();
    } else {
      if (directory_) std::filesystem::create_directories(path_);
      Open(PartName(part_++), append_ || resume_);
    }
  }

  std::string PartName(int64_t part) const {
    if (!directory_) return path_;
    char name[64];
    std::snprintf(name, sizeof name, "part-0-%05lld.jsonl", static_cast<long long>(part));
    return path_ + name;
  }

  void Open(const std::string& file, bool append) {
    current_ = file;
    auto parent = std::filesystem::path(file).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    fd_ = ::open(current_.c_str(), flags, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open " + current_ + ": " + std::strerror(errno));
    writer_ = std::make_unique<JsonLineWriter>(fd_, current_);
    written_ = 0;
  }

  // A directory's first part number that no part file has.
  int64_t NextFreePart() const {
    int64_t next = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
      const std::string name = entry.path().filename().string();
      long long part = -1;
      if (std::sscanf(name.c_str(), "part-0-%lld.jsonl", &part) == 1)
        next = std::max<int64_t>(next, part + 1);
    }
    return next;
  }

  void OpenInProgress() { Open(PartName(part_) + kInProgress, false); }

  void CloseCurrent() {
    if (!writer_) return;
    writer_->Flush();
    written_ = static_cast<int64_t>(writer_->bytes_written());
    writer_.reset();
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      throw std::runtime_error("closing " + current_ + ": " + std::strerror(errno));
    }
    fd_ = -1;
  }

  void MaybeRoll() {
    if (!directory_ || exactly_once_) return;  // exactly once: a part per checkpoint
    if (static_cast<int64_t>(writer_->bytes_written() + writer_->buffered()) < part_size_) return;
    CloseCurrent();
    Open(PartName(part_++), false);
  }

  // Pending data becomes output. Idempotent: a restore may repeat a publish a
  // crash cut short (a single file: cut back to the length before, append again).
  void Publish(const Pending& p) {
    if (directory_) {
      if (std::filesystem::exists(p.file)) {
        const std::string final_name = p.file.substr(0, p.file.rfind(".pending-"));
        Rename(p.file, final_name);
      }
      return;
    }
    if (std::filesystem::exists(p.file)) {
      AppendFile(p.file, path_, published_length_);
      std::filesystem::remove(p.file);
    }
    published_length_ += p.bytes;
  }

  // Back to the checkpoint's state: publish its pending files, drop any later output.
  void Recover(const std::string& state) {
    pending_.clear();
    published_length_ = 0;
    part_ = 0;
    if (!state.empty()) {
      SnapshotReader r(state);
      published_length_ = r.I64();
      part_ = r.I64();
      for (uint64_t n = r.U64(); n > 0; --n) {
        Pending p;
        p.id = r.I64();
        p.file = std::string(r.Str());
        p.bytes = r.I64();
        pending_.push_back(p);
      }
    }
    if (!directory_) {
      if (state.empty() && !append_) Truncate(path_, 0);
      if (state.empty() && append_) published_length_ = FileSize(path_);
    }
    for (const auto& p : pending_) Publish(p);
    pending_.clear();
    if (!directory_) Truncate(path_, published_length_);
    RemoveLeftovers(state.empty());
  }

  // In-progress and pending files no checkpoint covers (a crash left them); in a
  // directory on a fresh start, every part too (as a plain run truncates).
  void RemoveLeftovers(bool fresh) {
    namespace fs = std::filesystem;
    const fs::path file(path_);
    const fs::path dir = directory_                   ? fs::path(path_)
                         : file.parent_path().empty() ? fs::path(".")
                                                      : file.parent_path();
    const std::string stem = directory_ ? "part-0-" : file.filename().string();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(stem, 0) != 0) continue;
      const bool leftover =
          name.find(".inprogress") != std::string::npos || name.find(".pending-") != std::string::npos;
      if (leftover || (fresh && directory_ && !append_)) fs::remove(entry.path(), ec);
    }
  }

  static void Rename(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) != 0)
      throw std::runtime_error("renaming " + from + " to " + to + ": " + std::strerror(errno));
  }
  static void Sync(int fd, const std::string& name) {
    if (::fsync(fd) != 0) throw std::runtime_error("fsync " + name + ": " + std::strerror(errno));
  }
  static int64_t FileSize(const std::string& file) {
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    return ec ? 0 : static_cast<int64_t>(size);
  }
  static void Truncate(const std::string& file, int64_t length) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + file + ": " + std::strerror(errno));
    const bool ok = ::ftruncate(fd, length) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("truncating " + file + ": " + std::strerror(errno));
  }
  // Writes `from` onto `to` at `at` (cutting `to` there first), then syncs.
  static void AppendFile(const std::string& from, const std::string& to, int64_t at) {
    Truncate(to, at);
    int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throw std::runtime_error("cannot open " + from + ": " + std::strerror(errno));
    int out = ::open(to.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (out < 0) {
      ::close(in);
      throw std::runtime_error("cannot open " + to + ": " + std::strerror(errno));
    }
    char buf[1 << 16];
    bool ok = true;
    while (ok) {
      ssize_t n = ::read(in, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = n == 0;
        break;
      }
      for (ssize_t done = 0; done < n;) {
        ssize_t m = ::write(out, buf + done, static_cast<size_t>(n - done));
        if (m < 0 && errno == EINTR) continue;
        if (m < 0) {
          ok = false;
          break;
        }
        done += m;
      }
    }
    ok = ok && ::fsync(out) == 0;
    ::close(in);
    ::close(out);
    if (!ok) throw std::runtime_error("publishing " + from + " to " + to + ": " + std::strerror(errno));
  }

  std::string path_;
  bool append_;
  int64_t part_size_;
  bool resume_ = false;  // at least once, restored: the output goes on
  bool directory_ = false;
  bool closed_ = false;
  bool exactly_once_ = false;
  int64_t part_ = 0;
  int fd_ = -1;
  int64_t written_ = 0;  // bytes in the current file (in progress, when exactly once)
  std::string current_;
  std::unique_ptr<JsonLineWriter> writer_;
  std::vector<Pending> pending_;  // prepared, not yet published
  int64_t published_length_ = 0;  // a single file: its length with everything published
};

class FileSinkPlan : public SinkPlan {
 public:
  FileSinkPlan(std::string path, bool append, int64_t part_size)
      : path_(std::move(path)), append_(append), part_size_(part_size) {}
  std::unique_ptr<SinkInstance> Instantiate(int) const override {
    return std::make_unique<FileSinkInstance>(path_, append_, part_size_);
  }
  std::string Describe() const override { return "file " + path_ + " (json)"; }
  std::string DescribeState(std::string_view state) const override {
    if (state.empty()) return {};
    SnapshotReader r(state);
    const int64_t published = r.I64();
    r.I64();  // next part
    uint64_t files = r.U64(), bytes = 0;
    for (uint64_t n = files; n > 0; --n) {
      r.I64();
      r.Str();
      bytes += static_cast<uint64_t>(r.I64());
    }
    std::string text = std::to_string(files) + " pending file" + (files == 1 ? "" : "s") + " (" +
                       std::to_string(bytes) + " bytes)";
    if (!IsDirectory()) text += "; " + std::to_string(published) + " bytes of " + path_ + " published before";
    return text;
  }

 private:
  bool IsDirectory() const { return !path_.empty() && path_.back() == '/'; }
  std::string path_;
  bool append_;
  int64_t part_size_;
};

}  // namespace

std::unique_ptr<SinkPlan> PlanFileSink(const config::ConfNode& node, PlanContext& ctx) {
  const config::ConfNode* path = node.Find("path");
  if (!path || path->scalar.empty()) {
    ctx.Error(node.mark, "missing 'path'");
    return nullptr;
  }
  bool append = false;
  if (const auto* a = node.Find("append")) append = a->scalar == "true";
  int64_t part_size = 134217728;
  if (const auto* p = node.Find("part_size")) {
    try {
      part_size = std::stoll(p->scalar);
    } catch (...) {
      ctx.Error(p->mark, "part_size must be a number of bytes");
      return nullptr;
    }
    if (part_size <= 0) {
      ctx.Error(p->mark, "part_size must be positive");
      return nullptr;
    }
  }
  return std::make_unique<FileSinkPlan>(path->scalar, append, part_size);
}

}  // namespace streamrun
