// Evaluation of compiled expressions: operators, field reads, Expression.
//
// Semantics chosen where docs/expressions.md is silent (also in docs/expressions.md):
//
// * null in arithmetic (`+ - * / %`, unary `-`) gives null, before any type check:
//   `null * 'a'` is null, not an error.
// * A comparison (`== != < <= > >=`) with a null operand is false, whichever the
//   operator: `null == null` and `null != 1` are both false. Use `is null`.
// * `==`/`!=` never fail: values of incompatible types are unequal (`1 == '1'` is
//   false, `1 != '1'` true). Ints and floats compare numerically and exactly
//   (`1 == 1.0`); strings by bytes; lists/objects by JSON text, ignoring
//   whitespace outside strings.
// * Ordering (`< <= > >=`) is defined for number/number, string/string (bytewise)
//   and bool/bool (false < true); anything else is a record error. NaN is unordered:
//   every ordering against it is false.
// * `and`, `or`, `not` (`&& || !`) treat null as false and always give a bool:
//   `null or true` is true, `null and true` false, `not null` true. A non-bool,
//   non-null operand is a record error. `and`/`or` short-circuit.
// * `x in [..]` is false when x is null (it is a comparison); null elements never
//   match; `x not in [..]` is also false when x is null, otherwise `not (x in ..)`.
//   The right side may be a list literal or any list value (e.g. a field); a null
//   right side gives false, another non-list type is a record error.
// * Integer `+ - *` and unary `-` overflow is a record error (no silent wrap).
//   `/` always gives a float; division or modulo by zero (int or float) is a
//   record error. `%` takes ints only, and its sign follows the dividend (C++).
// * Float results may be inf/NaN (`1e308 * 10`); AppendJson writes them as null.
#include <cmath>
#include <limits>

#include "runner/expr/json_util.h"
#include "runner/expr/node.h"

namespace streamrun::expr {

// ---- shared helpers ----

ConstNode::ConstNode(int offset, const Value& v) : Node(offset), value_(v) {
  if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject) {
    storage_.assign(v.text());
    value_.str = storage_.data();
  }
}

bool Fail(EvalContext& ctx, std::string message) {
  ctx.error = std::move(message);
  return false;
}

char* ArenaAlloc(EvalContext& ctx, size_t n) {
  if (ctx.arena == nullptr) {
    ctx.error = "internal error: no arena to evaluate the expression in";
    return nullptr;
  }
  return ctx.arena->Allocate(n == 0 ? 1 : n);
}

bool ArenaString(EvalContext& ctx, std::string_view s, Value* out) {
  if (s.empty()) {
    *out = Value::String(std::string_view("", 0));
    return true;
  }
  char* p = ArenaAlloc(ctx, s.size());
  if (p == nullptr) return false;
  std::memcpy(p, s.data(), s.size());
  *out = Value::String(std::string_view(p, s.size()));
  return true;
}

std::string& Scratch() {
  thread_local std::string scratch;
  return scratch;
}

namespace {

std::string Kn(const Value& v) { return std::string(KindName(v.kind)); }

// ---- field reads ----

class SlotNode final : public Node {
 public:
  SlotNode(int offset, int slot) : Node(offset), slot_(slot) {}
  bool Eval(const Value* slots, EvalContext&, Value* out) const override {
    *out = slots[slot_];
    return true;
  }
  bool IsField() const override { return true; }

 private:
  int slot_;
};

class SubpathNode final : public Node {
 public:
  SubpathNode(int offset, FieldSlot slot) : Node(offset), slot_(std::move(slot)) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    return NavigateJson(slots[slot_.slot], slot_.subpath, ctx, out);
  }
  bool IsField() const override { return true; }

 private:
  FieldSlot slot_;
};

// A field the planner says is never present here: always null.
class AbsentFieldNode final : public Node {
 public:
  using Node::Node;
  bool Eval(const Value*, EvalContext&, Value* out) const override {
    SetNull(out);
    return true;
  }
  bool IsField() const override { return true; }
};

