#include "runner/config/loader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace streamrun::config {

namespace {

// yaml-cpp's 0-based mark as our 1-based one (1:1 when yaml-cpp has none).
Mark ExceptionMark(const YAML::Mark& m, const std::string& file);

// Nesting deeper than this is refused (yaml-cpp itself stops at a few hundred).
constexpr int kMaxDepth = 64;
// Nodes built at most; aliases can expand a small text into a huge tree.
constexpr size_t kMaxNodes = 200000;

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

class Converter {
 public:
  Converter(std::string_view text, const std::string& file, const EnvLookup& env, Diagnostics& diags)
      : text_(text), file_(file), env_(env), diags_(diags) {}

  // False when conversion was abandoned (too deep or too large); a diagnostic was added.
  bool Convert(const YAML::Node& in, ConfNode& out, int depth) {
    if (aborted_) return false;
    out.mark = ToMark(in.Mark());
    if (depth > kMaxDepth) {
      diags_.Add(out.mark, "nesting deeper than " + std::to_string(kMaxDepth) + " levels",
                 "flatten the structure; recursive aliases are not supported");
      aborted_ = true;
      return false;
    }
    if (++nodes_ > kMaxNodes) {
      diags_.Add(out.mark, "the document is too large (more than " + std::to_string(kMaxNodes) +
                               " values after expanding aliases)");
      aborted_ = true;
      return false;
    }
    switch (in.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.type = ConfNode::Type::kNull;
        return true;
      case YAML::NodeType::Scalar:
        ConvertScalar(in, out);
        return true;
      case YAML::NodeType::Sequence:
        out.type = ConfNode::Type::kSequence;
        for (auto it = in.begin(); it != in.end(); ++it) {
          out.items.emplace_back();
          if (!Convert(*it, out.items.back(), depth + 1)) return false;
        }
        return true;
      case YAML::NodeType::Map: {
        out.type = ConfNode::Type::kMap;
        std::map<std::string, int> seen;  // key -> line of its first occurrence
        for (auto it = in.begin(); it != in.end(); ++it) {
          out.entries.emplace_back();
          auto& [key, value] = out.entries.back();
          if (!Convert(it->first, key, depth + 1)) return false;
          if (!Convert(it->second, value, depth + 1)) return false;
          if (value.IsNull() && !LooksLikeNull(it->second.Mark())) {
            // `key:` with nothing after it: yaml-cpp places the null at the next token.
            value.mark = key.mark;
          } else if (value.IsNull() && key.IsScalar() && key.scalar == "type" &&
                     CharAt(it->second.Mark().pos) != '~') {
            // `type: null` names the null sink: YAML reads the word as null, and
            // a component type is never null, so take the word.
            value.type = ConfNode::Type::kScalar;
            value.scalar = "null";
            value.text_column = value.mark.column;
          }
          if (key.IsScalar()) {
            auto [pos, inserted] = seen.emplace(key.scalar, key.mark.line);
            if (!inserted) {
              diags_.Add(key.mark, "duplicate key '" + key.scalar + "'",
                         "first defined at line " + std::to_string(pos->second));
            }
          }
        }
        return true;
      }
    }
    return true;
  }

 private:
  Mark ToMark(const YAML::Mark& m) const { return ExceptionMark(m, file_); }

  char CharAt(int pos) const {
    if (pos < 0 || static_cast<size_t>(pos) >= text_.size()) return '\0';
    return text_[static_cast<size_t>(pos)];
  }

  bool LooksLikeNull(const YAML::Mark& m) const {
    char c = CharAt(m.pos);
    return c == '~' || c == 'n' || c == 'N';
  }

  void ConvertScalar(const YAML::Node& in, ConfNode& out) {
    out.type = ConfNode::Type::kScalar;
    char first = CharAt(in.Mark().pos);
    out.quoted = in.Tag() == "!" && (first == '"' || first == '\'');
    out.text_column = out.quoted ? out.mark.column + 1 : out.mark.column;
    out.scalar = Interpolate(in.Scalar(), out.mark);
  }

  // Replaces ${VAR} and ${VAR:-default}; $${ is a literal ${.
  std::string Interpolate(const std::string& s, const Mark& mark) {
    if (s.find('$') == std::string::npos) return s;
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
      if (s[i] != '$') {
        out += s[i++];
        continue;
      }
      if (s.compare(i, 3, "$${") == 0) {
        out += "${";
        i += 3;
        continue;
      }
      if (s.compare(i, 2, "${") != 0) {
        out += s[i++];
        continue;
      }
      // The matching '}': a default may hold references of its own (${A:-${B:-x}}).
      size_t close = std::string::npos;
      for (size_t j = i + 2, open = 1; j < s.size(); ++j) {
        if (s.compare(j, 2, "${") == 0) {
          ++open;
          ++j;
        } else if (s[j] == '}' && --open == 0) {
          close = j;
          break;
        }
      }
      if (close == std::string::npos) {
        diags_.Add(mark, "unterminated '${' in '" + Shorten(s) + "'",
                   "close it with '}', or write $${ for a literal ${");
        out.append(s, i, std::string::npos);
        break;
      }
      std::string inner = s.substr(i + 2, close - i - 2);
      std::string name = inner;
      std::optional<std::string> fallback;
      size_t sep = inner.find(":-");
      if (sep != std::string::npos) {
        name = inner.substr(0, sep);
        fallback = inner.substr(sep + 2);  // interpolated only if it is used
      }
      bool valid = !name.empty() && IsNameStart(name[0]);
      for (char c : name) valid = valid && IsNameChar(c);
      if (!valid) {
        diags_.Add(mark, "invalid environment variable reference '${" + Shorten(inner) + "}'",
                   "write ${NAME} or ${NAME:-default}; $${ for a literal ${");
        out.append(s, i, close + 1 - i);
        i = close + 1;
        continue;
      }
      std::optional<std::string> value;
      if (env_) value = env_(name);
      if (value.has_value() && !(value->empty() && fallback.has_value())) {
        out += *value;
      } else if (fallback.has_value()) {
        if (++interpolation_depth_ > 8)
          diags_.Add(mark, "environment variable defaults nested more than 8 deep in '" + Shorten(s) + "'");
        else
          out += Interpolate(*fallback, mark);
        --interpolation_depth_;
      } else {
        diags_.Add(mark, "environment variable '" + name + "' is not set",
                   "set it or write ${" + name + ":-default}");
      }
      i = close + 1;
    }
    return out;
  }

