// The file source reading one input on every worker at once (file_chunks.h).
#include "operators/sources/file_chunks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "runner/record/clock.h"
#include "runner/state/snapshot.h"

namespace streamrun {

namespace {

struct Fd {
  explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  }
  ~Fd() { ::close(fd); }
  int fd;
};

// The offset just after the first newline at or after `from`; -1 if none.
int64_t AfterNewline(int fd, int64_t from, std::string& buf) {
  buf.resize(64 << 10);
  for (int64_t at = from;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
    if (n <= 0) return -1;
    const void* nl = std::memchr(buf.data(), '\n', static_cast<size_t>(n));
    if (nl) return at + (static_cast<const char*>(nl) - buf.data()) + 1;
    at += n;
  }
}

}  // namespace

FileChunks::FileChunks(std::vector<std::string> files, int64_t chunk_bytes, bool csv, size_t max_record_bytes)
    : files_(std::move(files)), headers_(files_.size()) {
  std::string buf;
  for (size_t f = 0; f < files_.size(); ++f) {
    Fd fd(files_[f]);
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0)
      throw std::runtime_error("cannot stat " + files_[f] + ": " + std::strerror(errno));
    const int64_t size = st.st_size;
    if (csv) {
      const int64_t end = AfterNewline(fd.fd, 0, buf);
      const int64_t len = std::min<int64_t>(end < 0 ? size : end, static_cast<int64_t>(max_record_bytes));
      headers_[f].resize(static_cast<size_t>(std::max<int64_t>(len, 0)));
      if (len > 0 && ::pread(fd.fd, headers_[f].data(), static_cast<size_t>(len), 0) != len)
        throw std::runtime_error("cannot read " + files_[f] + ": " + std::strerror(errno));
      while (!headers_[f].empty() && (headers_[f].back() == '\n' || headers_[f].back() == '\r'))
        headers_[f].pop_back();
    }
    Chunk first;
    first.file = f;
    first.first_of_file = true;
    chunks_.push_back(first);
    // Every further chunk starts at the first line that starts at or after
    // a multiple of chunk_bytes: a line belongs to the chunk its first byte is in.
    for (int64_t nominal = chunk_bytes; chunk_bytes > 0 && nominal < size; nominal += chunk_bytes) {
      const int64_t start = AfterNewline(fd.fd, nominal - 1, buf);
      if (start < 0 || start >= size) break;
      if (start <= chunks_.back().start) continue;
      chunks_.back().end = start;
      Chunk c;
      c.file = f;
      c.start = start;
      chunks_.push_back(c);
      nominal = std::max(nominal, start - 1);
    }
  }
  progress_ = std::make_unique<Progress[]>(chunks_.size());
}

int64_t FileChunks::CountLines(size_t k) {
  const Chunk& c = chunks_[k];
  Fd fd(files_[c.file]);
  constexpr size_t kBlock = 1 << 20;
  thread_local std::unique_ptr<char[]> buf(new char[kBlock]);
  int64_t lines = 0;
  for (int64_t at = c.start; at < c.end;) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kBlock), c.end - at));
    const ssize_t n = ::pread(fd.fd, buf.get(), want, at);
    if (n < 0) throw std::runtime_error("cannot read " + files_[c.file] + ": " + std::strerror(errno));
    if (n == 0) break;
    lines += std::count(buf.get(), buf.get() + n, '\n');
    at += n;
  }
  return lines;
}

int64_t FileChunks::LinesBefore(size_t k) {
  if (chunks_[k].first_of_file) return 0;
  int64_t known = progress_[k].lines_before.load(std::memory_order_acquire);
  if (known >= 0) return known;
  // Back to the nearest chunk whose count before it is known, then forward.
  size_t j = k - 1;
  while (!chunks_[j].first_of_file && progress_[j].lines_before.load(std::memory_order_acquire) < 0) --j;
  int64_t lines = chunks_[j].first_of_file ? 0 : progress_[j].lines_before.load(std::memory_order_acquire);
  for (; j < k; ++j) {
    int64_t n = progress_[j].lines.load(std::memory_order_acquire);
    if (n < 0) {
      n = CountLines(j);
      progress_[j].lines.store(n, std::memory_order_release);
    }
    lines += n;
    progress_[j + 1].lines_before.store(lines, std::memory_order_release);
  }
  return lines;
}

SourceInstance::SavedPosition FilePosition::Save() const {
  SourceInstance::SavedPosition saved;
  saved.text =
      done ? "done" : "byte " + std::to_string(offset) + " (after line " + std::to_string(line) + ")";
  SnapshotWriter w(&saved.bytes);
  w.Bool(done);
  if (!done) {
    w.I64(offset);
    w.I64(line);
    w.Bool(skipping);
    w.Bool(have_header);
    w.Str(header);
  }
  w.I64(max_event_time);
  w.Bool(finished);
  return saved;
}

