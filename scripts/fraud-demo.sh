#!/usr/bin/env bash
# The fraud demo (README): installs what is missing, builds streamrun and the
# fraud plugin, and runs pipelines/fraud.yaml: simulated card transactions on
# the embedded Kafka broker (or KAFKA_BROKERS' topic `transactions`), alerts
# on the terminal and to the topic `fraud_alerts`, exactly once. Checkpoints
# go to out/fraud-checkpoints, or with S3_ENDPOINT=http://host:port to
# s3://streamrun/fraud on that S3-compatible store (CHECKPOINT_STORAGE
# overrides the location). Ctrl-C stops it (with a final checkpoint).
# With a real cluster the next run restores from the last checkpoint. The
# embedded broker keeps its topics in the process, so each run of it starts
# with new topics: the script then gives each run a checkpoint folder of its
# own (a restore would wait for offsets the new topic does not have yet).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release streamrun fraud
run=""
[ -n "${KAFKA_BROKERS:-}" ] || run="/run-$(date +%Y%m%d-%H%M%S)"
if [ -n "${S3_ENDPOINT:-}" ]; then
  export CHECKPOINT_STORAGE="${CHECKPOINT_STORAGE:-s3://streamrun/fraud$run}"
else
  export CHECKPOINT_STORAGE="${CHECKPOINT_STORAGE:-file://out/fraud-checkpoints$run}"
fi
export STREAMRUN_PLUGIN_DIR="${STREAMRUN_PLUGIN_DIR:-$PWD/build/release/plugins}"
exec build/release/runner/streamrun pipelines/fraud.yaml
