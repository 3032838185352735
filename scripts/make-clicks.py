#!/usr/bin/env python3
"""Writes a JSON-lines file of synthetic clicks of about SIZE bytes (deterministic).

Usage: scripts/make-clicks.py OUT.jsonl SIZE_MB
Used for throughput and memory figures until `streamrun generate` exists.
"""
import random
import sys

out, size_mb = sys.argv[1], int(sys.argv[2])
target = size_mb * 1024 * 1024
rng = random.Random(42)
pages = ["/", "/home", "/products", "/products/42", "/cart", "/checkout", "/about", "/blog/streaming", "/search?q=kafka", "/help"]
refs = ['"google"', '"direct"', '"newsletter"', '"twitter"', "null"]
ts = 1767225600000
written = 0
with open(out, "w", buffering=1 << 20) as f:
    while written < target:
        lines = []
        for _ in range(10000):
            ts += rng.randint(0, 20)
            page = pages[min(int(rng.paretovariate(1.2)) - 1, len(pages) - 1)]
            lines.append(
                '{"user_id":"u%d","page_url":"%s","referrer":%s,"ts":%d,"duration_ms":%d,"country":"%s","session":"s%08x"}\n'
                % (rng.randint(1, 100000), page, refs[rng.randint(0, 4)], ts, rng.randint(10, 60000),
                   ("DE", "US", "FR", "BR", "IN")[rng.randint(0, 4)], rng.getrandbits(32)))
        chunk = "".join(lines)
        f.write(chunk)
        written += len(chunk)
