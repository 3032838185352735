#include "runner/expr/lexer.h"

#include <charconv>
#include <cstring>

namespace streamrun::expr {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Reads 4 hex digits at text[i..i+4).
bool Hex4(std::string_view text, size_t i, uint32_t* out) {
  if (i + 4 > text.size()) return false;
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    int d = HexDigit(text[i + k]);
    if (d < 0) return false;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
}

}  // namespace

bool IsKeyword(std::string_view w) {
  return w == "and" || w == "or" || w == "not" || w == "in" || w == "is" || w == "null" || w == "true" ||
         w == "false";
}

std::string_view TokName(Tok t) {
  switch (t) {
    case Tok::kEnd:
      return "end of expression";
    case Tok::kInt:
      return "integer";
    case Tok::kFloat:
      return "number";
    case Tok::kString:
      return "string";
    case Tok::kIdent:
      return "name";
    case Tok::kBacktick:
      return "quoted name";
    case Tok::kLParen:
      return "'('";
    case Tok::kRParen:
      return "')'";
    case Tok::kLBracket:
      return "'['";
    case Tok::kRBracket:
      return "']'";
    case Tok::kComma:
      return "','";
    case Tok::kDot:
      return "'.'";
    case Tok::kPlus:
      return "'+'";
    case Tok::kMinus:
      return "'-'";
    case Tok::kStar:
      return "'*'";
    case Tok::kSlash:
      return "'/'";
    case Tok::kPercent:
      return "'%'";
    case Tok::kEq:
      return "'=='";
    case Tok::kNe:
      return "'!='";
    case Tok::kLt:
      return "'<'";
    case Tok::kLe:
      return "'<='";
    case Tok::kGt:
      return "'>'";
    case Tok::kGe:
      return "'>='";
    case Tok::kAndAnd:
      return "'&&'";
    case Tok::kOrOr:
      return "'||'";
    case Tok::kBang:
      return "'!'";
  }
  return "token";
}

