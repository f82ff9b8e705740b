#!/usr/bin/env bash
# Fuzzes the gateway's API from its own OpenAPI document with schemathesis (PyPI), on loopback only:
# a gateway with the in-process sandbox as every provider (`examples/schemathesis_target.rs`), and
# the checks that no request gets a 5xx and every answer has a documented status, content type and
# shape. About a minute once the venv exists (target/schemathesis-venv, kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
VENV="$PWD/target/schemathesis-venv"
VERSION=4.32.5
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi
cargo build --quiet -p sms-gateway --example schemathesis_target
DIR=$(mktemp -d)
LOG="$DIR/gateway.log"
# The target runs until its stdin closes: a fifo held open by this script.
mkfifo "$DIR/stdin"
target/debug/examples/schemathesis_target "$DIR" <"$DIR/stdin" >"$LOG" 2>&1 &
TARGET=$!
exec 9>"$DIR/stdin"
cleanup() {
  exec 9>&-
  wait "$TARGET" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
URL=""
for _ in $(seq 100); do
  URL=$(sed -n 's/^listening on //p' "$LOG")
  [ -n "$URL" ] && break
  kill -0 "$TARGET" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "the gateway did not start" >&2; cat "$LOG" >&2; exit 1; }
case "$URL" in http://127.0.0.1:*) ;; *) echo "refusing a non-loopback target: $URL" >&2; exit 1 ;; esac
# The coverage phase is left out: on Python 3.11 it dies inside hypothesis (an AST recursion error),
# not on an answer of the gateway.
# Run from the temporary directory: schemathesis keeps its example database in the working directory.
cd "$DIR"
"$VENV/bin/st" --no-color run "$URL/v1/openapi.json" \
  -H "Authorization: Bearer schemathesis-admin-key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,fuzzing,stateful \
  --max-time 45 --workers 2
