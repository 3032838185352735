#!/usr/bin/env python3
"""Randomized composition test: every pipeline `validate` accepts gives the same
rows at every parallelism and across a restore.

Draws pipelines of 2-5 steps from every step kind (filter, set, select, key_by,
tumbling/sliding/session windows with and without allowed lateness, top_n,
dedupe), over one source or the union of two, spread over one to three chained
transforms, some with a sink on a window's `.late` output. Each gets random
input whose disorder stays within the watermark's out-of-orderness, so no record
is late and the result may not depend on how the workers interleave. The rows at
parallelism 1 are the reference (`streamrun test --update`); the same cases must
then pass at parallelism 2 and 3 and with `--restore-midway` (a checkpoint
halfway, a crash, a restore) at 1, 2 and 3 and on the rocksdb backend,
and with the input files read in small chunks by every worker at once (at 2,
and at 3 with a restore), compared as multisets.

Not drawn: `emit: on_update` and `{every: D}` (their intermediate rows show
the order in which one key's records arrived, which a re-keying exchange
leaves to the threads) and processing time.

Usage: compose.py STREAMRUN [--count N] [--seed S] [--keep DIR]
A failure prints the seed and the failing cases; rerun with that seed and
--keep to look at them.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

USERS = [f"u{i}" for i in range(7)]
PAGES = [f"/p{i}" for i in range(9)]
COUNTRIES = ["DE", "FR", "US", "JP", None]
ACTIONS = ["view", "cart", "buy"]

# Fields of the input records and what they hold.
INPUT_FIELDS = {"user": "str", "page": "str", "country": "str", "action": "str",
                "amount": "num", "qty": "int", "ts": "int", "geo": "obj"}


def make_input(rnd, n, start, disorder_ms):
    """n records about 100-700 ms apart, each moved back by up to disorder_ms."""
    rows, t = [], start
    for _ in range(n):
        t += rnd.randint(100, 700)
        ts = t - rnd.randint(0, disorder_ms) if rnd.random() < 0.3 else t
        amount = rnd.choice([rnd.randint(1, 500), round(rnd.uniform(0.5, 99.99), 2)])
        row = {"ts": ts, "user": rnd.choice(USERS), "page": rnd.choice(PAGES),
               "action": rnd.choice(ACTIONS), "amount": amount, "qty": rnd.randint(0, 9)}
        country = rnd.choice(COUNTRIES)
        if country is not None:
            row["country"] = country
        if rnd.random() < 0.5:
            row["geo"] = {"city": rnd.choice(["Paris", "Berlin", "Tokyo"]), "zip": rnd.randint(1000, 1010)}
        rows.append(row)
    return rows


class Shape:
    """What the records look like at a point of the pipeline."""

    def __init__(self, fields, key=None, windowed=False):
        self.fields = dict(fields)  # name -> "str" | "num" | "int" | "obj"
        self.key = key              # key_by fields in effect, or None
        self.windowed = windowed    # rows come straight from a window (top_n may follow)

    def of(self, kind):
        return [f for f, k in self.fields.items() if k == kind or (kind == "num" and k == "int")]


def pick_filter(rnd, shape):
    strs, nums = shape.of("str"), shape.of("num")
    options = []
    if nums:
        f = rnd.choice(nums)
        options.append(f"{f} > {rnd.randint(1, 60)}")
        options.append(f"{f} % 2 == 0" if shape.fields[f] == "int" else f"{f} >= 10.5")
    if strs:
        f = rnd.choice(strs)
        options.append(f"{f} is not null")
        options.append(f"{f} != '{rnd.choice(USERS + PAGES + ACTIONS)}'")
        options.append(f"lower({f}) in ['u1', 'u2', '/p3', 'view', 'de', 'buy']")
    if "geo" in shape.fields:
        options.append("geo.city != 'Tokyo'")
    return rnd.choice(options or ["true"])


def pick_set(rnd, shape):
    strs, nums = shape.of("str"), shape.of("num")
    out, new = {}, {}
    for i in range(rnd.randint(1, 2)):
        name = rnd.choice(["x", "y", "tag", "score"]) + str(i)
        if nums and rnd.random() < 0.6:
            f = rnd.choice(nums)
            out[name] = rnd.choice([f"{f} * 2", f"{f} + 1", f"abs({f} - 50)", f"to_int({f})"])
            new[name] = "num"
        elif strs:
            f = rnd.choice(strs)
            out[name] = rnd.choice([f"upper({f})", f"concat({f}, '-x')", f"coalesce({f}, 'none')"])
            new[name] = "str"
    return out, new


def pick_aggregates(rnd, shape):
    nums, strs = shape.of("num"), shape.of("str")
    aggs, fields = {"n": "count()"}, {"n": "int"}
    choices = []
    if nums:
        f = rnd.choice(nums)
        choices += [("total", f"sum({f})", "num"), ("lo", f"min({f})", "num"), ("hi", f"max({f})", "num"),
                    ("mean", f"avg({f})", "num"), ("nn", f"count({f})", "int")]
    if strs:
        f = rnd.choice(strs)
        choices += [("kinds", f"count_distinct({f})", "int"), ("first_v", f"first({f})", "str"), ("all_v", f"collect({f})", "list"),
                    ("last_v", f"last({f})", "str")]
    for name, fn, kind in rnd.sample(choices, min(len(choices), rnd.randint(0, 3))):
        aggs[name] = fn
        fields[name] = kind
    return aggs, fields


def pick_window(rnd, shape):
    kind = rnd.choice(["tumbling", "sliding", "session"])
    w = {}
    if kind == "tumbling":
        w["tumbling"] = rnd.choice(["2s", "5s", "10s"])
    elif kind == "sliding":
        size = rnd.choice([4, 6, 10])
        w["sliding"] = f"{size}s"
        w["slide"] = f"{rnd.choice([d for d in (1, 2, 3, 5) if d <= size])}s"
    else:
        w["session"] = rnd.choice(["1500ms", "3s"])
    if rnd.random() < 0.4:
        w["allowed_lateness"] = rnd.choice(["1s", "5s"])
    aggs, fields = pick_aggregates(rnd, shape)
    w["aggregate"] = aggs
    if rnd.random() < 0.2:
        w["having"] = "n >= 2"
    out = {f: shape.fields.get(f, "str") for f in (shape.key or [])}
    out.update({"window_start": "int", "window_end": "int"})
    out.update(fields)
    return w, Shape(out, key=shape.key, windowed=True)


def pick_step(rnd, shape, allowed):
    """One step valid for `shape`: (yaml object, shape after it)."""
    kinds = list(allowed)
    if shape.windowed:
        kinds += ["top_n", "top_n"]
    kind = rnd.choice(kinds)
    if kind == "filter":
        return {"filter": pick_filter(rnd, shape)}, Shape(shape.fields, shape.key)
    if kind == "set":
        out, new = pick_set(rnd, shape)
        if not out:
            return {"filter": "true"}, Shape(shape.fields, shape.key)
        fields = dict(shape.fields)
        fields.update(new)
        return {"set": out}, Shape(fields, shape.key)
    if kind == "select":
        names = list(shape.fields)
        keep = rnd.sample(names, rnd.randint(1, len(names)))
        for k in shape.key or []:  # keep the key readable downstream
            if k not in keep:
                keep.append(k)
        return {"select": keep}, Shape({k: shape.fields[k] for k in keep}, shape.key)
    if kind == "key_by":
        cands = [f for f, k in shape.fields.items() if k in ("str", "int")]
        if not cands:
            return {"filter": "true"}, Shape(shape.fields, shape.key)
        key = rnd.sample(cands, rnd.choice([1, 1, 2]) if len(cands) > 1 else 1)
        return {"key_by": key[0] if len(key) == 1 else key}, Shape(shape.fields, key)
    if kind == "window":
        w, after = pick_window(rnd, shape)
        return {"window": w}, after
    if kind == "top_n":
        ranked = [f for f, k in shape.fields.items() if f not in ("window_start", "window_end")
                  and f not in (shape.key or []) and k in ("int", "num")]
        step = {"top_n": {"n": rnd.randint(1, 4), "by": rnd.choice(ranked or ["n"]),
                          "order": rnd.choice(["asc", "desc"])}}
        fields = dict(shape.fields)
        fields["rank"] = "int"
        return step, Shape(fields, shape.key)
    if kind == "dedupe":
        cands = [f for f, k in shape.fields.items() if k in ("str", "int")]
        key = rnd.choice(cands) if cands else "user"
        return {"dedupe": {"key": key, "within": rnd.choice(["1s", "2s", "5s"])}}, Shape(shape.fields, shape.key)
    raise AssertionError(kind)


STEP_KINDS = ["filter", "set", "select", "key_by", "key_by", "window", "window", "dedupe"]


def make_case(rnd, case_dir):
    union = rnd.random() < 0.3
    disorder = rnd.choice([0, 500, 2000])
    # Out-of-orderness covers the disorder (and a union's skew), so nothing is late.
    ooo = disorder + (60000 if union else 0) + 1000
    pipeline = {"name": "compose", "sources": {}, "transforms": {}, "sinks": {}}
    event_time = {"field": "ts", "watermark": {"max_out_of_orderness": f"{ooo}ms"}}
    sources = ["a", "b"] if union else ["a"]
    for s in sources:
        pipeline["sources"][s] = {"type": "file", "path": "unused.jsonl", "event_time": event_time}
        n = rnd.randint(40, 250)
        with open(os.path.join(case_dir, f"input.{s}.jsonl"), "w") as f:
            for row in make_input(rnd, n, 1767225600000 + (7000 if s == "b" else 0), disorder):
                f.write(json.dumps(row) + "\n")
    total = rnd.randint(2, 5)
    transforms = rnd.choice([1, 1, 2, 3])
    cuts = sorted(rnd.sample(range(1, total), min(transforms - 1, total - 1)))
    groups, prev = [], 0
    for c in cuts + [total]:
        groups.append(c - prev)
        prev = c
    shape = Shape(INPUT_FIELDS)
    upstream = sources
    late_sinks = []
    for ti, count in enumerate(groups):
        name = f"t{ti}"
        steps = []
        has_window = False
        for _ in range(count):
            step, shape = pick_step(rnd, shape, STEP_KINDS)
            steps.append(step)
            has_window = has_window or "window" in step
        node = {"steps": steps}
        if len(upstream) == 1:
            node["input"] = upstream[0]
        else:
            node["inputs"] = upstream
        pipeline["transforms"][name] = node
        if has_window and rnd.random() < 0.4:
            late_sinks.append(name)
        upstream = [name]
        # top_n ranks the rows of a window step of its own transform.
        shape = Shape(shape.fields, shape.key)
    pipeline["sinks"]["out"] = {"type": "stdout", "input": upstream[0]}
    for t in late_sinks:
        pipeline["sinks"][f"late_{t}"] = {"type": "stdout", "input": f"{t}.late"}
    with open(os.path.join(case_dir, "pipeline.yaml"), "w") as f:
        f.write(json.dumps(pipeline, indent=1) + "\n")  # JSON is YAML


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("streamrun")
    ap.add_argument("--count", type=int, default=int(os.environ.get("COMPOSE_COUNT", "0")) or 200,
                    help="pipelines to draw (COMPOSE_COUNT overrides the default; ctest passes none)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", default=None, help="write the cases here and keep them")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    rnd = random.Random(seed)
    root = args.keep or tempfile.mkdtemp(prefix="streamrun-compose-")
    if args.keep:
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
    refused = []
    for i in range(args.count):
        d = os.path.join(root, f"case-{i:03d}")
        os.makedirs(d)
        make_case(rnd, d)
        v = run([args.streamrun, "validate", os.path.join(d, "pipeline.yaml")])
        if v.returncode != 0:
            refused.append((d, v.stdout))
            shutil.rmtree(d)
    print(f"compose: seed {seed}: {args.count} pipelines, {len(refused)} refused by validate")
    for d, out in refused:
        # A refusal must be a configuration error with a message, never a crash.
        if "error" not in out:
            print(f"compose: {d}: validate refused without an error message:\n{out}")
            print(f"compose: FAILED (seed {seed})")
            return 1
    failed = False
    ref = run([args.streamrun, "test", root, "-p", "1", "--update"])
    if ref.returncode != 0:
        print(ref.stdout)
        failed = True
    for flags in (["-p", "2"], ["-p", "3"], ["-p", "2", "--restore-midway"], ["-p", "3", "--restore-midway"],
                  ["-p", "1", "--restore-midway"], ["-p", "3", "--state", "rocksdb", "--restore-midway"],
                  # One input file read in chunks by every worker at once, its
                  # records put back in order (docs/time-and-windows.md).
                  ["-p", "2", "--file-chunk-size", "300"],
                  ["-p", "3", "--file-chunk-size", "97", "--restore-midway"]):
        if failed:
            break
        r = run([args.streamrun, "test", root] + flags)
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        print(f"compose: {' '.join(flags)}: {last}")
        if r.returncode != 0:
            print(r.stdout[-20000:])
            failed = True
    if failed:
        print(f"compose: FAILED (seed {seed}); rerun: {sys.argv[0]} {args.streamrun} --count {args.count} "
              f"--seed {seed} --keep /tmp/compose")
        return 1
    if not args.keep:
        shutil.rmtree(root)
    print(f"compose: passed (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
