// file sink: JSON lines to a file, or to part files in a directory (docs/operators.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "operators/record_format.h"
#include "operators/sinks/record_writer.h"
#include "operators/sinks/sinks.h"
#include "runner/record/checksum.h"

namespace streamrun {

const config::ComponentSpec& FileSinkSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSink;
    s.name = "file";
    s.summary = "Write records to a file: JSON lines, CSV, or length-prefixed Protobuf or Avro records.";
    s.description =
        "A `path` ending in `/` is a directory of part files `part-W-NNNNN.jsonl` (W: the "
        "worker; `.csv`, `.pb` or `.avro` in those formats), a new part started when one reaches "
        "`part_size` bytes. The file (or part) is created or truncated when the pipeline starts, "
        "unless `append: true`.";
    std::vector<FieldSpec> fields = {Required(Str("path", "The output file, or a directory ending in `/`."))};
    for (auto& f :
         RecordFormatFields({"json", "csv", "protobuf", "avro"}, false,
                            "json: one object per line; csv: a header line (the first record's "
                            "fields), then a line per record; protobuf, avro: each record after its "
                            "length as a varint, with `schema:`."))
      fields.push_back(f);
    fields.push_back(
        Default(Bool("append", "Append to an existing file instead of truncating it."), "false"));
    fields.push_back(
        Default(Int("part_size", "Bytes after which a directory sink starts a new part file."), "134217728"));
    s.value = Obj("", fields, "");
    s.example = "archive:\n  type: file\n  input: cleaned\n  path: out/cleaned.jsonl";
    return s;
  }();
  return spec;
}

namespace {

// A part file's extension in a directory sink.
std::string PartExtension(format::RecordFormat f) {
  switch (f) {
    case format::RecordFormat::kCsv:
      return ".csv";
    case format::RecordFormat::kProtobuf:
      return ".pb";
    case format::RecordFormat::kAvro:
      return ".avro";
    default:
      return ".jsonl";
  }
}

// What a checkpoint holds for an exactly-once file sink. It names no file: a
// restore derives every name from the pipeline's own `path`, the part number
// and the checkpoint id, and checks each file against its length and CRC-32,
// so a checkpoint store cannot make streamrun read, publish or delete a file
// outside the sink's own names (docs/guarantees.md, "Trust and limits").
constexpr std::string_view kStateTag = "file-sink/2";
constexpr int64_t kMaxPart = 1'000'000'000;
constexpr int64_t kTailBytes = 4096;  // how much of the published output the state checks

struct PendingFile {
  int64_t id;     // the checkpoint that prepared it
  int64_t part;   // its part number (a directory); 0 for a single file
  int64_t bytes;  // its length
  uint32_t crc;   // its CRC-32
};

struct FileSinkState {
  std::string path;              // the sink's path when the checkpoint was taken
  int64_t published_length = 0;  // a single file: its length with everything published
  uint32_t tail_crc = 0;         // CRC-32 of its last min(kTailBytes, published_length) bytes
  int64_t next_part = 0;
  std::vector<PendingFile> pending;

  std::string Encode() const {
    std::string out;
    SnapshotWriter w(&out);
    w.Str(kStateTag);
    w.Str(path);
    w.I64(published_length);
    w.U64(tail_crc);
    w.I64(next_part);
    w.U64(pending.size());
    for (const auto& p : pending) {
      w.I64(p.id);
      w.I64(p.part);
      w.I64(p.bytes);
      w.U64(p.crc);
    }
    return out;
  }

