#pragma once
// The file source reading one input on every worker at once (pieces.h in
// runner/runtime): the files of the glob, in name order, cut into chunks of
// about `chunk_size` bytes at line ends. Workers take the chunks in order
// from a shared counter; each chunk is a piece, so the runtime puts its
// records back in the files' order wherever order matters.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "operators/operator.h"
#include "operators/sources/line_records.h"

namespace streamrun {

// Where a checkpoint left one file, in the one format both file readers
// write and read (file.cc's whole-file reader, the chunked reader here):
// done, or the next line's byte offset, the last line's number, the
// reader's over-long-line state and the CSV header; then the highest event
// time read from it and whether it finished.
struct FilePosition {
  bool done = false;
  int64_t offset = 0;
  int64_t line = 0;
  bool skipping = false;
  bool have_header = false;
  std::string header;
  int64_t max_event_time = kNoTime;
  bool finished = false;

  SourceInstance::SavedPosition Save() const;
  static FilePosition Load(std::string_view bytes);
};

// True for a line of blanks only (skipped by the line readers).
bool IsBlankLine(std::string_view line);
// The message of a record past max_record_size.
std::string TooLongMessage(size_t max_record_bytes);
// "path:line" of a record read from file `pos.partition` of `files`.
std::string DescribeFileLine(const std::vector<std::string>& files, const RecordPosition& pos);

// The chunks of one run's files and what the workers have done with them.
// Made once per run (the source's RunShared); the instances on every worker
// share it.
class FileChunks : public RunShared {
 public:
  // `chunk_bytes` 0: one chunk per file. CSV files have their header read
  // now, for the chunks that do not start with it.
  FileChunks(std::vector<std::string> files, int64_t chunk_bytes, bool csv, size_t max_record_bytes);

  struct Chunk {
    size_t file = 0;
    int64_t start = 0;        // the byte offset of its first line
    int64_t end = INT64_MAX;  // of the next chunk's first line; INT64_MAX: to the end of the file
    bool first_of_file = false;
    // Set by a restore (read by every instance once the run starts).
    bool restored_done = false;      // read before the checkpoint
    int64_t restored_max = kNoTime;  // the highest event time the checkpoint had for it
    int64_t resume_offset = -1;      // >= 0: the checkpoint stopped inside it, here
    int64_t resume_line = 0;
    bool resume_skipping = false;
  };
  enum Status : int { kOpen = 0, kClaimed = 1, kEnded = 2 };
  // What the worker reading a chunk publishes after each batch.
  struct Progress {
    std::atomic<int> status{kOpen};
    std::atomic<int64_t> max_event_time{kNoTime};  // of the records read so far
    std::atomic<int64_t> lines{-1};                // lines in the chunk, once known
    std::atomic<int64_t> lines_before{-1};         // LinesBefore, once known
    std::atomic<int64_t> next_offset{0};           // after the last record read
    std::atomic<int64_t> line{0};                  // the last record's line number
    std::atomic<bool> skipping{false};             // inside an over-long line
  };

  const std::vector<std::string>& files() const { return files_; }
  const std::vector<Chunk>& chunks() const { return chunks_; }
  Chunk& chunk(size_t k) { return chunks_[k]; }
  Progress& progress(size_t k) { return progress_[k]; }
  const std::string& header(size_t file) const { return headers_[file]; }
  std::atomic<size_t>& next_claim() { return next_claim_; }
  // The number of lines in the file of chunk `k` before it: counted once,
  // by whoever needs it first, and kept per chunk, so the next chunk's adds
  // only its predecessor's.
  int64_t LinesBefore(size_t k);
  bool restored = false;  // a restore has set the chunks (once, for every instance)

 private:
  int64_t CountLines(size_t k);

  std::vector<std::string> files_;
  std::vector<std::string> headers_;
  std::vector<Chunk> chunks_;
  std::unique_ptr<Progress[]> progress_;
  std::atomic<size_t> next_claim_{0};
};

std::unique_ptr<SourceInstance> NewChunkedFileSource(FileChunks* chunks, const LineSourceOptions& options,
                                                     ProjectionNode projection, int source_index, int worker,
                                                     int workers);

}  // namespace streamrun