// ---- arithmetic ----

template <BinOp kOp>
class ArithNode final : public Node {
 public:
  ArithNode(int offset, NodePtr l, NodePtr r) : Node(offset), l_(std::move(l)), r_(std::move(r)) {}

  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value a, b;
    if (!l_->Eval(slots, ctx, &a) || !r_->Eval(slots, ctx, &b)) return false;
    if (a.is_null() || b.is_null()) {
      SetNull(out);
      return true;
    }
    if (!a.is_number() || !b.is_number()) return TypeError(ctx, a, b);
    if (a.kind == Kind::kInt && b.kind == Kind::kInt) {
      int64_t r;
      switch (kOp) {
        case BinOp::kAdd:
          if (__builtin_add_overflow(a.i, b.i, &r)) return Fail(ctx, "integer overflow in '+'");
          SetInt(out, r);
          return true;
        case BinOp::kSub:
          if (__builtin_sub_overflow(a.i, b.i, &r)) return Fail(ctx, "integer overflow in '-'");
          SetInt(out, r);
          return true;
        case BinOp::kMul:
          if (__builtin_mul_overflow(a.i, b.i, &r)) return Fail(ctx, "integer overflow in '*'");
          SetInt(out, r);
          return true;
        case BinOp::kMod:
          if (b.i == 0) return Fail(ctx, "modulo by zero");
          SetInt(out, b.i == -1 ? 0 : a.i % b.i);
          return true;
        default:
          break;  // kDiv: float below
      }
    }
    double x = a.as_double(), y = b.as_double();
    switch (kOp) {
      case BinOp::kAdd:
        SetFloat(out, x + y);
        return true;
      case BinOp::kSub:
        SetFloat(out, x - y);
        return true;
      case BinOp::kMul:
        SetFloat(out, x * y);
        return true;
      case BinOp::kDiv:
        if (y == 0) return Fail(ctx, "division by zero");
        SetFloat(out, x / y);
        return true;
      case BinOp::kMod:
        return Fail(ctx, "'%' needs two ints, got " + Kn(a) + " and " + Kn(b));
      default:
        return Fail(ctx, "internal error: bad arithmetic operator");
    }
  }

 private:
  static bool TypeError(EvalContext& ctx, const Value& a, const Value& b) {
    switch (kOp) {
      case BinOp::kAdd:
        if (a.kind == Kind::kString && b.kind == Kind::kString)
          return Fail(ctx, "cannot add string and string (use concat() to join strings)");
        return Fail(ctx, "cannot add " + Kn(a) + " and " + Kn(b));
      case BinOp::kSub:
        return Fail(ctx, "cannot subtract " + Kn(b) + " from " + Kn(a));
      case BinOp::kMul:
        return Fail(ctx, "cannot multiply " + Kn(a) + " by " + Kn(b));
      case BinOp::kDiv:
        return Fail(ctx, "cannot divide " + Kn(a) + " by " + Kn(b));
      default:
        return Fail(ctx, "'%' needs two ints, got " + Kn(a) + " and " + Kn(b));
    }
  }

  NodePtr l_, r_;
};

class NegNode final : public Node {
 public:
  NegNode(int offset, NodePtr operand) : Node(offset), x_(std::move(operand)) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value v;
    if (!x_->Eval(slots, ctx, &v)) return false;
    switch (v.kind) {
      case Kind::kNull:
        *out = v;
        return true;
      case Kind::kInt:
        if (v.i == std::numeric_limits<int64_t>::min()) return Fail(ctx, "integer overflow in unary '-'");
        SetInt(out, -v.i);
        return true;
      case Kind::kFloat:
        SetFloat(out, -v.f);
        return true;
      default:
        return Fail(ctx, "cannot negate " + Kn(v));
    }
  }

 private:
  NodePtr x_;
};

// ---- comparison ----

