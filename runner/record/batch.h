#pragma once
// A batch of records moving between operators (docs/architecture.md "Records, slots and views").
// Layout: `width` slots per record, row-major; the raw bytes each record came
// with (JSON text with SIMDJSON_PADDING readable bytes after it) so untouched
// records are re-emitted without re-encoding; event time and source position
// per record. All strings live in the batch's arena or in the raw bytes.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runner/record/arena.h"
#include "runner/record/value.h"

namespace streamrun {

inline constexpr int64_t kNoTime = INT64_MIN;     // no event time / no watermark yet
inline constexpr int64_t kEndOfTime = INT64_MAX;  // the watermark of a finished input

// a + b for times and durations, saturating at the end (or the start) of time
// instead of wrapping: a window's end plus a lateness near the limit stays the
// end of time. The one saturating add every operator uses.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kEndOfTime : kNoTime;
  return r;
}
inline constexpr size_t kDefaultBatchSize = 1024;

// Turns a binary record (Protobuf, Avro) into its JSON object text. Rows of a
// binary source keep their bytes as read, with only the projected fields
// decoded; the text is made when something needs it (a sink writing the whole
// record, a held record's state), so a job that reads a few fields never pays
// for writing all of them (docs/architecture.md "Records, slots and views").
// Owned by the source's plan; callable from any worker.
class RawTranscoder {
 public:
  virtual ~RawTranscoder() = default;
  // Appends the text to `out` (invalid UTF-8 in a string is replaced, as
  // in every JSON this engine writes); false with a reason on bytes that are
  // not a record, which the source's decoding has ruled out.
  virtual bool ToJson(std::string_view bytes, std::string* out, std::string* error) const = 0;
};

// Where a record came from, for errors and the dead-letter sink. A row a step
// made (a window's) has no source (-1); its offset then orders it among rows of
// equal event time (RecordOrder) and means nothing else.
struct RecordPosition {
  int32_t source = -1;    // index of the source node in the plan
  int32_t partition = 0;  // Kafka partition, or the file's index in a glob
  int64_t offset = 0;     // Kafka offset, or byte offset in the file
  int64_t line = 0;       // 1-based line for line-oriented sources; 0 otherwise
  int32_t topic = -1;     // Kafka: index of the topic among the source's topics
};

class Batch {
 public:
  explicit Batch(uint32_t width = 0) : width_(width), arena_(PooledArena()) {}

  uint32_t width() const { return width_; }
  uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Rows it can hold without allocating (0 for a batch moved from).
  size_t capacity() const { return raw_.capacity(); }

  Value* row(uint32_t i) { return slots_.data() + static_cast<size_t>(i) * width_; }
  const Value* row(uint32_t i) const { return slots_.data() + static_cast<size_t>(i) * width_; }
  // The record's JSON text (made now from a binary record's bytes, once).
  std::string_view raw(uint32_t i) const {
    if (transcoder_[i]) Materialize(i);
    return raw_[i];
  }
  // The record's bytes as they are held: the JSON text, or a binary record's
  // bytes (see RawTranscoder), for counting bytes and moving rows.
  std::string_view stored(uint32_t i) const { return raw_[i]; }
  const RawTranscoder* transcoder(uint32_t i) const { return transcoder_[i]; }
  void set_raw(uint32_t i, std::string_view r) {
    raw_[i] = r;
    transcoder_[i] = nullptr;
  }
  // A binary record's bytes (in this batch's arena), turned into JSON text by
  // `t` when raw(i) is first asked for.
  void set_binary(uint32_t i, std::string_view bytes, const RawTranscoder* t) {
    raw_[i] = bytes;
    transcoder_[i] = t;
  }
  int64_t event_time(uint32_t i) const { return event_time_[i]; }
  // The watermark in effect when the record was read, before it (docs/time-and-windows.md:
  // a record is judged against the watermark of the records before it).
  int64_t watermark(uint32_t i) const { return watermark_[i]; }
  void set_watermark(uint32_t i, int64_t w) { watermark_[i] = w; }
  void set_event_time(uint32_t i, int64_t t) { event_time_[i] = t; }
  const RecordPosition& position(uint32_t i) const { return position_[i]; }
  void set_position(uint32_t i, const RecordPosition& p) { position_[i] = p; }
  // Hash of the record's key (set by key_by; 0 before): picks its key group.
  uint64_t key_hash(uint32_t i) const { return key_hash_[i]; }
  void set_key_hash(uint32_t i, uint64_t h) { key_hash_[i] = h; }

