#!/usr/bin/env python3
"""Prints the figures of the verification suites at the end of `make test`.

Each suite appends JSON lines {"kind": ..., "count": N} to the file named on the command line
(tests/src/figures.rs, scripts/fuzz.sh) only after its checks held, so every figure counts things
that passed; a failure stops `make test` before this runs. Exits non-zero when a figure the issue
promises is missing or zero: a suite that silently stopped running must not look green.
"""

import json
import sys
from collections import OrderedDict

# The figures `make test` promises, in the order they are printed.
EXPECTED = [
    "forged or misused tokens sent, each refused with 401",
    "promised security checks held",
    "malformed requests sent, each a 4xx that changed nothing",
    "fuzz cases run",
    "store faults injected",
    "races run with real concurrency",
    "parallel requests in those races",
    "load-test requests (only success or the expected 429)",
    "acknowledged tracker writes read back",
    "store round-trip budgets held",
]


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: verification-figures.py FILE", file=sys.stderr)
        return 2
    totals: "OrderedDict[str, int]" = OrderedDict((kind, 0) for kind in EXPECTED)
    try:
        with open(sys.argv[1], encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    figure = json.loads(line)
                    totals[figure["kind"]] = totals.get(figure["kind"], 0) + int(figure["count"])
                except (ValueError, KeyError, TypeError) as err:
                    print(f"{sys.argv[1]}:{number}: not a figure ({err})", file=sys.stderr)
                    return 1
    except FileNotFoundError:
        print(f"{sys.argv[1]}: no figures were recorded", file=sys.stderr)
        return 1

    width = max(len(kind) for kind in totals)
    print()
    print("Verification figures (every count is of checks that held; failures: 0)")
    for kind, count in totals.items():
        print(f"  {kind:<{width}}  {count:>8}")
    missing = [kind for kind in EXPECTED if totals[kind] == 0]
    if missing:
        print(f"\nno figures recorded for: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
