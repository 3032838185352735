// file source: JSON lines, CSV or raw lines from a file or a glob of files (docs/operators.md).
#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "operators/sources/file_chunks.h"
#include "operators/sources/line_records.h"
#include "operators/sources/sources.h"
#include "runner/record/clock.h"

namespace streamrun {

const config::ComponentSpec& FileSourceSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kSource;
    s.name = "file";
    s.summary = "Read records from a file or a glob of files.";
    s.description =
        "Files matching `path` are read in name order, each as one partition (its index in "
        "the sorted list). A bounded source ends after the last file, sending the final "
        "watermark so every open window fires. With `bounded: false` the last file is "
        "followed like `tail -f` and the source never ends on its own. At parallelism 2 or more, "
        "bounded JSON, CSV and raw files are cut into chunks of `chunk_size` bytes at line ends "
        "and every worker reads chunks at once; records are put back in the files' order "
        "wherever order matters, so results are those of one reader.";
    std::vector<FieldSpec> fields = {
        Required(Str("path", "A file path or a glob such as `data/clicks-*.jsonl`.")),
        Default(Bool("bounded", "End after the last file (true) or follow it for new lines (false)."),
                "true"),
        Default(Int("chunk_size",
                    "Bytes per chunk when several workers read the files at once (see above); 0 reads "
                    "each file whole on one worker."),
                "262144"),
    };
    for (auto& f : LineSourceFields()) fields.push_back(f);
    s.value = Obj("", fields, "");
    s.example =
        "clicks:\n  type: file\n  path: data/clicks.jsonl\n  format: json\n  event_time: { field: ts }";
    return s;
  }();
  return spec;
}

namespace {

class FileSourceInstance : public SourceInstance {
 public:
  FileSourceInstance(std::vector<std::string> files, std::vector<size_t> mine, bool bounded,
                     const LineSourceOptions& options, ProjectionNode projection, int source_index)
      : files_(std::move(files)),
        mine_(std::move(mine)),
        bounded_(bounded),
        decoder_(options, std::move(projection)),
        source_index_(source_index),
        max_record_bytes_(options.max_record_bytes) {}

  ~FileSourceInstance() override {
    if (fd_ >= 0) ::close(fd_);
  }