constexpr std::string_view OpText(BinOp op) {
  switch (op) {
    case BinOp::kLt:
      return "<";
    case BinOp::kLe:
      return "<=";
    case BinOp::kGt:
      return ">";
    case BinOp::kGe:
      return ">=";
    default:
      return "?";
  }
}

template <BinOp kOp>
class CompareNode final : public Node {
 public:
  CompareNode(int offset, NodePtr l, NodePtr r) : Node(offset), l_(std::move(l)), r_(std::move(r)) {}

  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value a, b;
    if (!l_->Eval(slots, ctx, &a) || !r_->Eval(slots, ctx, &b)) return false;
    if (a.is_null() || b.is_null()) {
      SetBool(out, false);
      return true;
    }
    if constexpr (kOp == BinOp::kEq) {
      SetBool(out, ValuesEqual(a, b));
      return true;
    } else if constexpr (kOp == BinOp::kNe) {
      SetBool(out, !ValuesEqual(a, b));
      return true;
    } else {
      int c;
      if (a.is_number() && b.is_number()) {
        c = CompareNumbers(a, b);
        if (c == 2) {  // NaN
          SetBool(out, false);
          return true;
        }
      } else if (a.kind == Kind::kString && b.kind == Kind::kString) {
        int r = a.text().compare(b.text());
        c = r < 0 ? -1 : (r > 0 ? 1 : 0);
      } else if (a.kind == Kind::kBool && b.kind == Kind::kBool) {
        c = a.b == b.b ? 0 : (a.b ? 1 : -1);
      } else {
        return Fail(
            ctx, "cannot compare " + Kn(a) + " with " + Kn(b) + " using '" + std::string(OpText(kOp)) + "'");
      }
      bool r = kOp == BinOp::kLt ? c < 0 : kOp == BinOp::kLe ? c <= 0 : kOp == BinOp::kGt ? c > 0 : c >= 0;
      SetBool(out, r);
      return true;
    }
  }

 private:
  NodePtr l_, r_;
};

// ---- logic ----

// Truth of an operand of and/or/not: null is false; non-bool is an error.
inline bool Truth(const Value& v, std::string_view op, EvalContext& ctx, bool* t) {
  if (v.kind == Kind::kBool) {
    *t = v.b;
    return true;
  }
  if (v.kind == Kind::kNull) {
    *t = false;
    return true;
  }
  return Fail(ctx, "'" + std::string(op) + "' needs bool operands, got " + Kn(v));
}

template <bool kIsAnd>
class LogicNode final : public Node {
 public:
  LogicNode(int offset, NodePtr l, NodePtr r) : Node(offset), l_(std::move(l)), r_(std::move(r)) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    constexpr std::string_view op = kIsAnd ? "and" : "or";
    Value v;
    bool t;
    if (!l_->Eval(slots, ctx, &v) || !Truth(v, op, ctx, &t)) return false;
    if (t != kIsAnd) {  // false and ..., true or ...
      SetBool(out, t);
      return true;
    }
    if (!r_->Eval(slots, ctx, &v) || !Truth(v, op, ctx, &t)) return false;
    SetBool(out, t);
    return true;
  }

 private:
  NodePtr l_, r_;
};

class NotNode final : public Node {
 public:
  NotNode(int offset, NodePtr operand) : Node(offset), x_(std::move(operand)) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value v;
    bool t;
    if (!x_->Eval(slots, ctx, &v)) return false;
    if (v.kind != Kind::kBool && v.kind != Kind::kNull) return Fail(ctx, "'not' needs a bool, got " + Kn(v));
    if (!Truth(v, "not", ctx, &t)) return false;
    SetBool(out, !t);
    return true;
  }

 private:
  NodePtr x_;
};

