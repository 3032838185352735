#pragma once
// The expression language of docs/expressions.md, compiled once per pipeline over
// resolved field slots and evaluated per record with no heap allocation
// (computed strings go to the batch's arena).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runner/record/arena.h"
#include "runner/record/value.h"

namespace streamrun::expr {

// Where the planner keeps a field at the point an expression reads it.
struct FieldSlot {
  int slot = -1;                     // index into the record's slots; -1: the field is always null here
  std::vector<std::string> subpath;  // path to follow inside the slot's list/object value (usually empty)
};
// Called once per field path the expression reads (`a.b.c` -> {"a","b","c"}).
using Resolver = std::function<FieldSlot(const std::vector<std::string>& path)>;

struct CompileError {
  int offset = 0;  // byte offset in the expression text
  std::string message;
};

// Per-evaluation context. `error` is set when evaluation fails for this record
// (a type error such as 'a' * 2, a bad regex input...): a record error, never a crash.
struct EvalContext {
  Arena* arena = nullptr;
  int64_t now_ms = 0;  // now(): processing time, set once per batch by the caller
  std::string error;
};

class Node;  // private to the implementation

class Expression {
 public:
  ~Expression();
  Expression(Expression&&) noexcept;
  Expression& operator=(Expression&&) noexcept;

  // Evaluates over one record's slots. Returns false (and sets ctx.error) on a
  // record error; `out` is then unspecified.
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const;
  // filter/having: true only when the result is the boolean true (null -> false).
  // A non-boolean, non-null result is a record error.
  bool EvalPredicate(const Value* slots, EvalContext& ctx, bool* out) const;

  const std::string& text() const { return text_; }
  // The field paths read, in order of first appearance.
  const std::vector<std::vector<std::string>>& fields() const { return fields_; }
  // True if the expression is a bare field reference (e.g. `page_url`).
  bool IsFieldRef() const;

 private:
  friend struct Compiler;
  Expression();
  std::string text_;
  std::vector<std::vector<std::string>> fields_;
  std::unique_ptr<Node> root_;
};

// Compiles `text`. On failure returns nullptr and fills `error`.
std::unique_ptr<Expression> Compile(std::string_view text, const Resolver& resolve, CompileError* error);

// Parses a field path (`a.b`, `` `odd name`.x ``); false if it is not one.
bool ParseFieldPath(std::string_view text, std::vector<std::string>* path);

// Writes a value as JSON text (strings escaped; lists/objects as their raw text).
void AppendJson(const Value& v, std::string* out);

}  // namespace streamrun::expr
