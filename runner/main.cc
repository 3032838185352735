// streamrun: runs declarative YAML stream pipelines (docs/pipeline-file.md).
#include "runner/cli/commands.h"

int main(int argc, char** argv) { return streamrun::cli::Main(argc, argv); }