bool Lex(std::string_view text, std::vector<Token>* tokens, LexError* error) {
  tokens->clear();
  size_t i = 0;
  const size_t n = text.size();
  auto fail = [&](size_t at, std::string msg) {
    error->offset = static_cast<int>(at);
    error->message = std::move(msg);
    return false;
  };
  while (true) {
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    Token t;
    t.offset = static_cast<int>(i);
    if (i >= n) {
      t.kind = Tok::kEnd;
      t.end = t.offset;
      tokens->push_back(std::move(t));
      return true;
    }
    char c = text[i];
    if (IsIdentStart(c)) {
      size_t s = i;
      while (i < n && IsIdentChar(text[i])) ++i;
      t.kind = Tok::kIdent;
      t.text.assign(text.substr(s, i - s));
    } else if (IsDigit(c)) {
      size_t s = i;
      while (i < n && IsDigit(text[i])) ++i;
      bool is_float = false;
      if (i + 1 < n && text[i] == '.' && IsDigit(text[i + 1])) {
        is_float = true;
        ++i;
        while (i < n && IsDigit(text[i])) ++i;
      }
      if (i < n && (text[i] == 'e' || text[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (text[j] == '+' || text[j] == '-')) ++j;
        if (j < n && IsDigit(text[j])) {
          is_float = true;
          i = j;
          while (i < n && IsDigit(text[i])) ++i;
        }
      }
      if (i < n && IsIdentStart(text[i])) return fail(i, "unexpected character after number");
      t.text.assign(text.substr(s, i - s));
      const char* b = text.data() + s;
      const char* e = text.data() + i;
      if (is_float) {
        t.kind = Tok::kFloat;
        auto r = std::from_chars(b, e, t.float_value);
        if (r.ec != std::errc()) return fail(s, "number literal out of range");
      } else {
        t.kind = Tok::kInt;
        auto r = std::from_chars(b, e, t.int_value);
        if (r.ec != std::errc() || t.int_value > (uint64_t{1} << 63))
          return fail(s, "integer literal out of range (64-bit)");
      }
    } else if (c == '\'' || c == '"') {
      char quote = c;
      ++i;
      t.kind = Tok::kString;
      while (true) {
        if (i >= n) return fail(t.offset, "unterminated string literal");
        char d = text[i];
        if (d == quote) {
          ++i;
          break;
        }
        if (d != '\\') {
          t.text.push_back(d);
          ++i;
          continue;
        }
        size_t esc = i;
        if (i + 1 >= n) return fail(t.offset, "unterminated string literal");
        char e = text[i + 1];
        i += 2;
        switch (e) {
          case 'n':
            t.text.push_back('\n');
            break;
          case 't':
            t.text.push_back('\t');
            break;
          case 'r':
            t.text.push_back('\r');
            break;
          case 'b':
            t.text.push_back('\b');
            break;
          case 'f':
            t.text.push_back('\f');
            break;
          case '0':
            t.text.push_back('\0');
            break;
          case '\\':
            t.text.push_back('\\');
            break;
          case '\'':
            t.text.push_back('\'');
            break;
          case '"':
            t.text.push_back('"');
            break;
          case '/':
            t.text.push_back('/');
            break;
          case 'u': {
            uint32_t cp;
            if (!Hex4(text, i, &cp)) return fail(esc, "\\u must be followed by 4 hex digits");
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              uint32_t lo;
              if (i + 1 < n && text[i] == '\\' && text[i + 1] == 'u' && Hex4(text, i + 2, &lo) &&
                  lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
              } else {
                return fail(esc, "unpaired UTF-16 surrogate in \\u escape");
              }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              return fail(esc, "unpaired UTF-16 surrogate in \\u escape");
            }
            AppendUtf8(cp, &t.text);
            break;
          }
          default:
            // Any other escape keeps its backslash, so regex patterns read
            // naturally: '\d+' is the two characters \d and a '+'.
            t.text.push_back('\\');
            i -= 1;
            break;
        }
      }
    } else if (c == '`') {
      ++i;
      t.kind = Tok::kBacktick;
      while (true) {
        if (i >= n) return fail(t.offset, "unterminated `quoted name`");
        if (text[i] == '`') {
          if (i + 1 < n && text[i + 1] == '`') {  // `` inside a quoted name is one backtick
            t.text.push_back('`');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        t.text.push_back(text[i++]);
      }
      if (t.text.empty()) return fail(t.offset, "empty `quoted name`");
    } else {
      char d = i + 1 < n ? text[i + 1] : '\0';
      size_t len = 1;
      switch (c) {
        case '(':
          t.kind = Tok::kLParen;
          break;
        case ')':
          t.kind = Tok::kRParen;
          break;
        case '[':
          t.kind = Tok::kLBracket;
          break;
        case ']':
          t.kind = Tok::kRBracket;
          break;
        case ',':
          t.kind = Tok::kComma;
          break;
        case '.':
          t.kind = Tok::kDot;
          break;
        case '+':
          t.kind = Tok::kPlus;
          break;
        case '-':
          t.kind = Tok::kMinus;
          break;
        case '*':
          t.kind = Tok::kStar;
          break;
        case '/':
          t.kind = Tok::kSlash;
          break;
        case '%':
          t.kind = Tok::kPercent;
          break;
        case '=':
          if (d != '=') return fail(i, "unexpected '=': use '==' to compare");
          t.kind = Tok::kEq;
          len = 2;
          break;
        case '!':
          if (d == '=') {
            t.kind = Tok::kNe;
            len = 2;
          } else {
            t.kind = Tok::kBang;
          }
          break;
        case '<':
          if (d == '=') {
            t.kind = Tok::kLe;
            len = 2;
          } else if (d == '>') {
            t.kind = Tok::kNe;
            len = 2;
          } else {
            t.kind = Tok::kLt;
          }
          break;
        case '>':
          if (d == '=') {
            t.kind = Tok::kGe;
            len = 2;
          } else {
            t.kind = Tok::kGt;
          }
          break;
        case '&':
          if (d != '&') return fail(i, "unexpected '&': use '&&' or 'and'");
          t.kind = Tok::kAndAnd;
          len = 2;
          break;
        case '|':
          if (d != '|') return fail(i, "unexpected '|': use '||' or 'or'");
          t.kind = Tok::kOrOr;
          len = 2;
          break;
        default: {
          unsigned char u = static_cast<unsigned char>(c);
          if (u >= 0x20 && u < 0x7F) return fail(i, std::string("unexpected character '") + c + "'");
          return fail(
              i, "unexpected character (byte " + std::to_string(u) + "); quote odd names with backticks");
        }
      }
      i += len;
    }
    t.end = static_cast<int>(i);
    tokens->push_back(std::move(t));
  }
}

}  // namespace streamrun::expr
