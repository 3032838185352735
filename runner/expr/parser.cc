// Recursive-descent parser: tokens -> node tree, resolving field paths to slots
// and folding constant subtrees. Precedence, lowest first:
//   or ||  <  and &&  <  not !  <  == != < <= > >= in, not in, is [not] null
//   <  + -  <  * / %  <  unary -  <  literals, fields, calls, ( ), [ ]
// Comparisons do not chain (`a < b < c` is a compile error).
#include <limits>
#include <map>

#include "runner/expr/lexer.h"
#include "runner/expr/node.h"

namespace streamrun::expr {

struct Compiler {
  const std::vector<Token>& tokens;
  const Resolver& resolve;
  Expression* expr;
  CompileError error;
  size_t pos = 0;
  int depth = 0;      // the parser's own recursion (parentheses, calls, unary operators)
  int operators = 0;  // operators so far in the whole expression
  std::map<std::vector<std::string>, FieldSlot> resolved;

  static constexpr int kMaxDepth = 200;
  // `a or b or c ...` builds a tree one level deeper per operator, and
  // evaluating and freeing the tree recurse that deep: the operators of one
  // expression are bounded, so its tree is at most kMaxOperators + kMaxDepth
  // deep (docs/trust-and-limits.md).
  static constexpr int kMaxOperators = 1000;

  // One more operator at `at`; false (an error) past the limit.
  bool CountOperator(int at) {
    if (++operators <= kMaxOperators) return true;
    Error(at, "expression too long: more than " + std::to_string(kMaxOperators) +
                  " operators (for many alternatives use `x in [a, b, ...]`)");
    return false;
  }

  const Token& Peek(size_t ahead = 0) const {
    size_t i = pos + ahead;
    return tokens[i < tokens.size() ? i : tokens.size() - 1];
  }
  const Token& Next() { return tokens[pos < tokens.size() - 1 ? pos++ : pos]; }
  bool IsWord(const Token& t, std::string_view w) const { return t.kind == Tok::kIdent && t.text == w; }

  NodePtr Error(int offset, std::string message) {
    if (error.message.empty()) {
      error.offset = offset;
      error.message = std::move(message);
    }
    return nullptr;
  }
  std::string Describe(const Token& t) const {
    switch (t.kind) {
      case Tok::kIdent:
        return "'" + t.text + "'";
      case Tok::kInt:
      case Tok::kFloat:
        return "number " + t.text;
      case Tok::kString:
        return "a string";
      case Tok::kBacktick:
        return "`" + t.text + "`";
      default:
        return std::string(TokName(t.kind));
    }
  }

  // Replaces a node whose inputs are all constant by its value, when it is pure
  // and evaluates without error (an error is left for run time: a record error).
  NodePtr Fold(NodePtr n, std::initializer_list<const Node*> children) {
    for (const Node* c : children)
      if (c == nullptr || !c->IsConst()) return n;
    return FoldNode(std::move(n));
  }
  NodePtr FoldAll(NodePtr n, const std::vector<NodePtr>& children) {
    for (const auto& c : children)
      if (!c->IsConst()) return n;
    return FoldNode(std::move(n));
  }
  static NodePtr FoldNode(NodePtr n) {
    if (!n->Pure() || n->IsConst()) return n;
    Arena arena(1024);
    EvalContext ctx;
    ctx.arena = &arena;
    Value v;
    if (!n->Eval(nullptr, ctx, &v)) return n;
    return std::make_unique<ConstNode>(n->offset(), v);
  }

  NodePtr ParseExpr() {
    if (++depth > kMaxDepth) return Error(Peek().offset, "expression nested too deeply");
    NodePtr n = ParseOr();
    --depth;
    return n;
  }

  NodePtr ParseOr() {
    NodePtr l = ParseAnd();
    while (l && (IsWord(Peek(), "or") || Peek().kind == Tok::kOrOr)) {
      if (!CountOperator(Next().offset)) return nullptr;
      int at = l->offset();  // a node's offset is where its text starts
      NodePtr r = ParseAnd();
      if (!r) return nullptr;
      const Node *lp = l.get(), *rp = r.get();
      l = Fold(MakeBinary(at, BinOp::kOr, std::move(l), std::move(r)), {lp, rp});
    }
    return l;
  }

