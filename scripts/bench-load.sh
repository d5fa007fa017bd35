#!/usr/bin/env bash
# Throughput of the whole API over HTTP on loopback: the local API (tests/src/bin/local-api.rs, every
# function's router in one process, optimised build) on a free port of 127.0.0.1, loaded with oha
# for a bounded time per endpoint: GET /v1/auth/me, a tracker write (POST a symptom; each request
# adds one) and the day view. Prints one table: requests/s and latency percentiles.
#
#   scripts/bench-load.sh                  # embedded store
#   STORE=dynamodb scripts/bench-load.sh   # DynamoDB Local, started here (in memory)
#
# Settings: DURATION (per endpoint, default 10s), CONNECTIONS (default 32), PROFILE (cargo profile
# of the local API, default bench-fast; `release` for fat LTO). oha is installed into .tools/oha
# when missing. The load generator shares the machine's cores with the API: the figures are a
# floor, not a capacity.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
PROFILE="${PROFILE:-bench-fast}"
STORE="${STORE:-embedded}"
OHA_VERSION=1.16.0
OHA="$ROOT/.tools/oha/bin/oha"

log() { echo "==> $*" >&2; }

if [ ! -x "$OHA" ]; then
  log "installing oha $OHA_VERSION into .tools/oha (cargo install, a few minutes once)"
  # Default features: oha 1.16.0 does not build without its TLS stack (--no-default-features).
  cargo install --quiet --locked --root "$ROOT/.tools/oha" --version "$OHA_VERSION" oha
fi
command -v jq >/dev/null || { echo "jq is needed (apt-get install jq)" >&2; exit 1; }

log "building the local API ($PROFILE profile)"
cargo build --quiet --profile "$PROFILE" -p api-tests --bin local-api
api_binary="$ROOT/target/$PROFILE/local-api"

work=$(mktemp -d)
children=()
cleanup() {
  for pid in "${children[@]}"; do kill_tree "$pid"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The API's own state (dev secrets, embedded store) in a folder of this run; nothing in .local.
export ENV=dev LOCAL_DATA_DIR="$work/local" AWS_EC2_METADATA_DISABLED=true STORE
# One account is signed up and used throughout; nothing else is limited on these endpoints.
if [ "$STORE" = dynamodb ]; then
  dynamodb_port=$(free_port)
  children+=("$(start_dynamodb_local "$dynamodb_port" "" "$work/dynamodb-local.log")")
  wait_for_port "$dynamodb_port" 60 || { echo "DynamoDB Local did not start" >&2; exit 1; }
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$dynamodb_port" TABLE_NAME=bench-load AWS_REGION=us-east-1
  cargo build --quiet --profile "$PROFILE" -p shared --bin create-table
  "$ROOT/target/$PROFILE/create-table" >&2
fi

port=$(free_port)
base="http://127.0.0.1:$port"
# Access log lines are written as in production (stdout) and thrown away: a file would fill the
# disk at these rates.
PORT=$port "$api_binary" >/dev/null 2>"$work/api.err" &
children+=("$!")
wait_for_port "$port" 30 || { echo "the local API did not start:" >&2; cat "$work/api.err" >&2; exit 1; }

# One user, a medication, a dose and a symptom on the day the load reads (yesterday: nothing in
# the future). The write load adds its symptoms to the day before, so that the day read stays the
# same size. Tokens stay in shell variables and headers, never on screen.
json_post() { # path body [token]
  curl -sS --fail-with-body -X POST "$base$1" -H 'content-type: application/json' \
    ${3:+-H "authorization: Bearer $3"} -d "$2"
}
email="load-$(date +%s)@example.com"
access=$(json_post /v1/auth/signup \
  "{\"name\":\"Load Test\",\"email\":\"$email\",\"password\":\"correct horse battery staple\"}" |
  jq -r .access_token)
[ -n "$access" ] && [ "$access" != null ] || { echo "signup failed" >&2; exit 1; }
day=$(date -u -d yesterday +%F)
write_day=$(date -u -d '2 days ago' +%F)
medication=$(json_post /v1/tracker/medications \
  "{\"name\":\"Metformin\",\"dose\":1,\"unit\":\"tablet\",\"schedule\":{\"times\":[\"08:00\",\"20:00\"]},\"start_date\":\"$day\"}" \
  "$access" | jq -r .id)
json_post /v1/tracker/doses \
  "{\"medication_id\":\"$medication\",\"taken_at\":\"${day}T00:05:00Z\",\"dose\":1,\"status\":\"taken\"}" \
  "$access" >/dev/null
symptom="{\"name\":\"Headache\",\"severity\":4,\"occurred_at\":\"${day}T00:10:00Z\"}"
json_post /v1/tracker/symptoms "$symptom" "$access" >/dev/null
write="{\"name\":\"Headache\",\"severity\":4,\"occurred_at\":\"${write_day}T12:00:00Z\"}"

# Runs one load; prints a table row. oha's JSON: requests/s, latency percentiles in seconds,
# answers by status.
load() { # label method path [body]
  local label=$1 method=$2 path=$3 body=${4:-} out
  log "loading $label for $DURATION with $CONNECTIONS connections"
  out="$work/$(echo "$label" | tr -c 'a-z0-9' '-').json"
  "$OHA" --no-tui --output-format json -z "$DURATION" -c "$CONNECTIONS" -m "$method" \
    -H "authorization: Bearer $access" \
    ${body:+-H "content-type: application/json" -d "$body"} \
    "$base$path" >"$out"
  jq -r --arg name "$label" '
    def ms: . * 1000 | . * 100 | round / 100;
    [ $name,
      (.summary.requestsPerSec | round),
      (.latencyPercentiles.p50 | ms), (.latencyPercentiles.p90 | ms), (.latencyPercentiles.p99 | ms),
      ([.statusCodeDistribution | to_entries[] | select(.key | startswith("2") | not) | .value] | add // 0)
    ] | @tsv' "$out"
}

rows=$(
  load "GET /v1/auth/me" GET /v1/auth/me
  load "POST /v1/tracker/symptoms" POST /v1/tracker/symptoms "$write"
  load "GET /v1/tracker/days/{date}" GET "/v1/tracker/days/$day"
)

# The figures for `make bench`'s summary table (scripts/bench-summary.py).
if [ -n "${BENCH_SUMMARY:-}" ]; then
  while IFS=$'\t' read -r endpoint rps p50 _p90 p99 failed; do
    jq -cn --arg measure "throughput, $endpoint, $STORE store, $CONNECTIONS connections" \
      --arg value "$rps req/s, p50 $p50 ms, p99 $p99 ms, $failed non-2xx" \
      '{part: "throughput", measure: $measure, value: $value, target: "", verdict: ""}' \
      >>"$BENCH_SUMMARY"
  done <<<"$rows"
fi

echo
echo "4. Throughput over HTTP on loopback: $STORE store, $CONNECTIONS connections, $DURATION each," \
  "$(nproc) cores shared with oha ($PROFILE build)"
echo
{
  printf 'endpoint\trequests/s\tp50 ms\tp90 ms\tp99 ms\tnon-2xx\n'
  printf -- '--------\t----------\t------\t------\t------\t-------\n'
  printf '%s\n' "$rows"
} | column -t -s $'\t' -R 2,3,4,5,6