  static std::string Shorten(const std::string& s) { return s.size() <= 40 ? s : s.substr(0, 37) + "..."; }

  std::string_view text_;
  int interpolation_depth_ = 0;
  const std::string& file_;
  const EnvLookup& env_;
  Diagnostics& diags_;
  size_t nodes_ = 0;
  bool aborted_ = false;
};

// Counts the documents of a stream and records where each starts. yaml-cpp 0.7 does not
// consume a stray ',' at document level: YAML::LoadAll then loops for ever, asking for
// the next document at the same place. Counting with a bound finds that place.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
  }
  void OnMapEnd() override {}
};

Mark ExceptionMark(const YAML::Mark& m, const std::string& file) {
  Mark mark;
  mark.file = file;
  if (m.line >= 0 && m.column >= 0) {
    mark.line = m.line + 1;
    mark.column = m.column + 1;
  } else {
    mark.line = 1;
    mark.column = 1;
  }
  return mark;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::optional<ConfNode> LoadYamlText(std::string_view text, const std::string& file_name,
                                     const EnvLookup& env, Diagnostics& diags) {
  try {
    const std::string buffer(text);
    // First pass: syntax of up to three documents, and where they start.
    DocumentStarts counter;
    {
      std::istringstream in(buffer);
      YAML::Parser parser(in);
      for (int i = 0; i < 3 && parser.HandleNextDocument(counter); ++i) {
      }
    }
    ConfNode root;
    root.mark = Mark{file_name, 1, 1};
    if (counter.starts.empty()) return root;  // empty text: a null document
    for (size_t i = 1; i < counter.starts.size(); ++i) {
      if (counter.starts[i].pos == counter.starts[i - 1].pos) {
        const YAML::Mark& at = counter.starts[i];
        char c = at.pos >= 0 && static_cast<size_t>(at.pos) < buffer.size() ? buffer[at.pos] : '?';
        diags.Add(ExceptionMark(at, file_name), std::string("YAML syntax error: unexpected '") + c + "'");
        return std::nullopt;
      }
    }
    if (counter.starts.size() > 1) {
      diags.Add(ExceptionMark(counter.starts[1], file_name), "a pipeline file holds a single YAML document",
                "remove the second '---' document");
    }
    YAML::Node doc = YAML::Load(buffer);
    Converter converter(text, file_name, env, diags);
    if (!converter.Convert(doc, root, 1)) {
      // Too deep or too large: reported; nothing is checked further (an empty
      // document would only add "must be a map" to the real reason).
      return std::nullopt;
    }
    return root;
  } catch (const YAML::DeepRecursion& e) {
    diags.Add(ExceptionMark(e.mark, file_name),
              "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
  } catch (const YAML::ParserException& e) {
    // YAML forbids tabs in indentation; yaml-cpp's message does not say so.
    std::string hint;
    // The tab may be on the line of the error or the one before it.
    size_t begin = 0;
    for (int line = 0; line <= e.mark.line && begin != std::string_view::npos; ++line) {
      const size_t end = text.find('\n', begin);
      const std::string_view text_line =
          text.substr(begin, end == std::string_view::npos ? end : end - begin);
      if (line + 1 >= e.mark.line && text_line.find('\t') != std::string_view::npos)
        hint = "tabs are not allowed in YAML indentation: use spaces";
      begin = end == std::string_view::npos ? end : end + 1;
    }
    diags.Add(ExceptionMark(e.mark, file_name), "YAML syntax error: " + e.msg, hint);
  } catch (const YAML::Exception& e) {
    diags.Add(ExceptionMark(e.mark, file_name), "cannot read YAML: " + e.msg);
  } catch (const std::exception& e) {
    diags.Add(Mark{file_name, 1, 1}, std::string("cannot read YAML: ") + e.what());
  }
  return std::nullopt;
}

std::optional<ConfNode> LoadYamlFile(const std::string& path, const EnvLookup& env, Diagnostics& diags) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    diags.Add(Mark{path, 0, 0}, "cannot read pipeline file: " + path + ": is a directory");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.Add(Mark{path, 0, 0}, "cannot read pipeline file: " + path + ": " + std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    diags.Add(Mark{path, 0, 0}, "cannot read pipeline file: " + path);
    return std::nullopt;
  }
  return LoadYamlText(buf.str(), path, env, diags);
}

}  // namespace streamrun::config
