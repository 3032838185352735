#pragma once
// Tokens of the expression language (docs/expressions.md). The lexer works on the
// whole expression text at compile time; nothing here runs per record.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace streamrun::expr {

enum class Tok : uint8_t {
  kEnd,
  kInt,       // 42 (text in `text`, value in `int_value`; 9223372036854775808 allowed for `-` to negate)
  kFloat,     // 1.5, 1e3
  kString,    // 'text' or "text": `text` holds the unescaped bytes
  kIdent,     // name (keywords are kIdent too, see IsKeyword)
  kBacktick,  // `odd name`: `text` holds the name
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDot,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAndAnd,
  kOrOr,
  kBang,
};

struct Token {
  Tok kind = Tok::kEnd;
  int offset = 0;    // byte offset of the token's first character
  int end = 0;       // byte offset just past the token
  std::string text;  // identifier, unescaped string, number text
  uint64_t int_value = 0;
  double float_value = 0;
};

struct LexError {
  int offset = 0;
  std::string message;
};

// Splits `text` into tokens ending with one kEnd token. False on a lexical error.
bool Lex(std::string_view text, std::vector<Token>* tokens, LexError* error);

// True for the reserved words and, or, not, in, is, null, true, false.
bool IsKeyword(std::string_view word);

// Readable name of a token kind for messages ("')'", "end of expression").
std::string_view TokName(Tok t);

}  // namespace streamrun::expr
