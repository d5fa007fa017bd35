#!/usr/bin/env bash
# Cold start, peak memory under load and size of every function's release binary (x86_64),
# against an empty lambda_http function built in the same run (bench/lambda). Builds the five
# functions, the empty function and the harness in one `cargo lambda build --release
# --output-format zip` (the deployed profile), then runs the harness, which prints one table.
# Arguments go to the harness: --runs N (starts per binary, 20), --invocations N (requests per
# function in the memory run, 3000). Needs no network and no AWS account.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
scripts/install-tools.sh run
export PATH="$ROOT/.tools/venv/bin:$PATH"

ZIPS=target/bench-lambda/zips
WORK=target/bench-lambda/work
RELEASE=target/x86_64-unknown-linux-gnu/release

bins=()
for dir in functions/*/; do bins+=(--bin "$(basename "$dir")"); done
bins+=(--bin empty-lambda --bin bench-lambda)
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "note: the aarch64-unknown-linux-gnu target is not installed; measuring x86_64 only" >&2
fi
cargo-lambda lambda build --release --x86-64 --output-format zip --lambda-dir "$ZIPS" "${bins[@]}" >&2

rm -rf "$WORK"
mkdir -p "$WORK"
"$RELEASE/bench-lambda" --bin-dir "$RELEASE" --zip-dir "$ZIPS" --events-dir events \
  --work-dir "$WORK" "$@"
