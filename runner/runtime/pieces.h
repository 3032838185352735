#pragma once
// Sources read in ordered pieces (docs/architecture.md "One file on every
// worker"). A large file is cut into chunks at line ends, and every worker
// reads chunks at once; the records of each chunk carry its index (the
// piece, Batch::piece) and pass the order-free steps after the source
// (filter, set, select, drop, key_by) on the worker that read them. Where
// order matters again, at a piece point (routing.h: the first exchange on
// each path, a sink fed straight from the source, the dead-letter sink),
// the receiving worker lets piece k through only once every piece before it
// has ended, holding later ones until then. So each keyed instance, each
// sink and the dead letters see the records in the file's own order, as one
// worker reading the file alone would, and results are the same at every
// parallelism.
//
// Watermarks. A record carries the watermark of the records before it *in
// its piece*; the piece's end carries the highest watermark its records
// reached. When a record passes its point, its watermark is raised to the
// highest of the pieces before its own: exactly the watermark a single
// reader would have judged it by. The exchange does not lower it to the
// other workers' (that would depend on timing); the other workers'
// watermarks still bound when windows fire, and each is at most the
// watermark of anything its worker sends later, so a record that is on time
// by its own watermark never meets a window that already fired.
//
// Checkpoints. A piece's records that wait at a point are in no state, and
// the source counts the file as read only up to the lowest piece not yet
// ended (file.cc), so a restore reads the later pieces again.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runner/record/batch.h"

namespace streamrun::runtime {

// What waits at a piece point: records for a step (from a worker) or a sink
// (from a node, on a port), or dead letters.
struct PieceItem {
  int from = 0;
  int port = 0;
  Batch batch;
  std::vector<std::string> dead_letters;
  std::string failure;  // error_policy fail: the run fails with this when the item passes
};

// The order at one point for one source: piece `next` passes at once, later
// pieces wait until the pieces before them have ended.
struct PieceOrder {
  int64_t next = 0;
  int64_t watermark = kNoTime;  // the highest any piece before `next` reached
  struct Waiting {
    std::vector<PieceItem> items;
    bool ended = false;
    int64_t watermark = kNoTime;
  };
  std::map<int64_t, Waiting> waiting;
};

}  // namespace streamrun::runtime