  // When a source read these records (epoch ms), for the ingestion-time
  // latency at the sinks; kNoTime for rows a step made (a window's).
  int64_t read_ms() const { return read_ms_; }
  void set_read_ms(int64_t ms) { read_ms_ = ms; }

  // A source that reads its input in ordered pieces (a large file cut into
  // chunks read by every worker at once) marks each batch with its piece's
  // index; the runtime (runner/runtime/pieces.h) then lets the records of
  // piece k reach a step that holds state only after every piece before k,
  // so they arrive there in the input's own order. -1: not part of a piece.
  int64_t piece() const { return piece_; }
  int32_t piece_source() const { return piece_source_; }
  void set_piece(int32_t source_node, int64_t piece) {
    piece_source_ = source_node;
    piece_ = piece;
  }
  void CopyPieceFrom(const Batch& other) {
    piece_source_ = other.piece_source_;
    piece_ = other.piece_;
  }

  Arena& arena() { return *arena_; }
  const ArenaRef& shared_arena() const { return arena_; }
  // Keeps `other`'s arenas alive as long as this batch: rows AppendBorrowed
  // took from it point into them.
  void BorrowArenasOf(const Batch& other) {
    Borrow(other.arena_);
    for (const auto& a : other.borrowed_) Borrow(a);
  }

  // Appends a record with all slots null and returns its index.
  uint32_t AddRow(std::string_view raw, const RecordPosition& pos, int64_t event_time = kNoTime) {
    slots_.resize(slots_.size() + width_);
    raw_.push_back(raw);
    transcoder_.push_back(nullptr);
    position_.push_back(pos);
    event_time_.push_back(event_time);
    key_hash_.push_back(0);
    watermark_.push_back(kNoTime);
    return size_++;
  }

  // Appends rows `rows[0..n)` of `src` without copying their bytes: their
  // text and strings stay where they are, in arenas this batch keeps alive
  // (call BorrowArenasOf(src) first). For rows that change hands between
  // workers (an arena is only read once written, and the arena pool is
  // thread-safe); a row a step keeps past its batch's life needs CopyRow.
  void AppendBorrowed(const Batch& src, const uint32_t* rows, size_t n);

  // Drops the last row (e.g. one that failed to decode).
  void PopRow() {
    --size_;
    slots_.resize(slots_.size() - width_);
    raw_.pop_back();
    transcoder_.pop_back();
    position_.pop_back();
    event_time_.pop_back();
    key_hash_.pop_back();
    watermark_.pop_back();
  }

  // Keeps the rows whose flag is non-zero, in order.
  void Compact(const std::vector<uint8_t>& keep) {
    uint32_t out = 0;
    for (uint32_t i = 0; i < size_; ++i) {
      if (!keep[i]) continue;
      if (out != i) {
        for (uint32_t s = 0; s < width_; ++s) row(out)[s] = row(i)[s];
        raw_[out] = raw_[i];
        transcoder_[out] = transcoder_[i];
        position_[out] = position_[i];
        event_time_[out] = event_time_[i];
        key_hash_[out] = key_hash_[i];
        watermark_[out] = watermark_[i];
      }
      ++out;
    }
    size_ = out;
    slots_.resize(static_cast<size_t>(out) * width_);
    raw_.resize(out);
    transcoder_.resize(out);
    position_.resize(out);
    event_time_.resize(out);
    key_hash_.resize(out);
    watermark_.resize(out);
  }

