#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release streamrun
exec build/release/runner/streamrun pipelines/demo_clicks_file.yaml