  NodePtr ParseAnd() {
    NodePtr l = ParseNot();
    while (l && (IsWord(Peek(), "and") || Peek().kind == Tok::kAndAnd)) {
      if (!CountOperator(Next().offset)) return nullptr;
      int at = l->offset();
      NodePtr r = ParseNot();
      if (!r) return nullptr;
      const Node *lp = l.get(), *rp = r.get();
      l = Fold(MakeBinary(at, BinOp::kAnd, std::move(l), std::move(r)), {lp, rp});
    }
    return l;
  }

  NodePtr ParseNot() {
    if (IsWord(Peek(), "not") || Peek().kind == Tok::kBang) {
      int at = Next().offset;
      if (++depth > kMaxDepth) return Error(at, "expression nested too deeply");
      if (!CountOperator(at)) return nullptr;
      NodePtr x = ParseNot();
      --depth;
      if (!x) return nullptr;
      const Node* xp = x.get();
      return Fold(MakeNot(at, std::move(x)), {xp});
    }
    return ParseComparison();
  }

  static bool CompareOp(Tok t, BinOp* op) {
    switch (t) {
      case Tok::kEq:
        *op = BinOp::kEq;
        return true;
      case Tok::kNe:
        *op = BinOp::kNe;
        return true;
      case Tok::kLt:
        *op = BinOp::kLt;
        return true;
      case Tok::kLe:
        *op = BinOp::kLe;
        return true;
      case Tok::kGt:
        *op = BinOp::kGt;
        return true;
      case Tok::kGe:
        *op = BinOp::kGe;
        return true;
      default:
        return false;
    }
  }
  bool AtComparison() const {
    BinOp op;
    return CompareOp(Peek().kind, &op) || IsWord(Peek(), "in") || IsWord(Peek(), "is") ||
           (IsWord(Peek(), "not") && IsWord(Peek(1), "in"));
  }

  NodePtr ParseComparison() {
    NodePtr l = ParseAdditive();
    if (!l) return nullptr;
    BinOp op;
    NodePtr result;
    const Token& t = Peek();
    const int at = l->offset();
    if (CompareOp(t.kind, &op)) {
      Next();
      NodePtr r = ParseAdditive();
      if (!r) return nullptr;
      const Node *lp = l.get(), *rp = r.get();
      result = Fold(MakeBinary(at, op, std::move(l), std::move(r)), {lp, rp});
    } else if (IsWord(t, "in") || (IsWord(t, "not") && IsWord(Peek(1), "in"))) {
      bool negated = IsWord(t, "not");
      Next();
      if (negated) Next();
      result = ParseInRight(at, std::move(l), negated);
      if (!result) return nullptr;
    } else if (IsWord(t, "is")) {
      Next();
      bool negated = false;
      if (IsWord(Peek(), "not")) {
        Next();
        negated = true;
      }
      if (!IsWord(Peek(), "null"))
        return Error(Peek().offset, std::string("expected 'null' after '") + (negated ? "is not" : "is") +
                                        "', got " + Describe(Peek()));
      Next();
      const Node* lp = l.get();
      result = Fold(MakeIsNull(at, std::move(l), negated), {lp});
    } else {
      return l;
    }
    if (AtComparison()) return Error(Peek().offset, "comparisons cannot be chained; combine them with 'and'");
    return result;
  }

  NodePtr ParseInRight(int at, NodePtr needle, bool negated) {
    if (Peek().kind == Tok::kLBracket) {
      int open = Next().offset;
      std::vector<NodePtr> elements;
      if (!ParseElements(Tok::kRBracket, &elements, "expected ',' or ']' in list", open)) return nullptr;
      const Node* np = needle.get();
      bool all_const = np->IsConst();
      for (const auto& e : elements) all_const = all_const && e->IsConst();
      NodePtr n = MakeInLiteral(at, std::move(needle), std::move(elements), negated);
      return all_const ? FoldNode(std::move(n)) : std::move(n);
    }
    NodePtr list = ParseAdditive();
    if (!list) return nullptr;
    const Node *np = needle.get(), *lp = list.get();
    return Fold(MakeInValue(at, std::move(needle), std::move(list), negated), {np, lp});
  }

