#!/usr/bin/env bash
# The live web view (runtime.ui.listen) of pipelines/clickstream_top10.yaml on
# the embedded broker, in headless Chromium (webview.cjs, playwright-core
# driving /usr/bin/chromium): the operator graph and its numbers appear and
# change, the top-10 chart of the preview sink fills in, nothing is fetched
# from another host. The endpoints answer JSON. Saves a screenshot to
# $WEBVIEW_SCREENSHOT (default $TMPDIR/webview.png).
# Usage: webview.sh STREAMRUN
set -euo pipefail
bin="$1"
case "$bin" in
  */*) bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" ;;
  *) bin="$(command -v "$bin")" ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shot="${WEBVIEW_SCREENSHOT:-${TMPDIR:-/tmp}/webview.png}"
for tool in node npm curl python3 /usr/bin/chromium; do
  command -v "$tool" >/dev/null || { echo "webview: $tool is missing (scripts/install-deps.sh installs it)"; exit 1; }
done
node_path="$(npm root -g)"
[ -d "$node_path/playwright-core" ] || { echo "webview: playwright-core is not installed globally (npm install -g playwright-core)"; exit 1; }

dir=$(mktemp -d)
pid=""
# On an early exit: SIGTERM, and SIGKILL if it is still there 5 s later.
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
base="http://127.0.0.1:$port"

cd "$repo"
env -u KAFKA_BROKERS UI_LISTEN="127.0.0.1:$port" METRICS_LISTEN=127.0.0.1:0 PARALLELISM=2 \
  "$bin" run pipelines/clickstream_top10.yaml >"$dir/out" 2>"$dir/err" &
pid=$!

show_logs() { echo "--- stderr"; tail -n 40 "$dir/err"; echo "--- stdout (tail)"; tail -n 20 "$dir/out"; }
for i in $(seq 300); do
  curl -sf -o /dev/null "$base/api/graph" && break
  kill -0 "$pid" 2>/dev/null || { echo "webview: streamrun exited before the web view answered"; show_logs; exit 1; }
  [ "$i" -lt 300 ] || { echo "webview: $base/api/graph did not answer within 30 s"; show_logs; exit 1; }
  sleep 0.1
done

# The page: HTML, self-contained (no reference to another host).
curl -sf -D "$dir/page.headers" -o "$dir/index.html" "$base/" || { echo "webview: GET / failed"; exit 1; }
grep -qi '^content-type: *text/html' "$dir/page.headers" || { echo "webview: / is not served as text/html:"; cat "$dir/page.headers"; exit 1; }
python3 - "$dir/index.html" <<'PY' || { echo "webview: the page at / is not self-contained"; exit 1; }
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
assert "<svg" in page and "api/status" in page, "/ is not the web view page"
# XML namespace names are identifiers, never fetched.
namespaces = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml"}
bad = [u for u in re.findall(r"""https?://[^\s"'<>()]+""", page)
       if u not in namespaces and not re.match(r"https?://(127\.0\.0\.1|localhost)([:/]|$)", u)]
bad += re.findall(r"""(?:src|href|action)\s*=\s*["']//[^"']*""", page)
bad += re.findall(r"""url\(\s*["']?//[^)]*""", page)
bad += re.findall(r"""@import\b[^;]*""", page)
assert not bad, "the page refers to other hosts: " + ", ".join(bad)
PY

# The JSON endpoints.
for ep in graph status preview; do
  curl -sf -D "$dir/$ep.headers" -o "$dir/$ep.json" "$base/api/$ep" || { echo "webview: GET /api/$ep failed"; exit 1; }
  grep -qi '^content-type: *application/json' "$dir/$ep.headers" || { echo "webview: /api/$ep is not served as application/json:"; cat "$dir/$ep.headers"; exit 1; }
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$dir/$ep.json" || { echo "webview: /api/$ep is not JSON:"; head -c 500 "$dir/$ep.json"; exit 1; }
done
python3 - "$dir" <<'PY' || { echo "webview: the endpoints' JSON does not describe the clickstream pipeline"; exit 1; }
import json, sys
d = sys.argv[1]
graph, status, preview = (json.load(open(f"{d}/{n}.json")) for n in ("graph", "status", "preview"))
assert graph["pipeline"] == "clickstream-top10", graph["pipeline"]
names = {n["name"]: n for n in graph["nodes"]}
assert set(names) == {"clicks", "page_counts", "screen"}, sorted(names)
assert names["screen"]["preview"] is True, names["screen"]
ids = {n["id"] for n in graph["nodes"]}
assert {(e["from"], e["to"]) for e in graph["edges"]} == {(names["clicks"]["id"], names["page_counts"]["id"]), (names["page_counts"]["id"], names["screen"]["id"])}, graph["edges"]
assert {n["id"] for n in status["nodes"]} == ids, status["nodes"]
assert len(status["workers"]) == 2, status["workers"]
assert "history" in status["checkpoints"], status["checkpoints"]
assert [s["name"] for s in preview["sinks"]] == ["screen"], preview
PY

echo "webview: endpoints ok, running headless Chromium"
status=0
NODE_PATH="$node_path" node "$here/webview.cjs" "$base" "$shot" || status=$?

kill -TERM "$pid"
exited=0
for _ in $(seq 200); do
  kill -0 "$pid" 2>/dev/null || { exited=1; break; }
  sleep 0.1
done
[ $exited -eq 1 ] || { echo "webview: streamrun did not stop within 20 s of SIGTERM"; show_logs; exit 1; }
code=0
wait "$pid" || code=$?
pid=""
[ $status -eq 0 ] || { echo "webview: the browser test failed (screenshot: $shot)"; show_logs; exit 1; }
[ $code -eq 0 ] || { echo "webview: streamrun exited $code after SIGTERM"; show_logs; exit 1; }
echo "webview: screenshot $shot"
echo "webview: ok"
