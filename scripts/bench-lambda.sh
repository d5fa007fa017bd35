#!/usr/bin/env bash
# Cold start, peak memory under load and size of every function's release binary, against an
# empty lambda_http function built in the same run (bench/lambda). Prints one table.
#
# 1. Builds the five functions, the empty function and the harness in one `cargo lambda build
#    --release --x86-64 --output-format zip` (the deployed profile, fat LTO; the cold starts are
#    measured on these same binaries).
# 2. arm64, sizes only (this machine cannot run it): `cargo lambda build --release --arm64` of the
#    functions and the empty one, cross-compiled with zig. ARM64=auto (default) builds it when the
#    aarch64-unknown-linux-gnu Rust target is installed; ARM64=yes installs the target first
#    (`rustup target add`); ARM64=no skips it. A failed arm64 build is reported, not fatal.
# 3. Runs the harness (target/.../release/bench-lambda): every binary started against a local
#    Lambda Runtime API on 127.0.0.1, once as deployed (ENV=prod, the DynamoDB client, SES mail;
#    judged) and once as `make run` starts it (ENV=dev, the embedded store; memory run), with
#    AWS_EC2_METADATA_DISABLED=true, a region and dummy credentials; nothing leaves the machine.
#    Every process it starts is stopped by its PID.
#
# Arguments go to the harness: --runs N (cold starts per binary, default 20), --invocations N
# (requests per function in the memory run, default 3000).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$SECONDS
scripts/install-tools.sh run
export PATH="$ROOT/.tools/venv/bin:$PATH"
export AWS_EC2_METADATA_DISABLED=true

OUT=target/bench-lambda
WORK=$OUT/work
RELEASE=target/x86_64-unknown-linux-gnu/release
ARM64_RELEASE=target/aarch64-unknown-linux-gnu/release

functions=()
for dir in functions/*/; do functions+=(--bin "$(basename "$dir")"); done

echo "==> building x86_64 (release profile)" >&2
cargo-lambda lambda build --release --x86-64 --output-format zip --lambda-dir "$OUT/zips-x86_64" \
  "${functions[@]}" --bin empty-lambda --bin empty-lambda-current-thread --bin bench-lambda >&2
built_x86=$((SECONDS - started))

arm64_args=()
case "${ARM64:-auto}" in
  yes) rustup target add aarch64-unknown-linux-gnu >&2 || echo "note: cannot install the aarch64 target" >&2 ;;
  no | auto) ;;
  *) echo "ARM64 must be auto, yes or no" >&2; exit 2 ;;
esac
if [ "${ARM64:-auto}" != no ]; then
  if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    echo "==> building arm64 (release profile, cross-compiled with zig)" >&2
    if cargo-lambda lambda build --release --arm64 --output-format zip \
      --lambda-dir "$OUT/zips-arm64" "${functions[@]}" --bin empty-lambda >&2; then
      arm64_args=(--arm64-bin-dir "$ARM64_RELEASE" --arm64-zip-dir "$OUT/zips-arm64")
    else
      echo "note: the arm64 build failed (above); sizes are x86_64 only" >&2
    fi
  else
    echo "note: the aarch64-unknown-linux-gnu target is not installed (ARM64=yes installs it); x86_64 only" >&2
  fi
fi
built=$((SECONDS - started))

rm -rf "$WORK"
mkdir -p "$WORK"
"$RELEASE/bench-lambda" --bin-dir "$RELEASE" --zip-dir "$OUT/zips-x86_64" "${arm64_args[@]}" \
  --profile "release (fat LTO, codegen-units=1, stripped)" --events-dir events --work-dir "$WORK" "$@"
echo
echo "Took $((SECONDS - started)) s: tools and x86_64 build ${built_x86} s, arm64 build $((built - built_x86)) s, measuring $((SECONDS - built)) s."
