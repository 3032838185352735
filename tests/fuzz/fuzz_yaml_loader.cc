// libFuzzer target: any bytes through the YAML loader and the pipeline validator.
// Neither may crash, hang or recurse without bound, whatever the input.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runner/config/loader.h"
#include "runner/config/validate.h"

namespace {

class EmptyCatalog : public streamrun::config::ComponentCatalog {
 public:
  const streamrun::config::ComponentSpec* Find(streamrun::config::ComponentKind,
                                               const std::string&) const override {
    return nullptr;
  }
  std::vector<const streamrun::config::ComponentSpec*> All(streamrun::config::ComponentKind) const override {
    return {};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streamrun::config;
  static const EmptyCatalog catalog;
  static const EnvLookup no_env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Diagnostics diags;
  std::optional<ConfNode> root = LoadYamlText(text, "fuzz.yaml", no_env, diags);
  if (root.has_value()) ValidatePipeline(*root, catalog, diags);
  for (const Diagnostic& d : diags.list()) (void)d.ToString();
  (void)diags.ToString();
  return 0;
}