  // Empties the batch for reuse. The arena is reset only if no copy of this
  // batch shares it; otherwise a fresh arena is taken.
  void Clear(uint32_t width) {
    width_ = width;
    size_ = 0;
    slots_.clear();
    raw_.clear();
    transcoder_.clear();
    position_.clear();
    event_time_.clear();
    key_hash_.clear();
    watermark_.clear();
    read_ms_ = kNoTime;
    piece_ = -1;
    piece_source_ = -1;
    borrowed_.clear();
    if (arena_.use_count() == 1) {
      arena_->Reset();
    } else {
      arena_ = PooledArena();
    }
  }

  // A copy sharing the arena (for fan-out to several consumers).
  Batch ShallowCopy() const {
    Batch b(width_);
    b.size_ = size_;
    b.slots_ = slots_;
    b.raw_ = raw_;
    b.transcoder_ = transcoder_;
    b.position_ = position_;
    b.event_time_ = event_time_;
    b.key_hash_ = key_hash_;
    b.watermark_ = watermark_;
    b.read_ms_ = read_ms_;
    b.piece_ = piece_;
    b.piece_source_ = piece_source_;
    b.arena_ = arena_;
    b.borrowed_ = borrowed_;
    return b;
  }

  void Reserve(size_t rows) {
    slots_.reserve(rows * width_);
    raw_.reserve(rows);
    transcoder_.reserve(rows);
    position_.reserve(rows);
    event_time_.reserve(rows);
    key_hash_.reserve(rows);
    watermark_.reserve(rows);
  }

 private:
  void Materialize(uint32_t i) const;
  void Borrow(const ArenaRef& a) {
    if (a == arena_) return;
    for (const auto& b : borrowed_)
      if (b == a) return;
    borrowed_.push_back(a);
  }

  uint32_t width_ = 0;
  uint32_t size_ = 0;
  std::vector<Value> slots_;
  // Mutable: raw() turns a binary record into text in place (one worker owns
  // a batch at a time).
  mutable std::vector<std::string_view> raw_;
  mutable std::vector<const RawTranscoder*> transcoder_;
  std::vector<RecordPosition> position_;
  std::vector<int64_t> event_time_;
  std::vector<uint64_t> key_hash_;
  std::vector<int64_t> watermark_;
  int64_t read_ms_ = kNoTime;
  int64_t piece_ = -1;
  int32_t piece_source_ = -1;
  ArenaRef arena_;
  std::vector<ArenaRef> borrowed_;  // BorrowArenasOf
};

// Where a record stands among records of equal event time wherever their order
// shows in a result (first, last, collect, which of two duplicates dedupe
// keeps): by where it was read (source, topic, partition, offset), then by key
// hash (the rows a window makes carry their key's), then by arrival. Records
// of one partition arrive in offset order, so at parallelism 1 this is arrival
// order; unlike arrival, it is the same at every parallelism.
struct RecordOrder {
  int64_t time = 0;
  int32_t source = -1;
  int32_t topic = -1;
  int32_t partition = 0;
  int64_t offset = 0;
  uint64_t key_hash = 0;
  uint64_t arrival = 0;

  static RecordOrder Of(const Batch& b, uint32_t i, uint64_t arrival) {
    const RecordPosition& p = b.position(i);
    return RecordOrder{b.event_time(i), p.source, p.topic, p.partition, p.offset, b.key_hash(i), arrival};
  }
  bool operator<(const RecordOrder& o) const {
    if (time != o.time) return time < o.time;
    if (source != o.source) return source < o.source;
    if (topic != o.topic) return topic < o.topic;
    if (partition != o.partition) return partition < o.partition;
    if (offset != o.offset) return offset < o.offset;
    if (key_hash != o.key_hash) return key_hash < o.key_hash;
    return arrival < o.arrival;
  }
};

// An empty batch of `width` slots, reusing one a worker handed back
// (RecycleBatch) with its vectors' capacity, so a batch per read or per
// exchange part allocates nothing once the run is going.
Batch TakeBatch(uint32_t width);
// Hands a batch that is done with back for reuse (from any thread); what it
// held is let go now.
void RecycleBatch(Batch&& batch);

// Appends a copy of row `i` of `src` to `dst` that owns its bytes (in dst's
// arena): a row that outlives its batch, or crosses to another worker, must not
// share the source's arena.
void CopyRow(const Batch& src, uint32_t i, Batch& dst);

}  // namespace streamrun