  NodePtr ParseAdditive() {
    NodePtr l = ParseMultiplicative();
    while (l && (Peek().kind == Tok::kPlus || Peek().kind == Tok::kMinus)) {
      const Token& t = Next();
      if (!CountOperator(t.offset)) return nullptr;
      BinOp op = t.kind == Tok::kPlus ? BinOp::kAdd : BinOp::kSub;
      NodePtr r = ParseMultiplicative();
      if (!r) return nullptr;
      const Node *lp = l.get(), *rp = r.get();
      l = Fold(MakeBinary(lp->offset(), op, std::move(l), std::move(r)), {lp, rp});
    }
    return l;
  }

  NodePtr ParseMultiplicative() {
    NodePtr l = ParseUnary();
    while (l && (Peek().kind == Tok::kStar || Peek().kind == Tok::kSlash || Peek().kind == Tok::kPercent)) {
      const Token& t = Next();
      if (!CountOperator(t.offset)) return nullptr;
      BinOp op = t.kind == Tok::kStar ? BinOp::kMul : t.kind == Tok::kSlash ? BinOp::kDiv : BinOp::kMod;
      NodePtr r = ParseUnary();
      if (!r) return nullptr;
      const Node *lp = l.get(), *rp = r.get();
      l = Fold(MakeBinary(lp->offset(), op, std::move(l), std::move(r)), {lp, rp});
    }
    return l;
  }

  NodePtr ParseUnary() {
    if (Peek().kind == Tok::kMinus) {
      int at = Next().offset;
      if (Peek().kind == Tok::kInt && Peek().int_value == (uint64_t{1} << 63)) {  // -9223372036854775808
        Next();
        return std::make_unique<ConstNode>(at, Value::Int(std::numeric_limits<int64_t>::min()));
      }
      if (++depth > kMaxDepth) return Error(at, "expression nested too deeply");
      if (!CountOperator(at)) return nullptr;
      NodePtr x = ParseUnary();
      --depth;
      if (!x) return nullptr;
      const Node* xp = x.get();
      return Fold(MakeNeg(at, std::move(x)), {xp});
    }
    return ParsePrimary();
  }

  // Parses `a, b, c` up to `close` (the opening token is consumed already).
  bool ParseElements(Tok close, std::vector<NodePtr>* out, std::string_view expected, int open_offset) {
    if (Peek().kind == close) {
      Next();
      return true;
    }
    while (true) {
      NodePtr e = ParseExpr();
      if (!e) return false;
      out->push_back(std::move(e));
      if (Peek().kind == Tok::kComma) {
        Next();
        continue;
      }
      if (Peek().kind == close) {
        Next();
        return true;
      }
      Error(Peek().offset, std::string(expected) + ", got " + Describe(Peek()));
      return false;
    }
  }

  NodePtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.kind) {
      case Tok::kInt:
        Next();
        if (t.int_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          return Error(t.offset, "integer literal out of range (64-bit)");
        return std::make_unique<ConstNode>(t.offset, Value::Int(static_cast<int64_t>(t.int_value)));
      case Tok::kFloat:
        Next();
        return std::make_unique<ConstNode>(t.offset, Value::Float(t.float_value));
      case Tok::kString:
        Next();
        return std::make_unique<ConstNode>(t.offset, Value::String(t.text));
      case Tok::kLParen: {
        int open = Next().offset;
        NodePtr e = ParseExpr();
        if (!e) return nullptr;
        if (Peek().kind != Tok::kRParen)
          return Error(Peek().offset, "expected ')' to close '(' at offset " + std::to_string(open) +
                                          ", got " + Describe(Peek()));
        Next();
        return e;
      }
      case Tok::kLBracket: {
        int open = Next().offset;
        std::vector<NodePtr> elements;
        if (!ParseElements(Tok::kRBracket, &elements, "expected ',' or ']' in list", open)) return nullptr;
        bool all_const = true;
        for (const auto& e : elements) all_const = all_const && e->IsConst();
        NodePtr n = MakeList(open, std::move(elements));
        return all_const ? FoldNode(std::move(n)) : std::move(n);
      }
      case Tok::kIdent:
        if (t.text == "true" || t.text == "false") {
          Next();
          return std::make_unique<ConstNode>(t.offset, Value::Bool(t.text == "true"));
        }
        if (t.text == "null") {
          Next();
          return std::make_unique<ConstNode>(t.offset, Value::Null());
        }
        if (IsKeyword(t.text)) return Error(t.offset, "expected an expression, got '" + t.text + "'");
        if (Peek(1).kind == Tok::kLParen) return ParseCall();
        return ParseField();
      case Tok::kBacktick:
        return ParseField();
      case Tok::kEnd:
        return Error(t.offset, "expected an expression, got end of expression");
      default:
        return Error(t.offset, "expected an expression, got " + Describe(t));
    }
  }

