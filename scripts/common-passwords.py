#!/usr/bin/env python3
"""Writes shared/data/common-passwords.txt: the 10,000 most common passwords of the ranked list the
zxcvbn crate ships (src/frequency_lists.rs, PASSWORDS; MIT licence), as zxcvbn ranks them (a
word's rank is its last position in the list), lowercased, sorted, one per line.

The list's provenance, and how to make it again: download zxcvbn 3.1.1's source from crates.io
(https://crates.io/api/v1/crates/zxcvbn/3.1.1/download, a .tar.gz) and run
    scripts/common-passwords.py zxcvbn-3.1.1/src/frequency_lists.rs
"""
import re
import sys
from pathlib import Path

RANK = 10_000

source = Path(sys.argv[1]).read_text(encoding="utf-8")
words = re.search(r'const PASSWORDS: &str = "([^"]*)";', source).group(1).split(",")
rank = {word: i + 1 for i, word in enumerate(words)}
common = sorted(word for word, r in rank.items() if r <= RANK)
out = Path(__file__).resolve().parent.parent / "shared" / "data" / "common-passwords.txt"
out.parent.mkdir(exist_ok=True)
out.write_text("".join(f"{word}\n" for word in common), encoding="utf-8")
print(f"{len(common)} passwords written to {out}")
