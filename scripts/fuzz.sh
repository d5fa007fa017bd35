#!/usr/bin/env bash
# Contract fuzzing: Schemathesis (tests/fuzz/requirements.txt, in .tools/fuzz) generates requests
# for every operation of the running API's /v1/openapi.json — valid and invalid ones, signed in
# where the operation needs it (tests/fuzz/hooks.py) — and checks each answer: no 5xx, and status,
# content type and body as the document says. The API is the local API (tests/src/bin/local-api.rs)
# on a free port of 127.0.0.1, with its state in a temporary folder. Any failure fails the script
# and prints Schemathesis' reproduction (a curl command) for it.
#
#   scripts/fuzz.sh                                        # what `make test` runs: bounded, seed 1
#   STORE=dynamodb scripts/fuzz.sh                         # against DynamoDB Local (started here)
#   FUZZ_MAX_EXAMPLES=1000 FUZZ_SEED=random scripts/fuzz.sh   # a longer campaign (~30 min on 2 cores)
#
# Settings: FUZZ_MAX_EXAMPLES (cases per operation in the fuzzing phase, default 50), FUZZ_SEED (a
# number, default 1, or `random`: the seed used is printed, rerun with it to reproduce), STORE
# (embedded or dynamodb), FUZZ_ARGS (more `schemathesis run` options, e.g. `--max-time 3600` or
# `--include-path-regex /tracker/`). A campaign is worth running after changing routes or
# validation; each failure it finds should become a regression test in tests/tests/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

FUZZ_MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-50}"
FUZZ_SEED="${FUZZ_SEED:-1}"
STORE="${STORE:-embedded}"
SCHEMATHESIS="$ROOT/.tools/fuzz/bin/schemathesis"
# Every check whose contract the API documents; none is left out.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

log() { echo "==> $*" >&2; }

[[ "$FUZZ_MAX_EXAMPLES" =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_MAX_EXAMPLES must be a positive number" >&2; exit 2; }
[[ "$FUZZ_SEED" =~ ^([0-9]+|random)$ ]] || { echo "FUZZ_SEED must be a number or random" >&2; exit 2; }
"$SCHEMATHESIS" --version >/dev/null 2>&1 || scripts/install-tools.sh fuzz
started=$SECONDS

log "building the local API"
cargo build --quiet -p api-tests --bin local-api
api_binary="$ROOT/target/debug/local-api"

work=$(mktemp -d)
children=()
cleanup() {
  for pid in "${children[@]}"; do kill_tree "$pid"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The API's own state (dev secrets, embedded store, outbox) in a folder of this run; nothing in
# .local. The seeded admin signs the fuzzer in for the admin operations. Rate limits and lockouts
# are raised out of reach: the fuzzer's own sign-ins must keep working whatever it sends (both
# have tests of their own). The reset request's minimum response time and the password hash cost
# only slow the run down.
export ENV=dev LOCAL_DATA_DIR="$work/local" AWS_EC2_METADATA_DISABLED=true STORE SEED_DEMO_ACCOUNTS=true
export RL_LOGIN_IP_LIMIT=1000000 RL_LOGIN_EMAIL_LIMIT=1000000 RL_SIGNUP_IP_LIMIT=1000000 \
  RL_RESET_IP_LIMIT=1000000 RL_RESET_EMAIL_LIMIT=1000000 RL_REFRESH_USER_LIMIT=1000000 \
  LOGIN_FAIL_EMAIL_THRESHOLD=1000 LOGIN_FAIL_IP_THRESHOLD=100000 RESET_MIN_RESPONSE_MS=0 \
  PASSWORD_HASH_MEMORY_KIB=1024 PASSWORD_HASH_ITERATIONS=1
if [ "$STORE" = dynamodb ]; then
  dynamodb_port=$(free_port)
  children+=("$(start_dynamodb_local "$dynamodb_port" "" "$work/dynamodb-local.log")")
  wait_for_port "$dynamodb_port" 60 || { echo "DynamoDB Local did not start:" >&2; cat "$work/dynamodb-local.log" >&2; exit 1; }
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$dynamodb_port" TABLE_NAME=fuzz AWS_REGION=us-east-1
  cargo build --quiet -p shared --bin create-table
  "$ROOT/target/debug/create-table" >&2
fi

port=$(free_port)
base="http://127.0.0.1:$port"
# The API's log (JSON lines on stdout; no secret reaches it) is kept for the failures' context.
PORT=$port "$api_binary" >"$work/api.log" 2>"$work/api.err" &
children+=("$!")
wait_for_port "$port" 60 || { echo "the local API did not start:" >&2; cat "$work/api.err" >&2; exit 1; }

seed_args=()
[ "$FUZZ_SEED" = random ] || seed_args=(--seed "$FUZZ_SEED")
log "fuzzing $base/v1/openapi.json: $FUZZ_MAX_EXAMPLES cases per operation, seed $FUZZ_SEED, $STORE store"
# The hooks sign in through the API itself. Reports stay in the temporary folder: they hold the
# requests as sent, tokens included. What is printed is sanitised (Authorization, passwords).
status=0
# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
FUZZ_BASE_URL="$base" "$SCHEMATHESIS" --config-file tests/fuzz/schemathesis.toml --no-color run \
  "$base/v1/openapi.json" \
  --checks "$CHECKS" \
  --max-examples "$FUZZ_MAX_EXAMPLES" "${seed_args[@]}" \
  --generation-database none \
  --request-timeout 30 \
  --report json,junit --report-dir "$work/report" \
  ${FUZZ_ARGS:-} | tee "$work/schemathesis.out" || status=$?

# The figures, from Schemathesis' JSON report (its printed summary if the report is missing).
read -r operations cases failures seed < <(python3 - "$work" <<'EOF' || echo "? ? ? ?"
import glob, json, re, sys
work = sys.argv[1]
reports = glob.glob(f"{work}/report/json-*.json") + glob.glob(f"{work}/report/*.json")
if reports:
    report = json.load(open(reports[0]))
    cases = report["test_cases"]
    failures = cases["unique_failures"] + cases["errored"] + len(report.get("errors") or [])
    print(report["operations"]["tested"], cases["generated"], failures, report.get("seed", "?"))
else:
    out = open(f"{work}/schemathesis.out").read()
    operations = re.search(r"Tested: (\d+)", out)
    cases = re.search(r"(\d+) generated", out)
    failed = re.search(r"(\d+) failed", out)
    seed = re.search(r"Seed: (\d+)", out)
    print(operations[1] if operations else "?", cases[1] if cases else "?",
          failed[1] if failed else ("0" if cases else "?"), seed[1] if seed else "?")
EOF
)

if [ "$status" -ne 0 ]; then
  # What the API logged at ERROR level: the cause of a 5xx.
  if grep -q '"level":"ERROR"' "$work/api.log"; then
    echo "--- the API's errors:" >&2
    grep '"level":"ERROR"' "$work/api.log" | tail -n 20 >&2
  fi
fi
if [ "$status" -eq 0 ] && [[ "$cases" =~ ^[0-9]+$ ]] && [ -n "${VERIFICATION_FIGURES:-}" ]; then
  printf '{"kind":"fuzz cases run","count":%s}\n' "$cases" >>"$VERIFICATION_FIGURES"
fi
echo "fuzz: $operations operations, $cases cases, $failures failures ($STORE store, seed $seed," \
  "$FUZZ_MAX_EXAMPLES per operation, $((SECONDS - started))s)"
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (schemathesis exit $status); reproduce each failure with the curl command above," \
    "or rerun with FUZZ_SEED=$seed" >&2
  exit 1
fi
