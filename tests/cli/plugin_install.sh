#!/usr/bin/env bash
# A plugin built outside the tree against the installed package only
# (docs/plugins.md): `cmake --install` to a fresh prefix, the template folder
# copied from there and built with find_package(streamrun) and nothing of
# this source tree, then run by the installed binary. Its keyed state and
# timers must survive SIGKILLs: restarts at another parallelism, with the
# memory and the rocksdb backends, give the rows of an uninterrupted run.
# Usage: plugin_install.sh BUILD_DIR
set -euo pipefail
build="$1"
kills="${KILLS:-3}"
dir=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
# shellcheck source=kill_restart.sh
. "$(dirname "$0")/kill_restart.sh"

cmake --install "$build" --prefix "$dir/prefix" >"$dir/install.log"
for f in bin/streamrun include/streamrun/plugin.h include/streamrun/sdk.hpp lib/cmake/streamrun/streamrunConfig.cmake \
  lib/streamrun/plugins/libsessionize.so share/streamrun/plugin-template/CMakeLists.txt; do
  [ -e "$dir/prefix/$f" ] || { echo "plugin_install: the install lacks $f"; exit 1; }
done
cp -r "$dir/prefix/share/streamrun/plugin-template" "$dir/myplugin"
cmake -S "$dir/myplugin" -B "$dir/myplugin/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$dir/prefix" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$dir/configure.log"
cmake --build "$dir/myplugin/build" >"$dir/build.log"
# Nothing of the source tree was on its include path.
src=$(cd "$(dirname "$0")/../.." && pwd)
if grep -q -- "-I$src" "$dir/myplugin/build/compile_commands.json"; then
  echo "plugin_install: the template was compiled with the source tree on its include path"
  exit 1
fi
bin="$dir/prefix/bin/streamrun"
lib="$dir/myplugin/build/libbucket_totals.so"
"$bin" plugins "$lib" | grep -q "bucket_totals 1.0.0 \[keyed\]" || { "$bin" plugins "$lib"; exit 1; }

# pipeline NAME BACKEND -> $dir/NAME.yaml writing $dir/NAME.out
pipeline() {
  cat >"$dir/$1.yaml" <<YAML
name: plugin-crash-$1
plugins: [ "$lib" ]
runtime:
  state: { backend: $2, path: "$dir/state-$1", cache: 64KB }
  checkpoint: { interval: 300ms, storage: "file://$dir/ckpt-$1", retain: 2 }
sources:
  transactions:
    type: generate
    kind: transactions
    count: 40000
    rate: 10000/s
    seed: 3
    partitions: 2
    out_of_order: 0.1:500ms
    event_time: { field: ts, watermark: { max_out_of_orderness: 1s } }
transforms:
  totals:
    input: transactions
    steps:
      - key_by: merchant
      - bucket_totals: { every: 100ms, field: amount }
sinks:
  out: { input: totals, type: file, path: "$dir/$1.out" }
YAML
}

pipeline reference memory
sed -i '/checkpoint:/d' "$dir/reference.yaml"
"$bin" run -q -p 1 "$dir/reference.yaml"
sort "$dir/reference.out" >"$dir/reference.sorted"
[ "$(wc -l <"$dir/reference.out")" -gt 200 ] || { echo "plugin_install: the reference run wrote too little"; exit 1; }

# scenario NAME BACKEND PARALLELISM... (one per restart, cycled)
scenario() {
  local name="$1" backend="$2"
  shift 2
  pipeline "$name" "$backend"
  kill_restart "$bin" "$dir/$name.yaml" "$dir/$name.err" "$kills" "$@" || { echo "plugin_install: $name"; exit 1; }
  sort "$dir/$name.out" >"$dir/$name.sorted"
  if ! cmp -s "$dir/$name.sorted" "$dir/reference.sorted"; then
    echo "plugin_install: $name differs from the uninterrupted run after $kill_restart_kills kills:" \
      "missing $(comm -13 "$dir/$name.sorted" "$dir/reference.sorted" | wc -l)," \
      "extra $(comm -23 "$dir/$name.sorted" "$dir/reference.sorted" | wc -l)"
    exit 1
  fi
  local restored
  restored=$(grep -c "restored checkpoint" "$dir/$name.err" || true)
  [ "$restored" -ge 1 ] || { echo "plugin_install: $name: no run restored a checkpoint"; tail -5 "$dir/$name.err"; exit 1; }
  echo "plugin_install: $name: $kill_restart_kills kills, $restored restores, $(wc -l <"$dir/$name.out") rows" \
    "equal to the uninterrupted run"
}

scenario memory-p2-p1 memory 2 1
scenario rocksdb-p1-p2 rocksdb 1 2
echo "plugin_install: the template built against the installed package only runs, and survives SIGKILL"
