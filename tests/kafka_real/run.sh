#!/usr/bin/env bash
# Runs every test of tests/kafka_real against a real Kafka: by default the
# local stack's broker (docker-compose.yml), reachable from the host at
# localhost:29092.
#
#   docker compose up -d kafka          # the broker alone is enough
#   tests/kafka_real/run.sh             # or: run.sh path/to/streamrun
#
# KAFKA_BROKERS overrides the broker; the binary defaults to the release build.
# Fails at once, with the reason, when the broker cannot be reached or the
# Python Kafka client is missing; otherwise exits 1 when any test fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(realpath "${1:-$root/build/release/runner/streamrun}")"
export KAFKA_BROKERS="${KAFKA_BROKERS:-localhost:29092}"
python=/usr/bin/python3

[ -x "$bin" ] || { echo "kafka_real: no streamrun binary at $bin (scripts/build.sh release streamrun)"; exit 1; }
"$python" -c 'import confluent_kafka' 2>/dev/null ||
  { echo "kafka_real: needs python3-confluent-kafka (scripts/install-deps.sh)"; exit 1; }

# The broker answers a metadata request within 10 s.
if ! "$python" - <<'PY'
import os, sys
from confluent_kafka.admin import AdminClient
brokers = os.environ["KAFKA_BROKERS"]
try:
    md = AdminClient({"bootstrap.servers": brokers}).list_topics(timeout=10)
except Exception as e:
    sys.exit(f"kafka_real: no Kafka at {brokers}: {e}")
print(f"kafka_real: Kafka at {brokers}: {len(md.brokers)} broker(s), {len(md.topics)} topics")
PY
then
  echo "kafka_real: start the stack's broker with \`docker compose up -d kafka\`, or set KAFKA_BROKERS"
  exit 1
fi

failed=()
for test in "$here"/*.sh; do
  [ "$(basename "$test")" = run.sh ] && continue
  echo "kafka_real: $(basename "$test")"
  if MODE=real "$test" "$bin"; then :; else failed+=("$(basename "$test")"); fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "kafka_real: failed: ${failed[*]}"
  exit 1
fi
echo "kafka_real: all passed against $KAFKA_BROKERS"
