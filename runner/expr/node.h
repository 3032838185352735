#pragma once
// The compiled form of an expression: an immutable tree of nodes, each with a
// virtual Eval over one record's slots. Built once per pipeline by the parser
// (parser.cc), shared read-only by every worker thread; all per-evaluation
// state lives in the EvalContext and its arena.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runner/expr/expr.h"

namespace streamrun::expr {

class Node {
 public:
  explicit Node(int offset) : offset_(offset) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Evaluates into `out`; false with ctx.error set on a record error.
  virtual bool Eval(const Value* slots, EvalContext& ctx, Value* out) const = 0;
  // A literal (possibly the result of constant folding).
  virtual bool IsConst() const { return false; }
  // A bare field reference.
  virtual bool IsField() const { return false; }
  // The same inputs always give the same result (false for now()).
  virtual bool Pure() const { return true; }

  int offset() const { return offset_; }

 private:
  int offset_;  // byte offset in the expression text, for compile errors
};

using NodePtr = std::unique_ptr<Node>;

// A constant value that owns its text (strings and list literals).
class ConstNode final : public Node {
 public:
  ConstNode(int offset, const Value& v);
  bool Eval(const Value*, EvalContext&, Value* out) const override {
    *out = value_;
    return true;
  }
  bool IsConst() const override { return true; }
  const Value& value() const { return value_; }

 private:
  std::string storage_;
  Value value_;
};

// ---- helpers shared by eval.cc and functions.cc ----

// Result setters that store each field of *out directly. Building a temporary
// Value and copying it (`*out = Value::Bool(b)`) makes the CPU reload freshly
// written partial stores as one wide load, a store-forwarding stall that cost
// about half the time of a simple comparison.
inline void SetBool(Value* out, bool v) {
  out->kind = Kind::kBool;
  out->b = v;
  out->str = nullptr;
  out->len = 0;
}
inline void SetInt(Value* out, int64_t v) {
  out->kind = Kind::kInt;
  out->i = v;
  out->str = nullptr;
  out->len = 0;
}
inline void SetFloat(Value* out, double v) {
  out->kind = Kind::kFloat;
  out->f = v;
  out->str = nullptr;
  out->len = 0;
}
inline void SetNull(Value* out) {
  out->kind = Kind::kNull;
  out->i = 0;
  out->str = nullptr;
  out->len = 0;
}

// Sets ctx.error and returns false, so `return TypeError(ctx, ...)` reads well.
bool Fail(EvalContext& ctx, std::string message);
// Bytes from the arena; fails the record if the caller gave no arena.
char* ArenaAlloc(EvalContext& ctx, size_t n);
// Copies `s` into the arena as a string value.
bool ArenaString(EvalContext& ctx, std::string_view s, Value* out);
// Per-thread scratch text reused between evaluations (no heap once warm).
// Not reentrant: take it, fill it, copy the result out, before evaluating more.
std::string& Scratch();

// Factories used by the parser (eval.cc / functions.cc).
enum class BinOp { kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr };
NodePtr MakeField(int offset, FieldSlot slot);
NodePtr MakeBinary(int offset, BinOp op, NodePtr lhs, NodePtr rhs);
NodePtr MakeNeg(int offset, NodePtr operand);
NodePtr MakeNot(int offset, NodePtr operand);
NodePtr MakeIsNull(int offset, NodePtr operand, bool negated);
NodePtr MakeList(int offset, std::vector<NodePtr> elements);
// `x in [a, b]` over a list literal (elements evaluated, not turned into JSON).
NodePtr MakeInLiteral(int offset, NodePtr needle, std::vector<NodePtr> elements, bool negated);
// `x in expr` where expr gives a list value at run time.
NodePtr MakeInValue(int offset, NodePtr needle, NodePtr list, bool negated);

// Function calls (functions.cc). On error fills `error` and returns nullptr.
NodePtr MakeCall(int offset, std::string_view name, int name_end, std::vector<NodePtr> args,
                 CompileError* error);
// The known function names, for "did you mean".
std::vector<std::string_view> FunctionNames();

}  // namespace streamrun::expr
