#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, runs the live
# clickstream demo (top 10 pages per 5 s window from the Kafka topic `clicks`;
# on the embedded broker with simulated clicks unless KAFKA_BROKERS is set).
# `scripts/demo.sh file` runs the file-based demo instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release streamrun
if [ "${1:-}" = "file" ]; then
  exec build/release/runner/streamrun pipelines/demo_clicks_file.yaml
fi
exec build/release/runner/streamrun pipelines/clickstream_top10.yaml
