#pragma once
// A plugin operator as a step: the registry entry that validates, plans and
// instantiates it like a built-in (library.cc adds one per loaded operator).
#include "operators/registry.h"

namespace streamrun::plugin {

struct LoadedOperator;

StepEntry PluginStepEntry(const LoadedOperator* op);

}  // namespace streamrun::plugin
