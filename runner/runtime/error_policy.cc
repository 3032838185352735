// The error policy (docs/errors.md): a record that fails in a source, a step
// or a sink is counted at its node, then ends the run (`fail`), is dropped
// and counted (`skip`), or goes to the dead-letter sink on worker 0 as a JSON
// record that says what failed and where (`dead_letter`). Never silently.
#include "runner/record/json_writer.h"
#include "runner/runtime/worker.h"

namespace streamrun {

std::string DeadLetterJson(const RecordError& error, const std::string& source_name,
                           const std::string& position_text, const std::string& node_name) {
  std::string out = "{\"error\":";
  AppendJsonString(error.message, &out);
  out += ",\"node\":";
  AppendJsonString(node_name, &out);
  out += ",\"source\":";
  AppendJsonString(source_name, &out);
  out += ",\"position\":";
  AppendJsonString(position_text, &out);
  if (error.position.source >= 0) {  // a row a step made has no place in a source
    out += ",\"partition\":" + std::to_string(error.position.partition);
    out += ",\"offset\":" + std::to_string(error.position.offset);
  }
  if (error.position.line > 0) out += ",\"line\":" + std::to_string(error.position.line);
  if (!error.binary && IsValidUtf8(error.raw)) {
    out += ",\"raw\":";
    AppendJsonString(error.raw, &out);
  } else {  // a binary record (Protobuf, Avro) keeps its bytes exactly
    out += ",\"raw_base64\":\"";
    AppendBase64(error.raw, &out);
    out += "\"";
  }
  out += "}";
  return out;
}

namespace runtime {

void Worker::WriteDeadLetters(const std::vector<std::string>& records) {
  int dlq = plan_.dead_letter_sink;
  stats_.nodes[dlq].records_in += records.size();
  stats_.nodes[dlq].records_out += records.size();
  nodes_[dlq].sink->WriteEncoded(records);
}

void Worker::HandleErrors(int node, RecordErrors& errors) {
  const PlanNode& n = plan_.nodes[node];
  stats_.nodes[node].errors += errors.list().size();
  for (const RecordError& e : errors.list()) {
    const std::string& source_name = SourceName(e.position.source);
    std::string where = DescribePosition(e.position);
    std::string full = e.position.source < 0 ? "a row made by a step"
                                             : where + " (partition " + std::to_string(e.position.partition) +
                                                   ", offset " + std::to_string(e.position.offset) + ")";
    switch (plan_.error_policy) {
      case ErrorPolicy::kFail: {
        ++stats_.nodes[node].failed;
        std::string failure = "record error in " + NodeLabel(n) + " at " + full + ": " + e.message;
        const int point = current_piece_ >= 0 ? PointOf(current_piece_source_, PiecePoint::Kind::kDeadLetters,
                                                        plan_.dead_letter_sink, 0)
                                              : -1;
        if (point < 0) throw RunError(ErrorKind::kRecord, failure);
        // A record of a piece: the run fails once the pieces before it have
        // passed, so the error is the first in the input's order (pieces.h).
        PieceDeadLetters({std::move(failure)}, /*failure=*/true);
        break;
      }
      case ErrorPolicy::kSkip:
        ++stats_.records_skipped;
        ++stats_.nodes[node].skipped;
        break;
      case ErrorPolicy::kDeadLetter:
        dead_letters_.push_back(DeadLetterJson(e, source_name, where, n.name));
        ++stats_.records_dead_lettered;
        ++stats_.nodes[node].dead_lettered;
        break;
    }
  }
  errors.Clear();
  if (!dead_letters_.empty() && current_piece_ >= 0) {
    // Dead letters of a piece keep the file's order too (pieces.h).
    const int point =
        PointOf(current_piece_source_, PiecePoint::Kind::kDeadLetters, plan_.dead_letter_sink, 0);
    if (point >= 0) {
      PieceDeadLetters(std::move(dead_letters_), /*failure=*/false);
      dead_letters_.clear();
      return;
    }
  }
  if (!dead_letters_.empty()) {
    if (self_ == 0) {
      WriteDeadLetters(dead_letters_);
    } else {
      Message m;
      m.kind = Message::Kind::kDeadLetters;
      m.dead_letters = std::move(dead_letters_);
      exchange_.Send(0, std::move(m));
    }
    dead_letters_.clear();
  }
}

void Worker::PieceDeadLetters(std::vector<std::string> texts, bool failure) {
  if (self_ == 0) {
    PieceDeadLettersArrive(current_piece_source_, current_piece_, std::move(texts), failure);
    return;
  }
  Message m;
  m.kind = Message::Kind::kDeadLetters;
  m.from = current_piece_source_;
  m.piece = current_piece_;
  m.failure = failure;
  m.dead_letters = std::move(texts);
  exchange_.Send(0, std::move(m));
}

const std::string& Worker::SourceName(int source_index) const {
  static const std::string kUnknown = "?";
  for (const auto& n : plan_.nodes)
    if (n.kind == PlanNode::Kind::kSource && n.source_index == source_index) return n.name;
  return kUnknown;
}

std::string Worker::DescribePosition(const RecordPosition& pos) const {
  for (size_t i = 0; i < plan_.nodes.size(); ++i) {
    const auto& n = plan_.nodes[i];
    if (n.kind == PlanNode::Kind::kSource && n.source_index == pos.source)
      return nodes_[i].source->DescribePosition(pos);
  }
  return "?";
}

std::string Worker::NodeLabel(const PlanNode& n) {
  switch (n.kind) {
    case PlanNode::Kind::kSource:
      return "source '" + n.name + "'";
    case PlanNode::Kind::kTransform:
      return "transform '" + n.name + "'";
    case PlanNode::Kind::kSink:
      return "sink '" + n.name + "'";
  }
  return n.name;
}

}  // namespace runtime
}  // namespace streamrun