class IsNullNode final : public Node {
 public:
  IsNullNode(int offset, NodePtr operand, bool negated)
      : Node(offset), x_(std::move(operand)), negated_(negated) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value v;
    if (!x_->Eval(slots, ctx, &v)) return false;
    SetBool(out, v.is_null() != negated_);
    return true;
  }

 private:
  NodePtr x_;
  bool negated_;
};

// ---- lists ----

class ListNode final : public Node {
 public:
  ListNode(int offset, std::vector<NodePtr> elements) : Node(offset), elements_(std::move(elements)) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    constexpr size_t kStack = 16;
    Value stack[kStack];
    Value* vals = stack;
    if (elements_.size() > kStack) {
      vals = reinterpret_cast<Value*>(ArenaAlloc(ctx, sizeof(Value) * elements_.size()));
      if (vals == nullptr) return false;
    }
    for (size_t k = 0; k < elements_.size(); ++k) {
      if (!elements_[k]->Eval(slots, ctx, &vals[k])) return false;
    }
    std::string& text = Scratch();
    text.clear();
    text.push_back('[');
    for (size_t k = 0; k < elements_.size(); ++k) {
      if (k) text.push_back(',');
      AppendJson(vals[k], &text);
    }
    text.push_back(']');
    char* p = ArenaAlloc(ctx, text.size());
    if (p == nullptr) return false;
    std::memcpy(p, text.data(), text.size());
    *out = Value::List(std::string_view(p, text.size()));
    return true;
  }

 private:
  std::vector<NodePtr> elements_;
};

class InLiteralNode final : public Node {
 public:
  InLiteralNode(int offset, NodePtr needle, std::vector<NodePtr> elements, bool negated)
      : Node(offset), needle_(std::move(needle)), elements_(std::move(elements)), negated_(negated) {
    all_const_ = true;
    for (const auto& e : elements_) {
      if (!e->IsConst()) {
        all_const_ = false;
        break;
      }
    }
    if (all_const_) {
      for (const auto& e : elements_) {
        const Value& v = static_cast<const ConstNode&>(*e).value();
        if (!v.is_null()) constants_.push_back(v);
      }
    }
  }

  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value x;
    if (!needle_->Eval(slots, ctx, &x)) return false;
    if (x.is_null()) {
      SetBool(out, false);
      return true;
    }
    bool found = false;
    if (all_const_) {
      for (const Value& v : constants_) {
        if (ValuesEqual(x, v)) {
          found = true;
          break;
        }
      }
    } else {
      for (const auto& e : elements_) {
        Value v;
        if (!e->Eval(slots, ctx, &v)) return false;
        if (!v.is_null() && ValuesEqual(x, v)) {
          found = true;
          break;
        }
      }
    }
    SetBool(out, found != negated_);
    return true;
  }

 private:
  NodePtr needle_;
  std::vector<NodePtr> elements_;
  std::vector<Value> constants_;  // views into the ConstNodes in elements_
  bool all_const_ = false;
  bool negated_;
};

class InValueNode final : public Node {
 public:
  InValueNode(int offset, NodePtr needle, NodePtr list, bool negated)
      : Node(offset), needle_(std::move(needle)), list_(std::move(list)), negated_(negated) {}
  bool Eval(const Value* slots, EvalContext& ctx, Value* out) const override {
    Value x, list;
    if (!needle_->Eval(slots, ctx, &x) || !list_->Eval(slots, ctx, &list)) return false;
    if (x.is_null() || list.is_null()) {
      SetBool(out, false);
      return true;
    }
    if (list.kind != Kind::kList) return Fail(ctx, "right side of 'in' must be a list, got " + Kn(list));
    bool found;
    if (!JsonListContains(list, x, ctx, &found)) return false;
    SetBool(out, found != negated_);
    return true;
  }

 private:
  NodePtr needle_, list_;
  bool negated_;
};

}  // namespace

// ---- factories ----

NodePtr MakeField(int offset, FieldSlot slot) {
  if (slot.slot < 0) return std::make_unique<AbsentFieldNode>(offset);
  if (slot.subpath.empty()) return std::make_unique<SlotNode>(offset, slot.slot);
  return std::make_unique<SubpathNode>(offset, std::move(slot));
}

