#!/usr/bin/env python3
"""Prints the PromQL queries of the local stack, one per line, for a pipeline.

    tests/stack/queries.py PIPELINE_NAME

- every target `expr` of the Grafana dashboards in deploy/grafana/dashboards/,
  with `$pipeline` replaced by PIPELINE_NAME and `$__rate_interval` /
  `$__interval` by `1m`;
- every alert `expr` of deploy/prometheus/alerts.yml without its trailing
  comparison (`QUERY > 300` gives `QUERY`).

Each query is on one line (line breaks inside an expression become spaces) and
printed once. The metrics test runs each against a Prometheus that scrapes a
live pipeline and expects data back; an alert whose expression is not of the
form `QUERY OP NUMBER` is an error (exit status 1).
"""
import glob
import json
import os
import re
import sys

try:
    import yaml
except ImportError:  # a Python without PyYAML: Debian's has it (python3-yaml)
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DASHBOARDS = os.path.join(ROOT, "deploy", "grafana", "dashboards", "*.json")
ALERTS = os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")

# `QUERY OP NUMBER` at the end of an alert expression.
TRAILING_COMPARISON = re.compile(r"^(?P<query>.*\S)\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


def one_line(expr):
    return " ".join(expr.split())


def panel_exprs(panels):
    """Target expressions of panels, rows' nested panels included."""
    for panel in panels:
        for target in panel.get("targets", []):
            if target.get("expr") and not target.get("hide"):
                yield target["expr"]
        yield from panel_exprs(panel.get("panels", []))


def dashboard_queries(pipeline):
    out = []
    for path in sorted(glob.glob(DASHBOARDS)):
        with open(path) as f:
            dashboard = json.load(f)
        for expr in panel_exprs(dashboard.get("panels", [])):
            q = one_line(expr)
            q = q.replace("${pipeline}", pipeline).replace("$pipeline", pipeline)
            for var in ("__rate_interval", "__interval"):
                q = q.replace("${%s}" % var, "1m").replace("$" + var, "1m")
            out.append(q)
    return out


def alert_queries():
    with open(ALERTS) as f:
        rules = yaml.safe_load(f)
    out = []
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            expr = one_line(str(rule["expr"]))
            m = TRAILING_COMPARISON.match(expr)
            if not m:
                sys.exit(f"queries.py: alert {rule['alert']}: expr is not `QUERY OP NUMBER`: {expr}")
            out.append(m.group("query"))
    return out


def main():
    if len(sys.argv) != 2 or not sys.argv[1]:
        sys.exit("usage: queries.py PIPELINE_NAME")
    seen = set()
    for q in dashboard_queries(sys.argv[1]) + alert_queries():
        if q not in seen:
            seen.add(q)
            print(q)


if __name__ == "__main__":
    main()
