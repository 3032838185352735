#!/usr/bin/env python3
"""Checks a Prometheus that scrapes the runs of metrics.sh (pipelines
metrics-live and metrics-flood) through its HTTP API:

  - every metric docs/metrics.md lists is present;
  - consumer lag, watermark lag, backpressure, checkpoint and latency metrics
    move (their values change while the pipelines run);
  - every query of the shipped Grafana dashboard and alert rules returns data
    (tests/stack/queries.py lists them).

Usage: metrics_check.py PROMETHEUS_URL REPO_ROOT WORK_DIR
"""
import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

prom, root, work = sys.argv[1], sys.argv[2], sys.argv[3]
PIPELINES = "metrics-live|metrics-flood"


def query(q):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"query failed: {q}: {body}")
    return body["data"]["result"]


def value(q):
    """The sum of a query's series (None: no data)."""
    result = query(q)
    if not result:
        return None
    return sum(float(s["value"][1]) for s in result)


def documented_metrics():
    names = []
    for line in open(f"{root}/docs/metrics.md"):
        m = re.match(r"^\| `(streamrun_[a-z_]+)` \|", line)
        if m:
            names.append(m.group(1))
    if len(names) < 20:
        raise SystemExit(f"docs/metrics.md lists only {len(names)} metrics")
    return names


def wait_for(what, check, timeout):
    deadline = time.time() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.time() > deadline:
            raise SystemExit(f"{what}: not within {timeout} s")
        time.sleep(1)


failures = []

# The scrapes are up.
wait_for("both targets up", lambda: value('sum(up{job="streamrun"})') == 2, 30)

# Every documented metric is there (histograms by their _count).
histograms = {"streamrun_checkpoint_duration_seconds", "streamrun_end_to_end_latency_seconds"}
optional = {"streamrun_plugin_events_total", "streamrun_plugin_value"}  # only with plugin operators
for name in documented_metrics():
    if name in optional:
        continue
    series = name + "_count" if name in histograms else name
    if wait_for(f"metric {series}", lambda: query(series), 30) is None:
        failures.append(f"{series} is missing")

# They move. Counters and gauges are sampled some seconds apart.
def sample():
    return {
        "consumer lag": value('sum(streamrun_kafka_consumer_lag_records{pipeline="metrics-live"})'),
        "watermark lag": value(
            'max(streamrun_operator_watermark_lag_seconds{pipeline="metrics-live",operator="page_counts"})'
        ),
        "output watermark": value(
            'max(streamrun_operator_output_watermark_seconds{pipeline="metrics-live",operator="page_counts"})'
        ),
        "backpressure": value('sum(streamrun_worker_backpressure_seconds_total{pipeline="metrics-flood"})'),
        "checkpoints completed": value('sum(streamrun_checkpoints_completed_total{pipeline="metrics-live"})'),
        "checkpoint duration count": value(
            'sum(streamrun_checkpoint_duration_seconds_count{pipeline="metrics-live"})'
        ),
        "checkpoint age": value('max(streamrun_checkpoint_age_seconds{pipeline="metrics-live"})'),
        "event-time latency count": value(
            'sum(streamrun_end_to_end_latency_seconds_count{pipeline="metrics-live",time="event"})'
        ),
        "ingestion latency count": value(
            'sum(streamrun_end_to_end_latency_seconds_count{pipeline="metrics-live",time="ingestion"})'
        ),
        "records out": value('sum(streamrun_operator_records_out_total{pipeline="metrics-live"})'),
    }


first = sample()
moved = {}
deadline = time.time() + 25
while time.time() < deadline:
    time.sleep(2)
    now = sample()
    for k, v in now.items():
        if v is not None and first[k] is not None and v != first[k]:
            moved[k] = (first[k], v)
    if len(moved) == len(first):
        break
for k in first:
    if k not in moved:
        failures.append(f"{k} did not move: {first[k]} then {now[k]}")
    else:
        print(f"  {k}: {moved[k][0]:g} -> {moved[k][1]:g}")
# Lag is never negative; backpressure really happened in the flood run.
if (now["consumer lag"] or 0) < 0:
    failures.append("negative consumer lag")
if not (now["backpressure"] or 0) > 0:
    failures.append("the flood run shows no backpressure")

# Every query of the dashboard and the alert rules returns data.
queries = subprocess.run(
    [sys.executable, f"{root}/tests/stack/queries.py", PIPELINES],
    check=True,
    capture_output=True,
    text=True,
).stdout.splitlines()
queries = [q for q in queries if q.strip()]
if len(queries) < 10:
    failures.append(f"only {len(queries)} dashboard and alert queries")
for q in queries:
    if not query(q):
        # rate() needs two scrapes in its window: give late series a moment.
        time.sleep(3)
        if not query(q):
            failures.append(f"no data: {q}")
print(f"  {len(queries)} dashboard and alert queries return data")

# The alert rules loaded and were evaluated.
with urllib.request.urlopen(prom + "/api/v1/rules", timeout=10) as r:
    groups = json.load(r)["data"]["groups"]
rules = [rule for g in groups for rule in g["rules"]]
if not rules:
    failures.append("Prometheus loaded no alert rules")
for rule in rules:
    if rule.get("health") != "ok":
        failures.append(f"rule {rule.get('name')}: {rule.get('health')} {rule.get('lastError')}")

if failures:
    print("metrics_check: " + "\n  ".join(failures))
    sys.exit(1)
print("metrics_check: ok")
