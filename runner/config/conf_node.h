#pragma once
// A pipeline file as a plain tree with positions. The YAML library stays inside
// loader.cc; everything else (validation, operators, planning) reads this tree,
// so heavy headers are not included across the code base.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streamrun::config {

// 1-based line and column, as editors show them.
struct Mark {
  std::string file;  // shared by all nodes of a file; empty for synthetic nodes
  int line = 0;
  int column = 0;
};

class ConfNode {
 public:
  enum class Type { kNull, kScalar, kSequence, kMap };

  // Declared here and defaulted below the class: with the members defined implicitly,
  // clang cannot check std::pair<ConfNode, ConfNode> while ConfNode is incomplete.
  ConfNode();
  ConfNode(const ConfNode&);
  ConfNode(ConfNode&&) noexcept;
  ConfNode& operator=(const ConfNode&);
  ConfNode& operator=(ConfNode&&) noexcept;
  ~ConfNode();

  Type type = Type::kNull;
  Mark mark;            // where the value starts
  std::string scalar;   // kScalar: text after ${VAR} interpolation
  bool quoted = false;  // kScalar written with quotes ('..' or "..")
  // Column of the first character of the scalar's text (after an opening quote),
  // so an error at offset k inside an expression points at column text_column + k.
  int text_column = 0;
  std::vector<ConfNode> items;                         // kSequence
  std::vector<std::pair<ConfNode, ConfNode>> entries;  // kMap: key node, value node, in file order

  bool IsNull() const { return type == Type::kNull; }
  bool IsScalar() const { return type == Type::kScalar; }
  bool IsSequence() const { return type == Type::kSequence; }
  bool IsMap() const { return type == Type::kMap; }

  // kMap lookup by key; nullptr when absent.
  const ConfNode* Find(std::string_view key) const {
    for (const auto& [k, v] : entries)
      if (k.scalar == key) return &v;
    return nullptr;
  }
  // Position of the key of `key` in a map (for "unknown key" errors); this node's mark if absent.
  const Mark& KeyMark(std::string_view key) const {
    for (const auto& [k, v] : entries)
      if (k.scalar == key) return k.mark;
    return mark;
  }
};

inline ConfNode::ConfNode() = default;
inline ConfNode::ConfNode(const ConfNode&) = default;
inline ConfNode::ConfNode(ConfNode&&) noexcept = default;
inline ConfNode& ConfNode::operator=(const ConfNode&) = default;
inline ConfNode& ConfNode::operator=(ConfNode&&) noexcept = default;
inline ConfNode::~ConfNode() = default;

}  // namespace streamrun::config
