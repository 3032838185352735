#!/usr/bin/env bash
# Validates the local stack without a Docker engine (tests/stack/README.md):
#   1. docker-compose.yml against docker-compose's schema, with and without
#      the optional profiles; every image pinned to a version;
#   2. the Prometheus config, the alert rules and their unit tests (promtool);
#   3. the Grafana provisioning files and the dashboard: they parse, refer to
#      the provisioned data source, every query parses (promtool) and names
#      only metrics docs/metrics.md lists; every alert has the `QUERY OP
#      NUMBER` form tests/stack/queries.py relies on;
#   4. the Dockerfile (scripts/dockerfile-check.sh).
# Whether the queries return data from a live pipeline is the metrics test's
# part (it runs tests/stack/queries.py). Exit status 1 when a check fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
python=/usr/bin/python3   # Debian's, with python3-yaml (a docker-compose dependency)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()

run() {  # NAME COMMAND...: runs a check, prints its output indented, remembers failures
  local name="$1"
  shift
  if "$@" >"$tmp/out" 2>&1; then
    echo "validate: ok: $name"
  else
    echo "validate: FAIL: $name"
    failed+=("$name")
  fi
  sed 's/^/    /' "$tmp/out"
}

run "docker-compose config (default services)" docker-compose -f docker-compose.yml config -q
run "docker-compose config (--profile fraud --profile registry)" \
  docker-compose -f docker-compose.yml --profile fraud --profile registry config -q
run "promtool check config deploy/prometheus/prometheus.yml" promtool check config deploy/prometheus/prometheus.yml
run "promtool check rules deploy/prometheus/alerts.yml" promtool check rules deploy/prometheus/alerts.yml
run "promtool test rules deploy/prometheus/alerts_test.yml" promtool test rules deploy/prometheus/alerts_test.yml

# Files, data source, metric names, alert form; writes every dashboard query
# as a recording rule so that promtool parses it next.
check_files() {
  "$python" - "$tmp/dashboard_rules.yml" <<'PY'
import glob, json, re, sys
import yaml

problems = []
def need(ok, what):
    if not ok:
        problems.append(what)

# Images of the compose file: pinned, never `latest` (streamrun:local is built here).
compose = yaml.safe_load(open("docker-compose.yml"))
for name, svc in compose["services"].items():
    image = svc.get("image", "")
    repo, _, tag = image.rpartition(":")
    if "build" in svc:
        continue
    need(repo and tag and tag != "latest" and "/" not in tag, f"service {name}: image {image!r} is not pinned to a version")
print(f"{len(compose['services'])} services; every pulled image has a version tag")

# The metric names docs/metrics.md lists; histograms add _bucket, _sum, _count.
doc = open("docs/metrics.md").read()
known = set()
for m in re.finditer(r"^\| `(streamrun_[a-z0-9_]+)` \| ([a-z]+)", doc, re.M):
    known.add(m.group(1))
    if m.group(2) == "histogram":
        known |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
need(len(known) > 20, f"docs/metrics.md lists only {len(known)} metric names")

def metric_names(expr):
    return set(re.findall(r"\bstreamrun_[a-z0-9_]+", expr))

# Provisioning: the data source the dashboards use, the folder they load from.
ds = yaml.safe_load(open("deploy/grafana/provisioning/datasources/prometheus.yml"))
uids = {d["uid"] for d in ds["datasources"]}
need("prometheus" in uids, "no data source with uid `prometheus` is provisioned")
need(all(d["url"] == "http://prometheus:9090" for d in ds["datasources"] if d["type"] == "prometheus"),
     "the Prometheus data source does not point at http://prometheus:9090")
prov = yaml.safe_load(open("deploy/grafana/provisioning/dashboards/streamrun.yml"))
paths = {p["options"]["path"] for p in prov["providers"]}
mounts = {v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]
          if v.split(":")[0].rstrip("/") == "./deploy/grafana/dashboards"}
