#!/usr/bin/env bash
# Regenerates the files made from the operator specs, or with --check fails
# when a committed copy is stale. Usage: scripts/generate.sh [--check] [streamrun-binary]
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
bin="${1:-build/release/runner/streamrun}"

declare -A files=(
  [schemas/pipeline.schema.json]="json-schema"
  [docs/operators.md]="reference"
)
stale=0
for f in "${!files[@]}"; do
  tmp=$(mktemp)
  "$bin" schema "${files[$f]}" >"$tmp"
  if [ $check -eq 1 ]; then
    if ! cmp -s "$tmp" "$f"; then
      echo "generate: $f is stale; run scripts/generate.sh and commit it" >&2
      diff -u "$f" "$tmp" | head -20 >&2 || true
      stale=1
    fi
    rm -f "$tmp"
  else
    mv "$tmp" "$f"
    echo "generate: wrote $f"
  fi
done
exit $stale
