#pragma once
// The bytes of a checkpoint's state: what operators write at a checkpoint and
// read back at a restore. Little-endian fixed widths and LEB128 varints; strings
// with their length first. A reader that runs past the end throws
// SnapshotError (a damaged checkpoint is reported, never half-applied).
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runner/record/status.h"
#include "runner/state/key_groups.h"

namespace streamrun {

// A state that cannot be read back: damaged, or of another format. Checksums
// come first, so this is mostly a checkpoint of another pipeline or version.
class SnapshotError : public Error {
 public:
  explicit SnapshotError(const std::string& message) : Error(ErrorKind::kExternal, message) {}
};

class SnapshotWriter {
 public:
  explicit SnapshotWriter(std::string* out) : out_(out) {}
  void U64(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void I64(int64_t v) {  // zigzag: small magnitudes stay short
    U64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void F64(double v) {
    char b[8];
    std::memcpy(b, &v, 8);
    out_->append(b, 8);
  }
  void Bool(bool v) { out_->push_back(v ? 1 : 0); }
  void Str(std::string_view s) {
    U64(s.size());
    out_->append(s);
  }
  // Bytes another writer wrote (without a length: they delimit themselves).
  void Raw(std::string_view s) { out_->append(s); }

 private:
  std::string* out_;
};

class SnapshotReader {
 public:
  explicit SnapshotReader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }
  size_t position() const { return pos_; }
  // The bytes read since position `from`.
  std::string_view Since(size_t from) const { return in_.substr(from, pos_ - from); }
  uint64_t U64() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(Byte());
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw SnapshotError("state snapshot: malformed number");
  }
  int64_t I64() {
    const uint64_t u = U64();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  double F64() {
    Need(8);
    double v;
    std::memcpy(&v, in_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  bool Bool() { return Byte() != 0; }
  // A count of things that each take at least one more byte: a damaged count
  // fails here instead of making the reader allocate for it.
  uint64_t Count() {
    const uint64_t n = U64();
    Need(n);
    return n;
  }
  std::string_view Str() {
    const uint64_t n = U64();
    Need(n);
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  char Byte() {
    Need(1);
    return in_[pos_++];
  }
  void Need(uint64_t n) const {
    if (n > in_.size() - pos_) throw SnapshotError("state snapshot: truncated");
  }
  std::string_view in_;
  size_t pos_ = 0;
};

// One operator instance's state at a checkpoint: keyed state split by key group
// (a restore at another parallelism gives each worker the groups it owns now),
// and state that belongs to no key (a gathered step's, on worker 0).
struct StateSnapshot {
  int64_t checkpoint_id = 0;  // the checkpoint being taken
  std::array<std::string, kKeyGroups> groups;
  std::string global;
  bool empty() const {
    if (!global.empty()) return false;
    for (const auto& g : groups)
      if (!g.empty()) return false;
    return true;
  }
};

// What one worker's operator instance gets back at a restore: the bytes of the
// key groups it owns now (from whichever worker owned each before; entries are
// self-delimiting, so bytes from several workers may follow each other), and the
// global part of every worker of the checkpoint, in worker order.
struct StateRestore {
  std::array<std::string, kKeyGroups> groups;
  std::vector<std::string> globals;
  int format = 3;  // the worker-state format that wrote them (worker_state.h): 2 or 3
};

}  // namespace streamrun