NodePtr MakeBinary(int offset, BinOp op, NodePtr l, NodePtr r) {
  switch (op) {
    case BinOp::kAdd:
      return std::make_unique<ArithNode<BinOp::kAdd>>(offset, std::move(l), std::move(r));
    case BinOp::kSub:
      return std::make_unique<ArithNode<BinOp::kSub>>(offset, std::move(l), std::move(r));
    case BinOp::kMul:
      return std::make_unique<ArithNode<BinOp::kMul>>(offset, std::move(l), std::move(r));
    case BinOp::kDiv:
      return std::make_unique<ArithNode<BinOp::kDiv>>(offset, std::move(l), std::move(r));
    case BinOp::kMod:
      return std::make_unique<ArithNode<BinOp::kMod>>(offset, std::move(l), std::move(r));
    case BinOp::kEq:
      return std::make_unique<CompareNode<BinOp::kEq>>(offset, std::move(l), std::move(r));
    case BinOp::kNe:
      return std::make_unique<CompareNode<BinOp::kNe>>(offset, std::move(l), std::move(r));
    case BinOp::kLt:
      return std::make_unique<CompareNode<BinOp::kLt>>(offset, std::move(l), std::move(r));
    case BinOp::kLe:
      return std::make_unique<CompareNode<BinOp::kLe>>(offset, std::move(l), std::move(r));
    case BinOp::kGt:
      return std::make_unique<CompareNode<BinOp::kGt>>(offset, std::move(l), std::move(r));
    case BinOp::kGe:
      return std::make_unique<CompareNode<BinOp::kGe>>(offset, std::move(l), std::move(r));
    case BinOp::kAnd:
      return std::make_unique<LogicNode<true>>(offset, std::move(l), std::move(r));
    case BinOp::kOr:
      return std::make_unique<LogicNode<false>>(offset, std::move(l), std::move(r));
  }
  return nullptr;
}

NodePtr MakeNeg(int offset, NodePtr x) { return std::make_unique<NegNode>(offset, std::move(x)); }
NodePtr MakeNot(int offset, NodePtr x) { return std::make_unique<NotNode>(offset, std::move(x)); }
NodePtr MakeIsNull(int offset, NodePtr x, bool negated) {
  return std::make_unique<IsNullNode>(offset, std::move(x), negated);
}
NodePtr MakeList(int offset, std::vector<NodePtr> elements) {
  return std::make_unique<ListNode>(offset, std::move(elements));
}
NodePtr MakeInLiteral(int offset, NodePtr needle, std::vector<NodePtr> elements, bool negated) {
  return std::make_unique<InLiteralNode>(offset, std::move(needle), std::move(elements), negated);
}
NodePtr MakeInValue(int offset, NodePtr needle, NodePtr list, bool negated) {
  return std::make_unique<InValueNode>(offset, std::move(needle), std::move(list), negated);
}

// ---- Expression ----

Expression::Expression() = default;
Expression::~Expression() = default;
Expression::Expression(Expression&&) noexcept = default;
Expression& Expression::operator=(Expression&&) noexcept = default;

bool Expression::Eval(const Value* slots, EvalContext& ctx, Value* out) const {
  return root_->Eval(slots, ctx, out);
}

bool Expression::EvalPredicate(const Value* slots, EvalContext& ctx, bool* out) const {
  Value v;
  if (!root_->Eval(slots, ctx, &v)) return false;
  if (v.kind == Kind::kBool) {
    *out = v.b;
    return true;
  }
  if (v.kind == Kind::kNull) {
    *out = false;
    return true;
  }
  return Fail(ctx, "filter expression gave " + Kn(v) + ", expected bool");
}

bool Expression::IsFieldRef() const { return root_ != nullptr && root_->IsField(); }

}  // namespace streamrun::expr
