#!/usr/bin/env python3
"""Prints `make bench`'s one table: every figure the benchmark parts added to the file named on
the command line (JSON lines {"part", "measure", "value", "target", "verdict"}; see
bench/lambda, bench/requests/src/summary.rs and scripts/bench-load.sh), with its target and
whether it held. Figures, not gates: it exits 0 whatever the verdicts."""

import json
import sys

PARTS = ["cold start", "memory", "size", "per request", "throughput"]


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: bench-summary.py FILE", file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1], encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        print(f"{sys.argv[1]}: no figures were recorded", file=sys.stderr)
        return 1
    rows.sort(key=lambda r: PARTS.index(r["part"]) if r["part"] in PARTS else len(PARTS))
    headers = ["part", "measure", "value", "target", "verdict"]
    widths = [max(len(h), *(len(str(r.get(h, ""))) for r in rows)) for h in headers]
    print("\nmake bench: every figure against its target (figures, not gates)\n")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(r.get(h, "")).ljust(w) for h, w in zip(headers, widths)).rstrip())
    missed = sum(1 for r in rows if r.get("verdict") == "MISS")
    held = sum(1 for r in rows if r.get("verdict") == "PASS")
    print(f"\n{held} targets met, {missed} missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