  NodePtr ParseCall() {
    const Token& name = Next();
    Next();  // '('
    std::vector<NodePtr> args;
    if (Peek().kind == Tok::kRParen) {
      Next();
    } else {
      while (true) {
        NodePtr e = ParseExpr();
        if (!e) return nullptr;
        args.push_back(std::move(e));
        if (Peek().kind == Tok::kComma) {
          Next();
          continue;
        }
        if (Peek().kind == Tok::kRParen) {
          Next();
          break;
        }
        return Error(Peek().offset,
                     "expected ')' after arguments of " + name.text + "(), got " + Describe(Peek()));
      }
    }
    bool all_const = true;
    for (const auto& a : args) all_const = all_const && a->IsConst();
    NodePtr n = MakeCall(name.offset, name.text, name.end, std::move(args), &error);
    if (!n) return nullptr;
    return all_const ? FoldNode(std::move(n)) : std::move(n);
  }

  NodePtr ParseField() {
    int at = Peek().offset;
    std::vector<std::string> path;
    path.push_back(Next().text);
    while (Peek().kind == Tok::kDot) {
      Next();
      const Token& part = Peek();
      if (part.kind != Tok::kIdent && part.kind != Tok::kBacktick)
        return Error(part.offset, "expected a field name after '.', got " + Describe(part));
      path.push_back(Next().text);
    }
    auto it = resolved.find(path);
    if (it == resolved.end()) {
      FieldSlot slot = resolve ? resolve(path) : FieldSlot{};
      expr_fields().push_back(path);
      it = resolved.emplace(path, std::move(slot)).first;
    }
    return MakeField(at, it->second);
  }

  std::vector<std::vector<std::string>>& expr_fields() { return expr->fields_; }

  static std::unique_ptr<Expression> Run(std::string_view text, const Resolver& resolve,
                                         CompileError* out_error) {
    std::vector<Token> tokens;
    LexError lex_error;
    CompileError scratch;
    CompileError* err = out_error ? out_error : &scratch;
    if (!Lex(text, &tokens, &lex_error)) {
      err->offset = lex_error.offset;
      err->message = std::move(lex_error.message);
      return nullptr;
    }
    std::unique_ptr<Expression> expr(new Expression());
    expr->text_.assign(text);
    Compiler c{tokens, resolve, expr.get(), {}, 0, 0, 0, {}};
    NodePtr root = c.ParseExpr();
    if (root && c.Peek().kind != Tok::kEnd) {
      const Token& t = c.Peek();
      if (t.kind == Tok::kRParen) {
        c.Error(t.offset, "unexpected ')' without a matching '('");
      } else if (t.kind == Tok::kLParen) {
        c.Error(t.offset, "unexpected '(': only function names can be called");
      } else {
        c.Error(t.offset, "unexpected " + c.Describe(t) + " after the end of the expression");
      }
      root = nullptr;
    }
    if (!root) {
      if (c.error.message.empty()) c.Error(0, "invalid expression");
      *err = std::move(c.error);
      return nullptr;
    }
    expr->root_ = std::move(root);
    return expr;
  }
};

std::unique_ptr<Expression> Compile(std::string_view text, const Resolver& resolve, CompileError* error) {
  return Compiler::Run(text, resolve, error);
}

bool ParseFieldPath(std::string_view text, std::vector<std::string>* path) {
  std::vector<Token> tokens;
  LexError lex_error;
  if (!Lex(text, &tokens, &lex_error)) return false;
  std::vector<std::string> parts;
  size_t i = 0;
  while (true) {
    const Token& t = tokens[i];
    if (t.kind == Tok::kBacktick) {
      parts.push_back(t.text);
    } else if (t.kind == Tok::kIdent && (i > 0 || !IsKeyword(t.text))) {
      parts.push_back(t.text);
    } else {
      return false;
    }
    ++i;
    if (tokens[i].kind == Tok::kEnd) break;
    if (tokens[i].kind != Tok::kDot) return false;
    ++i;
  }
  if (path) *path = std::move(parts);
  return true;
}

}  // namespace streamrun::expr