FilePosition FilePosition::Load(std::string_view bytes) {
  SnapshotReader r(bytes);
  FilePosition p;
  p.done = r.Bool();
  if (!p.done) {
    p.offset = r.I64();
    p.line = r.I64();
    p.skipping = r.Bool();
    p.have_header = r.Bool();
    p.header.assign(r.Str());
  }
  p.max_event_time = r.I64();
  p.finished = r.Bool();
  return p;
}

bool IsBlankLine(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string TooLongMessage(size_t max_record_bytes) {
  return "record longer than max_record_size (" + std::to_string(max_record_bytes) +
         " bytes); its first bytes are kept";
}

std::string DescribeFileLine(const std::vector<std::string>& files, const RecordPosition& pos) {
  const std::string& file =
      pos.partition >= 0 && static_cast<size_t>(pos.partition) < files.size() ? files[pos.partition] : "?";
  return file + ":" + std::to_string(pos.line);
}

namespace {

class ChunkedFileSource : public SourceInstance {
 public:
  ChunkedFileSource(FileChunks* chunks, const LineSourceOptions& options, ProjectionNode projection,
                    int source_index, int worker, int workers)
      : chunks_(chunks),
        options_(options),
        decoder_(options, std::move(projection)),
        source_index_(source_index),
        worker_(worker),
        window_(static_cast<size_t>(2 * workers)),
        delay_(options.event_time ? options.event_time->max_out_of_orderness_ms : 0) {}

  ~ChunkedFileSource() override { CloseFile(); }

  bool Next(Batch& batch, size_t max_rows, RecordErrors& errors) override {
    if (current_ < 0) {
      switch (Claim()) {
        case Claimed::kNone:
          return false;
        case Claimed::kWait:
        case Claimed::kEnded:
          return true;
        case Claimed::kOpened:
          break;
      }
    }
    const size_t k = static_cast<size_t>(current_);
    const FileChunks::Chunk& chunk = chunks_->chunks()[k];
    batch.set_piece(-1, current_);
    const int64_t now = NowMs();
    std::string error;
    while (batch.size() < max_rows) {
      std::string_view line;
      int64_t offset = 0, line_no = 0;
      const auto status = reader_->Next(&line, &offset, &line_no, &error);
      if (status == LineReader::Status::kError)
        throw std::runtime_error("reading " + chunks_->files()[chunk.file] + ": " + error);
      if (status == LineReader::Status::kEnd || offset >= chunk.end) {
        EndChunk();
        return true;
      }
      ++chunk_lines_;
      const RecordPosition pos{source_index_, static_cast<int32_t>(chunk.file), offset, line_no};
      if (status == LineReader::Status::kTooLong) {
        errors.Add(RecordError{std::string(line), pos,
                               "record longer than max_record_size (" +
                                   std::to_string(options_.max_record_bytes) +
                                   " bytes); its first bytes are kept"});
        continue;
      }
      if (IsBlankLine(line)) continue;
      if (decoder_.needs_header() && !have_header_) {
        if (!decoder_.SetCsvHeader(line, &error))
          throw std::runtime_error(chunks_->files()[chunk.file] + ": " + error);
        have_header_ = true;
        continue;
      }
      if (!decoder_.Add(line, pos, batch, errors, now, 0) || !options_.event_time) continue;
      // Judged by the records before it in this chunk; the runtime adds the
      // chunks before (runner/runtime/pieces.h).
      const uint32_t row = batch.size() - 1;
      batch.set_watermark(row, Minus(chunk_max_));
      chunk_max_ = std::max(chunk_max_, batch.event_time(row));
    }
    Publish();
    return true;
  }

  bool TakePieceEnd(PieceEnd* end) override {
    if (ends_.empty()) return false;
    *end = ends_.front();
    ends_.erase(ends_.begin());
    return true;
  }

  int64_t Watermark(int64_t now_ms) override {
    if (!options_.event_time) return decoder_.Watermark(now_ms);
    const size_t n = chunks_->chunks().size();
    const size_t upto = current_ >= 0 ? static_cast<size_t>(current_) : chunks_->next_claim().load();
    if (current_ < 0 && upto >= n) return kEndOfTime;
    // Whatever this worker reads from now on comes after every chunk below
    // `upto` in the files' order, so its watermark is at least theirs.
    int64_t max = current_ >= 0 ? chunk_max_ : kNoTime;
    while (ended_below_ < upto &&
           chunks_->progress(ended_below_).status.load(std::memory_order_acquire) == FileChunks::kEnded) {
      ended_max_ = std::max(ended_max_, MaxOf(ended_below_));
      ++ended_below_;
    }
    max = std::max(max, ended_max_);
    for (size_t j = ended_below_; j < upto; ++j) max = std::max(max, MaxOf(j));
    reported_ = std::max(reported_, Minus(max));
    return reported_;
  }

  // Positions as one reader of the files in order would have them (the
  // format the per-file reader writes, file.cc): files before the lowest
  // chunk not yet ended are done; its file stands where that chunk's reader
  // is. Chunks after it are read again after a restore: their records wait
  // at the runtime's piece points, in no state yet. Written once, by worker 0.
  void SnapshotPositions(std::map<std::string, SavedPosition>* positions) const override {
    if (worker_ != 0) return;
    FileChunks& chunks = *chunks_;
    const auto& list = chunks.chunks();
    size_t low = 0;
    while (low < list.size() && chunks.progress(low).status.load() == FileChunks::kEnded) ++low;
    int64_t file_max = kNoTime;
    for (size_t k = 0; k < list.size(); ++k) {
      const FileChunks::Chunk& c = list[k];
      if (c.first_of_file) file_max = kNoTime;
      const bool last_of_file = k + 1 == list.size() || list[k + 1].first_of_file;
      if (k < low) {
        file_max = std::max(file_max, MaxOf(k));
        if (last_of_file) Save(positions, c.file, /*done=*/true, 0, 0, false, file_max);
        continue;
      }
      // The lowest chunk not ended: its file stands here.
      FileChunks::Progress& p = chunks.progress(k);
      if (p.status.load() == FileChunks::kClaimed) {
        Save(positions, c.file, false, p.next_offset.load(), p.line.load(), p.skipping.load(),
             std::max(file_max, p.max_event_time.load()));
      } else if (c.resume_offset >= 0) {
        Save(positions, c.file, false, c.resume_offset, c.resume_line, c.resume_skipping,
             std::max(file_max, c.restored_max));
      } else if (!c.first_of_file) {
        Save(positions, c.file, false, c.start, chunks.LinesBefore(k), false, file_max);
      }
      break;
    }
  }

  void RestorePositions(const std::map<std::string, std::string>& positions, int64_t watermark) override {
    reported_ = std::max(reported_, watermark);
    if (chunks_->restored) return;
    chunks_->restored = true;
    const auto& list = chunks_->chunks();
    for (size_t k = 0; k < list.size();) {
      const size_t file = list[k].file;
      size_t last = k;
      while (last + 1 < list.size() && !list[last + 1].first_of_file) ++last;
      auto it = positions.find(chunks_->files()[file]);
      if (it != positions.end()) {
        const FilePosition saved = FilePosition::Load(it->second);
        const bool done = saved.done;
        const int64_t offset = saved.offset, line = saved.line, max = saved.max_event_time;
        const bool skipping = saved.skipping;
        for (size_t j = k; j <= last; ++j) {
          FileChunks::Chunk& c = chunks_->chunk(j);
          if (done || c.end <= offset) {
            c.restored_done = true;
            if (j == last || !done) c.restored_max = max;
            continue;
          }
          c.resume_offset = offset;
          c.resume_line = line;
          c.resume_skipping = skipping;
          c.restored_max = max;
          break;
        }
      }
      k = last + 1;
    }
  }

  std::string DescribePosition(const RecordPosition& pos) const override {
    return DescribeFileLine(chunks_->files(), pos);
  }

 private:
  enum class Claimed { kNone, kWait, kEnded, kOpened };

  int64_t Minus(int64_t t) const { return t == kNoTime ? kNoTime : t - delay_; }

  int64_t MaxOf(size_t k) const {
    return std::max(chunks_->progress(k).max_event_time.load(std::memory_order_acquire),
                    chunks_->chunks()[k].restored_max);
  }

  // Takes the next chunk in order, unless it is too far ahead of the lowest
  // one not yet ended (its records would only wait at the piece points).
  Claimed Claim() {
    const size_t n = chunks_->chunks().size();
    while (true) {
      size_t k = chunks_->next_claim().load();
      if (k >= n) return Claimed::kNone;
      while (lowest_open_ < n &&
             chunks_->progress(lowest_open_).status.load(std::memory_order_acquire) == FileChunks::kEnded)
        ++lowest_open_;
      if (k >= lowest_open_ + window_) return Claimed::kWait;
      if (!chunks_->next_claim().compare_exchange_weak(k, k + 1)) continue;
      FileChunks::Chunk& c = chunks_->chunk(k);
      if (c.restored_done) {
        // Read before the checkpoint: only its end, for the order.
        chunks_->progress(k).status.store(FileChunks::kEnded, std::memory_order_release);
        ends_.push_back(PieceEnd{static_cast<int64_t>(k), Minus(c.restored_max)});
        return Claimed::kEnded;
      }
      Open(k);
      return Claimed::kOpened;
    }
  }

  void Open(size_t k) {
    const FileChunks::Chunk& c = chunks_->chunks()[k];
    int64_t offset = c.start, line = 0;
    bool skipping = false;
    chunk_max_ = kNoTime;
    count_lines_ = c.resume_offset < 0;
    if (c.resume_offset >= 0) {
      offset = c.resume_offset;
      line = c.resume_line;
      skipping = c.resume_skipping;
      chunk_max_ = c.restored_max;
    } else {
      line = chunks_->LinesBefore(k);
    }
    if (fd_ < 0 || open_file_ != c.file) {
      CloseFile();
      const std::string& path = chunks_->files()[c.file];
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
      open_file_ = c.file;
    }
    if (::lseek(fd_, offset, SEEK_SET) < 0)
      throw std::runtime_error("cannot seek " + chunks_->files()[c.file] + ": " + std::strerror(errno));
    // One reader for every chunk: its buffer is kept.
    if (!reader_) reader_ = std::make_unique<LineReader>(fd_, options_.max_record_bytes);
    reader_->set_fd(fd_);
    reader_->set_end(c.end == INT64_MAX ? -1 : c.end);
    reader_->StartAt(offset, line, skipping);
    have_header_ = false;
    if (decoder_.needs_header() && offset > 0) {
      std::string error;
      if (!decoder_.SetCsvHeader(chunks_->header(c.file), &error))
        throw std::runtime_error(chunks_->files()[c.file] + ": " + error);
      have_header_ = true;
    }
    chunk_lines_ = 0;
    current_ = static_cast<int64_t>(k);
    FileChunks::Progress& p = chunks_->progress(k);
    p.next_offset.store(offset);
    p.line.store(line);
    p.skipping.store(skipping);
    p.max_event_time.store(chunk_max_);
    p.status.store(FileChunks::kClaimed, std::memory_order_release);
  }

  void Publish() {
    FileChunks::Progress& p = chunks_->progress(static_cast<size_t>(current_));
    p.next_offset.store(reader_->next_offset(), std::memory_order_relaxed);
    p.line.store(reader_->line_no(), std::memory_order_relaxed);
    p.skipping.store(reader_->skipping(), std::memory_order_relaxed);
    p.max_event_time.store(chunk_max_, std::memory_order_release);
  }

  void EndChunk() {
    const size_t k = static_cast<size_t>(current_);
    FileChunks::Progress& p = chunks_->progress(k);
    p.max_event_time.store(chunk_max_, std::memory_order_release);
    if (count_lines_) p.lines.store(chunk_lines_, std::memory_order_release);
    p.status.store(FileChunks::kEnded, std::memory_order_release);
    ends_.push_back(PieceEnd{current_, Minus(chunk_max_)});
    current_ = -1;
  }

  void CloseFile() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void Save(std::map<std::string, SavedPosition>* positions, size_t file, bool done, int64_t offset,
            int64_t line, bool skipping, int64_t max) const {
    FilePosition p;
    p.done = p.finished = done;
    p.offset = offset;
    p.line = line;
    p.skipping = skipping;
    p.have_header = !done && decoder_.needs_header() && offset > 0;
    if (p.have_header) p.header = chunks_->header(file);
    p.max_event_time = max;
    (*positions)[chunks_->files()[file]] = p.Save();
  }

  FileChunks* chunks_;
  const LineSourceOptions& options_;
  LineDecoder decoder_;
  int source_index_;
  int worker_;
  size_t window_;
  int64_t delay_;
  int64_t current_ = -1;  // the chunk being read
  std::unique_ptr<LineReader> reader_;
  int fd_ = -1;
  size_t open_file_ = 0;
  bool have_header_ = false;
  bool count_lines_ = true;
  int64_t chunk_lines_ = 0;
  int64_t chunk_max_ = kNoTime;  // the highest event time read in the current chunk
  std::vector<PieceEnd> ends_;
  size_t lowest_open_ = 0;       // chunks below have ended
  size_t ended_below_ = 0;       // for Watermark: chunks below have ended ...
  int64_t ended_max_ = kNoTime;  // ... with this highest event time
  int64_t reported_ = kNoTime;
};

}  // namespace

std::unique_ptr<SourceInstance> NewChunkedFileSource(FileChunks* chunks, const LineSourceOptions& options,
                                                     ProjectionNode projection, int source_index, int worker,
                                                     int workers) {
  return std::make_unique<ChunkedFileSource>(chunks, options, std::move(projection), source_index, worker,
                                             workers);
}

}  // namespace streamrun
