#!/usr/bin/env bash
# Builds every function's Lambda deployment zip with `cargo lambda build --release`: x86_64
# always, arm64 too where the aarch64-unknown-linux-gnu Rust target is installed. The release
# profile keeps `panic = "unwind"` (cargo-lambda adds only what the profile leaves unset), so the
# runtime still answers a panicking handler with an error instead of dying. Prints each size.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
scripts/install-tools.sh run
export PATH="$ROOT/.tools/venv/bin:$PATH"

functions=()
for dir in functions/*/; do functions+=("$(basename "$dir")"); done
archs=(x86_64)
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  archs+=(arm64)
else
  echo "note: the aarch64-unknown-linux-gnu target is not installed; building x86_64 only" >&2
fi

bins=()
for f in "${functions[@]}"; do bins+=(--bin "$f"); done
for arch in "${archs[@]}"; do
  flag=--x86-64
  [ "$arch" = arm64 ] && flag=--arm64
  cargo-lambda lambda build --release "$flag" --output-format zip \
    --lambda-dir "target/lambda/$arch" "${bins[@]}"
done

printf '\n%-10s %-8s %12s %12s\n' function arch binary zip
for arch in "${archs[@]}"; do
  target=x86_64-unknown-linux-gnu
  [ "$arch" = arm64 ] && target=aarch64-unknown-linux-gnu
  for f in "${functions[@]}"; do
    zip="target/lambda/$arch/$f/bootstrap.zip"
    binary="target/$target/release/$f"
    awk -v f="$f" -v a="$arch" -v b="$(stat -c %s "$binary")" -v z="$(stat -c %s "$zip")" \
      'BEGIN { printf "%-10s %-8s %9.2f MB %9.2f MB\n", f, a, b / 1048576, z / 1048576 }'
  done
done
