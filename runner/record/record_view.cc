#include "runner/record/record_view.h"

#include <algorithm>

#include "runner/record/json_writer.h"

namespace streamrun {

namespace {

// A scanner over the top-level members of a JSON object the decoder has already
// accepted. It only tracks strings and nesting, which is all it needs to find
// where each member's key and value start and end.
class MemberScanner {
 public:
  explicit MemberScanner(std::string_view raw) : s_(raw) {
    Skip();
    if (pos_ < s_.size() && s_[pos_] == '{') ++pos_;
  }

  // Next member: `key` is the text between the key's quotes (escapes kept),
  // `value` the raw value text. False at the end.
  bool Next(std::string_view* key, std::string_view* value) {
    Skip();
    if (pos_ < s_.size() && s_[pos_] == ',') ++pos_;
    Skip();
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    size_t key_start = pos_ + 1;
    pos_ = StringEnd(pos_);
    *key = s_.substr(key_start, pos_ > key_start ? pos_ - 1 - key_start : 0);
    Skip();
    if (pos_ < s_.size() && s_[pos_] == ':') ++pos_;
    Skip();
    size_t value_start = pos_;
    int depth = 0;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '"') {
        pos_ = StringEnd(pos_);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      }
      if (c == ',' && depth == 0) break;
      ++pos_;
    }
    size_t value_end = pos_;
    while (value_end > value_start && IsSpace(s_[value_end - 1])) --value_end;
    *value = s_.substr(value_start, value_end - value_start);
    return true;
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  void Skip() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }
  // Position just after the string starting at `at` (a quote).
  size_t StringEnd(size_t at) const {
    // Bounded by the text even when it is not valid JSON (the decoder's
    // On-Demand parse does not check parts it did not read).
    size_t p = at + 1;
    while (p < s_.size() && s_[p] != '"') p += (s_[p] == '\\') ? 2 : 1;
    return std::min(p + 1, s_.size());
  }

  std::string_view s_;
  size_t pos_ = 0;
};

void AppendMember(std::string_view name, const Value& v, bool* first, std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  AppendJsonString(name, out);
  out->push_back(':');
  AppendJsonValue(v, out);
}

}  // namespace

void EncodeJson(const RecordView& view, const Value* row, std::string_view raw, std::string* out) {
  bool first = true;
  out->push_back('{');
  if (view.closed) {
    for (const auto& f : view.fields) AppendMember(f.name, f.slot >= 0 ? row[f.slot] : Value(), &first, out);
    out->push_back('}');
    return;
  }
  // Open view: raw members in order, overridden in place or removed; then the
  // added fields. At most 64 fields are tracked as "written" by bit; views are
  // small (one entry per set/drop field).
  uint64_t written = 0;
  MemberScanner scanner(raw);
  std::string_view key, value;
  while (scanner.Next(&key, &value)) {
    if (view.IsRemoved(key)) continue;
    bool overridden = false;
    for (size_t k = 0; k < view.fields.size(); ++k) {
      if (view.fields[k].name != key) continue;
      if (k < 64 && (written >> k & 1)) {
        overridden = true;  // a duplicate raw key: written once already
        break;
      }
      if (k < 64) written |= uint64_t{1} << k;
      AppendMember(view.fields[k].name, row[view.fields[k].slot], &first, out);
      overridden = true;
      break;
    }
    if (overridden) continue;
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    out->append(key);
    out->append("\":");
    out->append(value);
  }
  for (size_t k = 0; k < view.fields.size(); ++k) {
    if (k < 64 && (written >> k & 1)) continue;
    if (k >= 64) {
      // Rare: more than 64 set fields; check whether the raw record had it.
      MemberScanner again(raw);
      bool present = false;
      while (again.Next(&key, &value))
        if (key == view.fields[k].name && !view.IsRemoved(key)) present = true;
      if (present) continue;
    }
    AppendMember(view.fields[k].name, row[view.fields[k].slot], &first, out);
  }
  out->push_back('}');
}

}  // namespace streamrun
