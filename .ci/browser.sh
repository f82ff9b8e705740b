#!/usr/bin/env bash
# The dashboard in a real browser: Debian's headless Chromium driven by playwright-core (npm), never
# a downloaded browser. Installs chromium (apt) and Node.js/npm when missing and the locked
# playwright-core (npm ci) when tests/browser/node_modules is missing, builds the `sms` binary and
# runs tests/browser/dashboard.mjs. Screenshots go to $ARTIFACTS (default
# target/browser-artifacts); keep that directory as the CI job's artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  # playwright-core downloads no browser.
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi
cargo build -q -p sms-cli
export ARTIFACTS="${ARTIFACTS:-$PWD/target/browser-artifacts}"
export SMS_BIN="${SMS_BIN:-$PWD/target/debug/sms}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
node tests/browser/dashboard.mjs
