#!/usr/bin/env python3
"""Randomized differential test of windows against a reference model.

Generates random out-of-order event streams with late records, runs them through
`streamrun` (key_by -> window, with allowed lateness and a .late side output) and
through a straightforward model of docs/time-and-windows.md written here (it shares no
code with the engine), at parallelism 1, 2 and 4 in turn, and compares every emitted row (as a multiset) and every
late record. Usage: window_reference.py STREAMRUN [ROUNDS] [SEED]
"""
import json
import os
import random
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

INF = float("inf")


def floor_div(a, b):
    return a // b


class Model:
    """docs/time-and-windows.md at parallelism 1, one record at a time."""

    def __init__(self, kind, size, slide, lateness, ooo):
        self.kind, self.size, self.slide, self.lateness, self.ooo = kind, size, slide, lateness, ooo
        self.w = -INF  # the watermark the next record is judged against
        self.windows = {}  # (key, start) -> dict(start, end, values, fired)
        self.rows, self.late = [], []

    def row(self, key, win):
        vals = win["values"]  # list of (t, arrival, v)
        vs = [v for _, _, v in vals]
        first = min(vals, key=lambda x: (x[0], x[1]))[2]
        last = max(vals, key=lambda x: (x[0], x[1]))[2]
        return {"k": key, "window_start": win["start"], "window_end": win["end"], "n": len(vs),
                "total": sum(vs), "lo": min(vs), "hi": max(vs), "distinct": len(set(vs)),
                "first": first, "last": last}

    def advance(self, w):
        if w <= self.w:
            return
        self.w = w
        for (key, start), win in sorted(self.windows.items(), key=lambda kv: kv[1]["end"]):
            if not win["fired"] and win["end"] <= w:
                win["fired"] = True
                self.rows.append(self.row(key, win))
        for ks in [ks for ks, win in self.windows.items() if win["end"] + self.lateness <= w]:
            del self.windows[ks]

    def is_late(self, end):
        return end + self.lateness <= self.w

    def add(self, rec, arrival):
        key, t, v = rec["k"], rec["ts"], rec["v"]
        if self.kind == "session":
            start, end = t, t + self.size
            overlapping = [ks for ks, win in self.windows.items()
                           if ks[0] == key and win["start"] < t + self.size and win["end"] > t]
            for ks in overlapping:
                start = min(start, self.windows[ks]["start"])
                end = max(end, self.windows[ks]["end"])
            if self.is_late(end):
                self.late.append(rec)
                return
            values = []
            for ks in overlapping:
                values += self.windows.pop(ks)["values"]
            win = {"start": start, "end": end, "values": values + [(t, arrival, v)], "fired": False}
            self.windows[(key, start)] = win
            if end <= self.w:
                win["fired"] = True
                self.rows.append(self.row(key, win))
            return
        step = self.size if self.kind == "tumbling" else self.slide
        added = False
        start = floor_div(t, step) * step
        while start > t - self.size:
            end = start + self.size
            if not self.is_late(end):
                win = self.windows.setdefault((key, start), {"start": start, "end": end, "values": [], "fired": False})
                win["values"].append((t, arrival, v))
                added = True
                if end <= self.w:
                    win["fired"] = True
                    self.rows.append(self.row(key, win))
            start -= step
        if not added:
            self.late.append(rec)

    def run(self, records):
        high = -INF
        for i, rec in enumerate(records):
            self.advance(high - self.ooo if high > -INF else -INF)
            self.add(rec, i)
            high = max(high, rec["ts"])
        self.advance(INF)
        return self.rows, self.late


def random_stream(rng):
    n = rng.randint(20, 400)
    keys = [f"k{i}" for i in range(rng.randint(1, 6))]
    t = rng.randint(0, 10_000)
    out = []
    for _ in range(n):
        t += rng.randint(0, 700)
        ts = t
        if rng.random() < 0.3:  # out of order, sometimes far enough to be late
            ts = max(0, t - rng.randint(0, 6000))
        out.append({"k": rng.choice(keys), "ts": ts, "v": rng.randint(-5, 50)})
    return out


def pipeline(kind, size, slide, lateness, ooo, input_path):
    shape = {"tumbling": f"tumbling: {size}ms", "sliding": f"sliding: {size}ms\n          slide: {slide}ms",
             "session": f"session: {size}ms"}[kind]
    return f"""name: differential
sources:
  events:
    type: file
    path: {input_path}
    event_time: {{ field: ts, watermark: {{ max_out_of_orderness: {ooo}ms }} }}
transforms:
  agg:
    input: events
    steps:
      - key_by: k
      - window:
          {shape}
          allowed_lateness: {lateness}ms
          aggregate: {{ n: count(), total: sum(v), lo: min(v), hi: max(v), distinct: count_distinct(v), first: first(v), last: last(v) }}
sinks:
  rows: {{ type: stdout, input: agg }}
  late: {{ type: file, input: agg.late, path: {input_path}.late }}
"""


def canon(rows):
    return Counter(json.dumps(r, sort_keys=True) for r in rows)


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20261126
    rng = random.Random(seed)
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        for r in range(rounds):
            kind = rng.choice(["tumbling", "sliding", "session"])
            size = rng.choice([1000, 2000, 5000])
            slide = rng.choice([s for s in (250, 500, 1000, size) if s <= size])
            lateness = rng.choice([0, 0, 500, 3000])
            ooo = rng.choice([0, 300, 1000])
            records = random_stream(rng)
            path = os.path.join(d, f"in{r}.jsonl")
            with open(path, "w") as f:
                for rec in records:
                    f.write(json.dumps(rec) + "\n")
            with open(os.path.join(d, "p.yaml"), "w") as f:
                f.write(pipeline(kind, size, slide, lateness, ooo, path))
            parallelism = (1, 2, 4)[r % 3]
            proc = subprocess.run([binary, "run", "-q", "-p", str(parallelism), os.path.join(d, "p.yaml")],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"round {r}: streamrun failed: {proc.stderr}")
                failures += 1
                continue
            got_rows = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
            with open(path + ".late") as f:
                got_late = [json.loads(l) for l in f if l.strip()]
            want_rows, want_late = Model(kind, size, slide, lateness, ooo).run(records)
            if canon(got_rows) != canon(want_rows) or canon(got_late) != canon(want_late):
                failures += 1
                print(f"round {r}: {kind} size={size} slide={slide} lateness={lateness} ooo={ooo} "
                      f"parallelism={parallelism}: MISMATCH")
                for label, got, want in (("rows", got_rows, want_rows), ("late", got_late, want_late)):
                    g, w = canon(got), canon(want)
                    for row in (w - g):
                        print(f"  {label} missing:    {row}")
                    for row in (g - w):
                        print(f"  {label} unexpected: {row}")
    print(f"{rounds - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
