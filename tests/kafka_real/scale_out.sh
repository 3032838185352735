#!/usr/bin/env bash
# A job of three processes against a real Kafka (docs/scaling.md): the same
# test as tests/cli/scale_out.sh (one member and three members equal one
# ordinary process; a member killed with SIGKILL and one added mid-run lose
# nothing and double nothing), with the Kafka output read with read_committed
# and required exact after the kill too. The members create the repartition
# topics themselves; the test's topics get a unique suffix and are deleted.
#
#   KAFKA_BROKERS=host:9092 tests/kafka_real/scale_out.sh build/release/runner/streamrun
#
# Skips when KAFKA_BROKERS is unset. Needs python3-confluent-kafka and kcat.
set -euo pipefail
if [ -z "${KAFKA_BROKERS:-}" ]; then
  echo "scale_out: skipped (KAFKA_BROKERS is not set)"
  exit 0
fi
exec "$(cd "$(dirname "$0")/../cli" && pwd)/scale_out.sh" "$(realpath "$1")"