  bool Next(Batch& batch, size_t max_rows, RecordErrors& errors) override {
    const int64_t now = NowMs();
    while (batch.size() < max_rows) {
      if (!reader_) {
        if (next_file_ >= mine_.size()) break;
        if (!OpenNext(errors)) continue;
      }
      std::string_view line;
      int64_t offset, line_no;
      std::string error;
      auto status = reader_->Next(&line, &offset, &line_no, &error);
      RecordPosition pos{source_index_, static_cast<int32_t>(current_), offset, line_no};
      if (status == LineReader::Status::kEnd) {
        if (!bounded_ && next_file_ == mine_.size()) {
          // Follow the last file: wait for more and tell the caller we are alive.
          reader_->ClearEof();
          if (batch.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
          return true;
        }
        decoder_.watermarks().Finish(static_cast<int32_t>(current_), now);
        CloseCurrent();
        continue;
      }
      if (status == LineReader::Status::kError) {
        throw std::runtime_error("reading " + files_[current_] + ": " + error);
      }
      if (status == LineReader::Status::kTooLong) {
        errors.Add(RecordError{std::string(line), pos, TooLongMessage(max_record_bytes_)});
        continue;
      }
      if (status == LineReader::Status::kBad) {
        errors.Add(RecordError{std::string(line), pos, error, /*binary=*/true});
        continue;
      }
      if (!decoder_.binary() && IsBlankLine(line)) continue;
      if (decoder_.needs_header() && !have_header_) {
        if (!decoder_.SetCsvHeader(line, &error)) {
          throw std::runtime_error(files_[current_] + ": " + error);
        }
        have_header_ = true;
        header_.assign(line);
        continue;
      }
      decoder_.Add(line, pos, batch, errors, now);
    }
    return !batch.empty() || next_file_ < mine_.size() || reader_ != nullptr || !errors.empty();
  }

  bool Empty() const override { return mine_.empty(); }

  int64_t Watermark(int64_t now_ms) override {
    if (!reader_ && next_file_ >= mine_.size()) return kEndOfTime;
    return decoder_.Watermark(now_ms);
  }

  // Per file, by path, its FilePosition (file_chunks.h). Files not yet opened
  // have no entry.
  void SnapshotPositions(std::map<std::string, SavedPosition>* positions) const override {
    for (size_t k = 0; k < next_file_; ++k) {
      const size_t file = mine_[k];
      FilePosition p;
      p.done = !(reader_ && file == current_);
      if (!p.done) {
        p.offset = reader_->next_offset();
        p.line = reader_->line_no();
        p.skipping = reader_->skipping();
        p.have_header = have_header_;
        p.header = header_;
      }
      const auto saved = decoder_.watermarks().Save(static_cast<int32_t>(file));
      p.max_event_time = saved.max_event_time;
      p.finished = saved.finished;
      (*positions)[files_[file]] = p.Save();
    }
  }

  void RestorePositions(const std::map<std::string, std::string>& positions, int64_t watermark) override {
    const int64_t now = NowMs();
    // Files are read in order: skip the finished ones, reopen the one in progress.
    while (next_file_ < mine_.size()) {
      auto it = positions.find(files_[mine_[next_file_]]);
      if (it == positions.end()) break;
      const FilePosition p = FilePosition::Load(it->second);
      const size_t file = mine_[next_file_];
      decoder_.watermarks().Restore(static_cast<int32_t>(file), {p.max_event_time, p.finished}, watermark,
                                    now);
      if (p.done) {
        ++next_file_;
        continue;
      }
      RecordErrors unused;
      OpenNext(unused);
      if (::lseek(fd_, p.offset, SEEK_SET) < 0)
        throw std::runtime_error("cannot seek " + files_[file] + " to the checkpoint's offset " +
                                 std::to_string(p.offset) + ": " + std::strerror(errno));
      reader_->StartAt(p.offset, p.line, p.skipping);
      if (p.have_header) {
        std::string error;
        if (!decoder_.SetCsvHeader(p.header, &error)) throw std::runtime_error(files_[file] + ": " + error);
        have_header_ = true;
        header_ = p.header;
      }
      break;
    }
  }

  std::string DescribePosition(const RecordPosition& pos) const override {
    return DescribeFileLine(files_, pos);
  }

 private:
  bool OpenNext(RecordErrors&) {
    current_ = mine_[next_file_++];
    const std::string& path = files_[current_];
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    reader_ = std::make_unique<LineReader>(fd_, max_record_bytes_);
    reader_->set_delimited(decoder_.binary());
    have_header_ = false;
    return true;
  }

  void CloseCurrent() {
    reader_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::vector<std::string> files_;
  std::vector<size_t> mine_;  // indexes into files_ this worker reads
  bool bounded_;
  LineDecoder decoder_;
  int source_index_;
  size_t max_record_bytes_;
  size_t next_file_ = 0;  // next index into mine_
  size_t current_ = 0;    // index into files_ of the open file
  int fd_ = -1;
  std::unique_ptr<LineReader> reader_;
  bool have_header_ = false;
  std::string header_;  // the CSV header line, for checkpoints
};

std::vector<std::string> Glob(const std::string& pattern) {
  std::vector<std::string> files;
  glob_t g{};
  int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  if (files.empty()) throw std::runtime_error("no file matches '" + pattern + "'");
  std::sort(files.begin(), files.end());
  return files;
}

class FileSourcePlan : public SourcePlan {
 public:
  FileSourcePlan(std::string path, bool bounded, int64_t chunk_bytes, LineSourceOptions options)
      : path_(std::move(path)), bounded_(bounded), chunk_bytes_(chunk_bytes), options_(std::move(options)) {}

  // Several workers read the files in chunks when the runtime can put their
  // records back in order (OperatorContext::ordered_pieces), the files end
  // (a followed file has no last chunk) and records are lines (a
  // length-prefixed binary file cannot be cut without reading it).
  bool Chunked(int workers) const {
    return workers > 1 && bounded_ && options_.format != LineFormat::kProtobuf &&
           options_.format != LineFormat::kAvro;
  }

  std::unique_ptr<RunShared> MakeRunShared(int workers) const override {
    if (!Chunked(workers)) return nullptr;
    return std::make_unique<FileChunks>(Glob(path_), chunk_bytes_, options_.format == LineFormat::kCsv,
                                        options_.max_record_bytes);
  }

  std::unique_ptr<SourceInstance> Instantiate(const OperatorContext& context, const Universe& universe,
                                              int source_index) const override {
    const int worker = context.worker, workers = context.workers;
    if (context.ordered_pieces && context.shared)
      return NewChunkedFileSource(static_cast<FileChunks*>(context.shared), options_, universe.projection,
                                  source_index, worker, workers);
    std::vector<std::string> files = Glob(path_);
    // File i belongs to worker i % workers; positions use the index in the full list.
    std::vector<size_t> mine;
    for (size_t i = 0; i < files.size(); ++i)
      if (static_cast<int>(i % static_cast<size_t>(workers)) == worker) mine.push_back(i);
    return std::make_unique<FileSourceInstance>(std::move(files), std::move(mine), bounded_, options_,
                                                universe.projection, source_index);
  }
  std::string Describe() const override {
    return "file " + path_ + " (" + DescribeLineSourceOptions(options_) + (bounded_ ? "" : ", follow") + ")";
  }

 private:
  std::string path_;
  bool bounded_;
  int64_t chunk_bytes_;
  LineSourceOptions options_;
};

}  // namespace

std::unique_ptr<SourcePlan> PlanFileSource(const config::ConfNode& node, PlanContext& ctx) {
  const config::Options options = ctx.Options(node, FileSourceSpec());
  LineSourceOptions line;
  if (!ParseLineSourceOptions(options, ctx, &line)) return nullptr;
  const std::string path = options.String("path");
  if (path.empty()) {
    ctx.Error(node.mark, "missing 'path'");
    return nullptr;
  }
  const int64_t chunk_bytes = options.Int("chunk_size");
  if (chunk_bytes < 0) {
    ctx.Error(options.Node("chunk_size")->mark, "chunk_size must be 0 or a positive number of bytes");
    return nullptr;
  }
  return std::make_unique<FileSourcePlan>(path, options.Bool("bounded"), chunk_bytes, line);
}

}  // namespace streamrun
