// file sink: JSON lines to a file, or to part files in a directory (SPEC section 5).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

class FileSinkInstance : public SinkInstance {
 public:
  FileSinkInstance(std::string path, bool append, int64_t part_size)
      : path_(std::move(path)), append_(append), part_size_(part_size) {
    directory_ = !path_.empty() && path_.back() == '/';
    if (directory_) std::filesystem::create_directories(path_);
    Open();
  }
  ~FileSinkInstance() override {
    try {
      Close();
    } catch (...) {
      // Close() already reported through the runtime in a normal run.
    }
  }

  void Write(const Batch& batch, const RecordView& view) override {
    writer_->Write(batch, view);
    MaybeRoll();
  }
  void WriteEncoded(const std::vector<std::string>& records) override {
    writer_->WriteEncoded(records);
    MaybeRoll();
  }
  void Flush() override {
    if (!writer_) return;
    written_ += static_cast<int64_t>(writer_->buffered());
    writer_->Flush();
  }
  void Close() override {
    if (!writer_) return;
    Flush();
    writer_.reset();
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      throw std::runtime_error("closing " + current_ + ": " + std::strerror(errno));
    }
    fd_ = -1;
  }

 private:
  void Open() {
    if (directory_) {
      char name[64];
      std::snprintf(name, sizeof name, "part-0-%05d.jsonl", part_++);
      current_ = path_ + name;
    } else {
      current_ = path_;
      auto parent = std::filesystem::path(path_).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
    }
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append_ ? O_APPEND : O_TRUNC);
    fd_ = ::open(current_.c_str(), flags, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open " + current_ + ": " + std::strerror(errno));
    writer_ = std::make_unique<JsonLineWriter>(fd_, current_);
    written_ = 0;
  }

  void MaybeRoll() {
    if (!directory_) return;
    if (written_ + static_cast<int64_t>(writer_->buffered()) < part_size_) return;
    Close();
    Open();
  }

  std::string path_;
  bool append_;
  int64_t part_size_;
  bool directory_ = false;
  int part_ = 0;
  int fd_ = -1;
  int64_t written_ = 0;
  std::string current_;
  std::unique_ptr<JsonLineWriter> writer_;
};

class FileSinkPlan : public SinkPlan {
 public:
  FileSinkPlan(std::string path, bool append, int64_t part_size)
      : path_(std::move(path)), append_(append), part_size_(part_size) {}
  std::unique_ptr<SinkInstance> Instantiate() const override {
    return std::make_unique<FileSinkInstance>(path_, append_, part_size_);
  }
  std::string Describe() const override { return "file " + path_ + " (json)"; }

 private:
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