  // Throws SnapshotError for a state that is damaged or of another version.
  static FileSinkState Decode(std::string_view bytes) {
    SnapshotReader r(bytes);
    if (r.Str() != kStateTag)
      throw SnapshotError("file sink state of another version (written before " + std::string(kStateTag) +
                          "): restore it with the streamrun that wrote it, or start without it");
    FileSinkState s;
    s.path = std::string(r.Str());
    s.published_length = r.I64();
    s.tail_crc = static_cast<uint32_t>(r.U64());
    s.next_part = r.I64();
    if (s.published_length < 0 || s.next_part < 0 || s.next_part > kMaxPart)
      throw SnapshotError("file sink state out of range");
    for (uint64_t n = r.U64(); n > 0; --n) {
      PendingFile p;
      p.id = r.I64();
      p.part = r.I64();
      p.bytes = r.I64();
      p.crc = static_cast<uint32_t>(r.U64());
      if (p.id <= 0 || p.part < 0 || p.part > kMaxPart || p.bytes < 0)
        throw SnapshotError("file sink state: a pending file out of range");
      s.pending.push_back(p);
    }
    if (!r.done()) throw SnapshotError("file sink state: bytes after its end");
    return s;
  }
};

// Exactly once (checkpoints on): records go to `<file>.inprogress`. At a
// checkpoint it becomes `<file>.pending-<id>`; when the checkpoint completes it
// is published: appended to the file (a single file) or renamed to its part name
// (a directory). The checkpoint holds each pending file's length and CRC and
// the output's length before them, so a restore finishes a publish a crash
// interrupted and cuts off anything written after the checkpoint. It never
// pads: an output that is missing, shorter or changed stops the restore with
// an error that says what it expected.
class FileSinkInstance : public SinkInstance {
 public:
  FileSinkInstance(std::string path, bool append, int64_t part_size, RecordFormatOptions format)
      : path_(std::move(path)), append_(append), part_size_(part_size), format_(std::move(format)) {
    directory_ = !path_.empty() && path_.back() == '/';
  }
  ~FileSinkInstance() override {
    try {
      Close();
    } catch (...) {
    }
  }

  void Write(const Batch& batch, const RecordView& view, RecordErrors& errors) override {
    EnsureOpen();
    writer_->Write(batch, view, &errors);
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
    CreateParent();
    // One file sink, on worker 0: at most one state.
    Recover(recovered.empty() ? std::string() : recovered.front());
  }

  void ResumeAtLeastOnce(const std::vector<std::string>& recovered) override {
    CreateParent();
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
      const uint32_t crc = writer_->crc();
      Sync(fd_, current_);
      CloseCurrent();
      Rename(current_, PendingName(part_, id));
      pending_.push_back(PendingFile{id, directory_ ? part_ : 0, written_, crc});
      if (directory_) ++part_;
      OpenInProgress();
    }
    FileSinkState state;
    state.path = path_;
    state.published_length = published_length_;
    state.tail_crc = tail_crc_;
    state.next_part = part_;
    state.pending = pending_;
    return state.Encode();
  }

  void Commit(int64_t id) override {
    if (!exactly_once_) return;
    size_t done = 0;
    for (; done < pending_.size() && pending_[done].id <= id; ++done) Publish(pending_[done], false);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
  }

 private:
  static inline const std::string kInProgress = ".inprogress";