need(paths and paths <= mounts, f"dashboard provider path(s) {sorted(paths)} are not where docker-compose.yml mounts deploy/grafana/dashboards ({sorted(mounts)})")

# Dashboards.
rules = []
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
for path in sorted(glob.glob("deploy/grafana/dashboards/*.json")):
    dash = json.load(open(path))
    n = 0
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        for name in metric_names(q):
            need(name in known, f"{path}: variable {var['name']}: {name} is not in docs/metrics.md")
    for panel in walk(dash.get("panels", [])):
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets", [])
        need(targets, f"{path}: panel {panel.get('title')!r} has no query")
        ds_uid = (panel.get("datasource") or {}).get("uid")
        need(ds_uid in uids, f"{path}: panel {panel.get('title')!r} uses data source {ds_uid!r}")
        for t in targets:
            expr = t.get("expr", "")
            names = metric_names(expr)
            need(names, f"{path}: panel {panel.get('title')!r}: query names no streamrun metric: {expr}")
            for name in sorted(names - known):
                need(False, f"{path}: panel {panel.get('title')!r}: {name} is not in docs/metrics.md")
            q = expr.replace("$pipeline", "p").replace("${pipeline}", "p")
            q = q.replace("$__rate_interval", "1m").replace("$__interval", "1m")
            need("$" not in q, f"{path}: panel {panel.get('title')!r}: unknown variable in {expr}")
            n += 1
            rules.append({"record": f"dashboard:query_{len(rules) + 1}", "expr": q})
    print(f"{path}: {n} queries, metric names all in docs/metrics.md")

# Alerts: documented metrics, and the `QUERY OP NUMBER` form with no comparison in QUERY.
alerts = yaml.safe_load(open("deploy/prometheus/alerts.yml"))
form = re.compile(r"^(.*\S)\s*(==|!=|>=|<=|>|<)\s*[-+]?[0-9.]+(?:[eE][-+]?\d+)?$")
count = 0
for group in alerts["groups"]:
    for rule in group["rules"]:
        if "alert" not in rule:
            continue
        count += 1
        expr = " ".join(str(rule["expr"]).split())
        for name in sorted(metric_names(expr) - known):
            need(False, f"alert {rule['alert']}: {name} is not in docs/metrics.md")
        m = form.match(expr)
        if not m:
            need(False, f"alert {rule['alert']}: not of the form `QUERY OP NUMBER`: {expr}")
            continue
        left = re.sub(r"\{[^}]*\}", "{}", m.group(1))   # label matchers may hold != or =~
        need(not re.search(r"==|!=|>=|<=|>|<|\bbool\b", left),
             f"alert {rule['alert']}: the query left of the comparison compares too: {m.group(1)}")
print(f"deploy/prometheus/alerts.yml: {count} alerts, each `QUERY OP NUMBER` over documented metrics")

yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[1], "w"))
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
}
run "compose images, Grafana provisioning, dashboard and alert metric names" check_files
run "promtool parses every dashboard query" promtool check rules "$tmp/dashboard_rules.yml"

check_queries() {
  "$python" tests/stack/queries.py validate-pipeline >"$tmp/queries" || return 1
  local n
  n=$(wc -l <"$tmp/queries")
  [ "$n" -gt 0 ] || { echo "no queries"; return 1; }
  if grep -n '\$\|^\s*$' "$tmp/queries"; then echo "a query is empty or keeps a variable"; return 1; fi
  echo "$n queries, one per line"
}
run "tests/stack/queries.py" check_queries
run "scripts/dockerfile-check.sh" scripts/dockerfile-check.sh
run "shell syntax of the stack's scripts" bash -n tests/kafka_real/run.sh scripts/dockerfile-check.sh tests/stack/validate.sh

if [ ${#failed[@]} -gt 0 ]; then
  echo "validate: ${#failed[@]} check(s) failed: ${failed[*]}"
  exit 1
fi
echo "validate: all checks passed (no container was started: there is no Docker engine here)"
