#!/usr/bin/env bash
# `make run`: the whole API on http://127.0.0.1:$PORT (default 9000) under `cargo lambda watch`,
# every function at the path API Gateway gives it. Embedded store by default (no server at all);
# STORE=dynamodb uses DYNAMODB_ENDPOINT, or starts DynamoDB Local on 127.0.0.1:8000 when unset.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

scripts/install-tools.sh run
export PATH="$ROOT/.tools/venv/bin:$PATH"
export ENV="${ENV:-dev}" AWS_EC2_METADATA_DISABLED=true
PORT="${PORT:-9000}"
children=()
cleanup() { for pid in "${children[@]}"; do kill_tree "$pid"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${STORE:-embedded}" = dynamodb ]; then
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  if [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
    scripts/install-tools.sh dynamodb
    mkdir -p .local
    children+=("$(start_dynamodb_local 8000 "$ROOT/.local/dynamodb" "$ROOT/.local/dynamodb-local.log")")
    wait_for_port 8000 60 || { echo "DynamoDB Local did not start; see .local/dynamodb-local.log" >&2; exit 1; }
    export DYNAMODB_ENDPOINT=http://127.0.0.1:8000
    echo "==> DynamoDB Local on $DYNAMODB_ENDPOINT (data in .local/dynamodb)"
  fi
  cargo run --quiet -p shared --bin create-table
fi

# OIDC=local: a real OpenID Provider on 127.0.0.1:9400 as the provider `local` (README, "Sign in
# with Google, Microsoft or any OpenID Provider").
if [ "${OIDC:-}" = local ]; then
  scripts/install-tools.sh oidc
  OIDC_PORT="${OIDC_PORT:-9400}"
  callback="http://127.0.0.1:$PORT/v1/auth/oauth/local/callback"
  mkdir -p .local
  children+=("$(start_oidc_provider "$OIDC_PORT" "$callback" "$ROOT/.local/oidc-provider.log")")
  wait_for_port "$OIDC_PORT" 30 || { echo "the OpenID Provider did not start; see .local/oidc-provider.log" >&2; exit 1; }
  export_local_oidc "$OIDC_PORT" "$callback"
  export OAUTH_ALLOWED_REDIRECT_URIS="${OAUTH_ALLOWED_REDIRECT_URIS:-http://127.0.0.1:$PORT/docs}"
  echo "==> OpenID Provider 'local' on http://127.0.0.1:$OIDC_PORT; start a sign-in at"
  echo "    http://127.0.0.1:$PORT/v1/auth/oauth/local/authorize?redirect_uri=http://127.0.0.1:$PORT/docs"
fi

echo "==> the API answers on http://127.0.0.1:$PORT (try: curl -i http://127.0.0.1:$PORT/v1/health)"
echo "==> functions compile on their first request; Ctrl-C stops everything"
cargo-lambda lambda watch -A 127.0.0.1 -P "$PORT" &
children+=("$!")
wait "${children[-1]}"