  void CreateParent() {
    namespace fs = std::filesystem;
    const fs::path dir = directory_ ? fs::path(path_) : fs::path(path_).parent_path();
    std::error_code ec;
    if (!dir.empty()) fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  }

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
    std::snprintf(name, sizeof name, "part-0-%05lld", static_cast<long long>(part));
    return path_ + name + PartExtension(format_.format);
  }
  std::string PendingName(int64_t part, int64_t id) const {
    return PartName(part) + ".pending-" + std::to_string(id);
  }

  void Open(const std::string& file, bool append) {
    current_ = file;
    auto parent = std::filesystem::path(file).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    fd_ = ::open(current_.c_str(), flags, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open " + current_ + ": " + std::strerror(errno));
    writer_ = std::make_unique<RecordWriter>(
        fd_, current_, format_.format,
        format_.schema && format_.binary() ? format_.schema->NewEncoder() : nullptr);
    if (exactly_once_) writer_->TrackCrc();
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

  [[noreturn]] void Refuse(const std::string& what) const {
    throw std::runtime_error("file sink " + path_ + ": cannot continue from the checkpoint: " + what);
  }

  // True if bytes [offset, offset + length) of `file` have the CRC `crc`.
  static bool Holds(const std::string& file, int64_t offset, int64_t length, uint32_t crc) {
    const auto got = FileCrc32(file, offset, length);
    return got && *got == crc;
  }

  // The published output before `published_length_` is the one the checkpoint
  // saw: long enough, and ending in the same bytes.
  void CheckPublished() const {
    if (published_length_ == 0) return;
    const int64_t size = FileSize(path_);
    const std::string when = "published before the checkpoint";
    if (size < 0)
      Refuse("it should hold the " + std::to_string(published_length_) + " bytes " + when +
             ", but it is missing; put it back, or start without the checkpoint (remove its folder, or use a "
             "new storage)");
    if (size < published_length_)
      Refuse("it should hold the " + std::to_string(published_length_) + " bytes " + when + ", but has " +
             std::to_string(size) + "; put the whole file back, or start without the checkpoint");
    const int64_t tail = std::min(kTailBytes, published_length_);
    if (!Holds(path_, published_length_ - tail, tail, tail_crc_))
      Refuse("its first " + std::to_string(published_length_) + " bytes are not the ones " + when +
             " (the file was replaced or changed); put the original back, or start without the checkpoint");
  }

  void UpdateTail() {
    const int64_t tail = std::min(kTailBytes, published_length_);
    const auto crc = FileCrc32(path_, published_length_ - tail, tail);
    if (!crc) throw std::runtime_error("file sink " + path_ + ": cannot read back what it published");
    tail_crc_ = *crc;
  }

  // Pending data becomes output. Idempotent: a restore repeats a publish a
  // crash cut short (a single file: cut back to the length before, append
  // again). `restoring`: a missing pending file must already be in the output.
  void Publish(const PendingFile& p, bool restoring) {
    const std::string pending = PendingName(p.part, p.id);
    const bool present = std::filesystem::exists(pending);
    if (present && (FileSize(pending) != p.bytes || !Holds(pending, 0, p.bytes, p.crc)))
      Refuse("pending file " + pending + " is not the one checkpoint " + std::to_string(p.id) +
             " prepared (" + std::to_string(FileSize(pending)) + " bytes, expected " +
             std::to_string(p.bytes) + " with its checksum); the checkpoint or the file was damaged");
    if (directory_) {
      const std::string final_name = PartName(p.part);
      if (present) {
        Rename(pending, final_name);
      } else if (!(FileSize(final_name) == p.bytes && Holds(final_name, 0, p.bytes, p.crc))) {
        Refuse("neither " + pending + " nor the part it becomes (" + final_name + ", " +
               std::to_string(p.bytes) + " bytes) is there");
      }
      return;
    }
    if (present) {
      const int64_t size = FileSize(path_);
      if (size < published_length_)
        Refuse("it should hold " + std::to_string(published_length_) + " bytes before checkpoint " +
               std::to_string(p.id) + "'s output, but has " + (size < 0 ? "none" : std::to_string(size)));
      AppendFile(pending, path_, published_length_);
      std::filesystem::remove(pending);
    } else if (!(restoring && FileSize(path_) >= published_length_ + p.bytes &&
                 Holds(path_, published_length_, p.bytes, p.crc))) {
      Refuse("pending file " + pending + " is missing and " + path_ + " does not hold its " +
             std::to_string(p.bytes) + " bytes either");
    }
    published_length_ += p.bytes;
    UpdateTail();
  }

  // Back to the checkpoint's state: publish its pending files, drop any later output.
  void Recover(const std::string& bytes) {
    pending_.clear();
    published_length_ = 0;
    tail_crc_ = 0;
    part_ = 0;
    if (bytes.empty()) {
      // A fresh start (or a checkpoint taken before this sink wrote anything).
      if (!directory_) {
        if (append_) {
          published_length_ = std::max<int64_t>(0, FileSize(path_));
          if (published_length_ > 0) UpdateTail();
        } else {
          Truncate(path_, 0);
        }
      }
      RemoveLeftovers(true);
      return;
    }
    FileSinkState state = FileSinkState::Decode(bytes);
    if (state.path != path_)
      Refuse("the checkpoint's file sink wrote to '" + state.path + "', this pipeline's writes to '" + path_ +
             "'; restore with path: " + state.path + ", or start without the checkpoint");
    published_length_ = state.published_length;
    tail_crc_ = state.tail_crc;
    part_ = state.next_part;
    if (!directory_) CheckPublished();
    for (const auto& p : state.pending) Publish(p, true);
    if (!directory_) Truncate(path_, published_length_);
    RemoveLeftovers(false);
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
      // A part numbered from the checkpoint's next one on was published after
      // it (the restore goes back to an older checkpoint than the newest):
      // cut back, as a single file is truncated.
      long long part = -1;
      char rest = 0;
      const bool later = directory_ && !fresh &&
                         std::sscanf(name.c_str(), "part-0-%lld.jsonl%c", &part, &rest) == 1 && part >= part_;
      if (leftover || later || (fresh && directory_ && !append_)) fs::remove(entry.path(), ec);
    }
  }

  static void Rename(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) != 0)
      throw std::runtime_error("renaming " + from + " to " + to + ": " + std::strerror(errno));
  }
  static void Sync(int fd, const std::string& name) {
    if (::fsync(fd) != 0) throw std::runtime_error("fsync " + name + ": " + std::strerror(errno));
  }
  // -1 if the file is missing.
  static int64_t FileSize(const std::string& file) {
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    return ec ? -1 : static_cast<int64_t>(size);
  }
  // Cuts `file` to `length` (creating it when length is 0); never makes it longer.
  static void Truncate(const std::string& file, int64_t length) {
    const int64_t size = FileSize(file);
    if (size >= 0 && size < length)
      throw std::runtime_error("file sink: " + file + " has " + std::to_string(size) +
                               " bytes, fewer than the " + std::to_string(length) + " published");
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + file + ": " + std::strerror(errno));
    const bool ok = size == length || ::ftruncate(fd, length) == 0;
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
  RecordFormatOptions format_;
  bool resume_ = false;  // at least once, restored: the output goes on
  bool directory_ = false;
  bool closed_ = false;
  bool exactly_once_ = false;
  int64_t part_ = 0;
  int fd_ = -1;
  int64_t written_ = 0;  // bytes in the current file (in progress, when exactly once)
  std::string current_;
  std::unique_ptr<RecordWriter> writer_;
  std::vector<PendingFile> pending_;  // prepared, not yet published
  int64_t published_length_ = 0;      // a single file: its length with everything published
  uint32_t tail_crc_ = 0;             // CRC-32 of its last bytes (FileSinkState)
};

