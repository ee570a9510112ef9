#!/usr/bin/env bash
# Starts the platform the way the README says (npm start) and checks it from outside over HTTP:
# the REST API works with ADMIN_API_KEY, the UI serves, and embedded data survives a restart.
# With DATABASE_URL and KAFKA_BROKERS set it also runs once on those servers.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${SMOKE_PORT:-3123}"
KEY="smoke-admin-key-0123456789abcdef"
DATA=$(mktemp -d -t am-smoke.XXXXXX)
LOG="$DATA/server.log"
pid=""

stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { echo "server did not stop on SIGTERM" >&2; kill -KILL "$pid"; exit 1; }
  fi
  pid=""
}
trap 'stop; rm -rf "$DATA"' EXIT

start() { # start <label> [VAR=value…]
  local label=$1; shift
  env "$@" PORT="$PORT" DATA_DIR="$DATA/data" ADMIN_API_KEY="$KEY" LOG_LEVEL=warn npm start >"$LOG" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/login" 2>/dev/null; then echo "[$label] serving on :$PORT"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$LOG" >&2; echo "[$label] server exited" >&2; exit 1; }
    sleep 0.5
  done
  cat "$LOG" >&2; echo "[$label] server did not answer" >&2; exit 1
}

api() { # api METHOD PATH [BODY] → prints "STATUS BODY"
  local out
  out=$(curl -sS -o - -w '\n%{http_code}' -X "$1" "http://127.0.0.1:$PORT$2" \
    -H "authorization: Bearer $KEY" -H 'content-type: application/json' ${3:+--data "$3"})
  printf '%s %s' "$(tail -n1 <<<"$out")" "$(sed '$d' <<<"$out")"
}

expect_status() { # expect_status WANT "STATUS BODY" what
  [ "${2%% *}" = "$1" ] || { echo "FAIL $3: wanted $1, got ${2}" >&2; cat "$LOG" >&2; exit 1; }
  echo "ok   $3 → $1"
}

run_case() { # run_case <label> [VAR=value…]
  local label=$1
  start "$@"
  local name="smoke $(date +%s%N)"
  r=$(api POST /api/v1/segments "{\"name\":\"$name\",\"rules\":[{\"eventType\":\"addToCart\",\"attribute\":\"count\",\"operator\":\"GTE\",\"value\":3,\"windowMinutes\":60}]}")
  expect_status 201 "$r" "[$label] create a segment"
  id=$(sed -E 's/.*"id":"([^"]+)".*/\1/' <<<"${r#* }")
  expect_status 200 "$(api GET "/api/v1/segments/$id")" "[$label] read it back"
  expect_status 400 "$(api POST /api/v1/segments '{"name":"x","rules":[]}')" "[$label] invalid input"
  expect_status 401 "$(curl -sS -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$PORT/api/v1/segments")" "[$label] no key"
  page=$(curl -fsS "http://127.0.0.1:$PORT/login")
  grep -q "Sign in" <<<"$page" || { echo "FAIL [$label] the sign-in page does not render" >&2; exit 1; }
  where=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$PORT/segments")
  [[ "$where" =~ ^30[27]\ .*/login ]] || { echo "FAIL [$label] a signed-out visit to /segments gave '$where', not a redirect to /login" >&2; exit 1; }
  echo "ok   [$label] the UI serves its sign-in page and guards the rest"
  stop
  start "$@"
  expect_status 200 "$(api GET "/api/v1/segments/$id")" "[$label] still there after a restart"
  stop
}

run_case embedded DATABASE_URL= KAFKA_BROKERS=
if [ -n "${DATABASE_URL:-}" ] && [ -n "${KAFKA_BROKERS:-}" ]; then
  run_case servers DATABASE_URL="$DATABASE_URL" KAFKA_BROKERS="$KAFKA_BROKERS"
fi
echo "smoke passed"
