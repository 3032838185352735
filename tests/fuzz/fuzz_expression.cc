// libFuzzer target: an expression and a record. The input is the expression's
// text, a newline, then a JSON record; the expression is compiled over the
// record's fields, the record decoded into them, and the expression evaluated.
// Any input must compile or be refused, and evaluate or fail as a record error:
// nothing may crash, recurse without bound or run away (regex_match included).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runner/expr/expr.h"
#include "runner/record/arena.h"
#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"
#include "runner/record/projection.h"

using namespace streamrun;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos || newline > 4096) return 0;
  const std::string_view text = input.substr(0, newline);
  const std::string_view record = input.substr(newline + 1);
  // Each field path read gets a slot of the record (at most 16).
  ProjectionNode projection;
  int slots = 0;
  std::map<std::vector<std::string>, int> slot_of;
  expr::CompileError error;
  auto e = expr::Compile(
      text,
      [&](const std::vector<std::string>& path) {
        auto [it, inserted] = slot_of.emplace(path, slots);
        if (inserted && slots < 16) projection.At(path).slot = slots++;
        return expr::FieldSlot{it->second < 16 ? it->second : -1, {}};
      },
      &error);
  if (!e) return 0;
  Arena arena;
  Value row[16];
  std::string why;
  JsonDecoder decoder(projection);
  const std::string_view raw = arena.Copy(record, JsonPadding());
  if (!decoder.Decode(raw, row, arena, &why)) return 0;
  expr::EvalContext ctx;
  ctx.arena = &arena;
  Value out;
  if (e->Eval(row, ctx, &out)) {
    std::string json;
    AppendJsonValue(out, &json);
  }
  bool keep = false;
  ctx.error.clear();
  e->EvalPredicate(row, ctx, &keep);
  return 0;
}