class FileSinkPlan : public SinkPlan {
 public:
  FileSinkPlan(std::string path, bool append, int64_t part_size, RecordFormatOptions format)
      : path_(std::move(path)), append_(append), part_size_(part_size), format_(std::move(format)) {}
  std::unique_ptr<SinkInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<FileSinkInstance>(path_, append_, part_size_, format_);
  }
  std::string Describe() const override {
    return "file " + path_ + " (" + format_.Describe() + (append_ ? ", append)" : ")");
  }
  std::string DescribeState(std::string_view state) const override {
    if (state.empty()) return {};
    FileSinkState s;
    try {
      s = FileSinkState::Decode(state);
    } catch (const SnapshotError& e) {
      return std::string("unreadable: ") + e.what();
    }
    // Held back until the checkpoint completes; once its pending file is gone
    // it was published (the commit after the manifest).
    uint64_t held = 0, held_bytes = 0, published = 0;
    for (const auto& p : s.pending) {
      char part[64];
      std::snprintf(part, sizeof part, "part-0-%05lld", static_cast<long long>(p.part));
      const std::string name = (IsDirectory() ? path_ + part + PartExtension(format_.format) : path_) +
                               ".pending-" + std::to_string(p.id);
      if (std::filesystem::exists(name)) {
        ++held;
        held_bytes += static_cast<uint64_t>(p.bytes);
      } else {
        ++published;
      }
    }
    std::string text;
    if (held > 0)
      text = std::to_string(held) + " pending file" + (held == 1 ? "" : "s") + " held back (" +
             std::to_string(held_bytes) + " bytes)";
    if (published > 0)
      text += std::string(text.empty() ? "" : "; ") + std::to_string(published) + " file" +
              (published == 1 ? "" : "s") + " published when it completed";
    if (!IsDirectory())
      text += std::string(text.empty() ? "" : "; ") + std::to_string(s.published_length) + " bytes of " +
              path_ + " published before";
    return text;
  }

 private:
  bool IsDirectory() const { return !path_.empty() && path_.back() == '/'; }
  std::string path_;
  bool append_;
  int64_t part_size_;
  RecordFormatOptions format_;
};

}  // namespace

std::unique_ptr<SinkPlan> PlanFileSink(const config::ConfNode& node, PlanContext& ctx) {
  const config::Options o = ctx.Options(node, FileSinkSpec());
  const std::string path = o.String("path");
  if (path.empty()) {
    ctx.Error(node.mark, "missing 'path'");
    return nullptr;
  }
  RecordFormatOptions format;
  if (!ParseRecordFormat(o, ctx, /*sink=*/true, "", &format)) return nullptr;
  const int64_t part_size = o.Int("part_size");
  if (part_size <= 0) {
    ctx.Error(o.Node("part_size")->mark, "part_size must be a positive number of bytes");
    return nullptr;
  }
  return std::make_unique<FileSinkPlan>(path, o.Bool("append"), part_size, std::move(format));
}

}  // namespace streamrun
