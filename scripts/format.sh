#!/usr/bin/env bash
# Formats the C++ sources with .clang-format, or with --check fails on any file
# that is not formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard '*.cc' '*.h')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run -Werror $files
else
  clang-format -i $files
fi
