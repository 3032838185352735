#pragma once
// The fields a pipeline reads from a source's records, as a tree of paths, each
// leaf (or inner node) mapped to a slot. Built at plan time; decoders extract
// exactly these fields and nothing else.
#include <string>
#include <vector>

namespace streamrun {

struct ProjectionNode {
  std::string name;
  int slot = -1;  // -1: not read itself, only its children
  std::vector<ProjectionNode> children;

  // The node for `path`, created if needed.
  ProjectionNode& At(const std::vector<std::string>& path) {
    ProjectionNode* n = this;
    for (const auto& part : path) {
      ProjectionNode* next = nullptr;
      for (auto& c : n->children)
        if (c.name == part) next = &c;
      if (!next) {
        n->children.push_back(ProjectionNode{part, -1, {}});
        next = &n->children.back();
      }
      n = next;
    }
    return *n;
  }
  bool empty() const { return children.empty(); }
};

}  // namespace streamrun
