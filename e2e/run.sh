#!/usr/bin/env bash
# Browser tests of the public site against the real binary.
#
# Expects target/debug/carburoam (built by scripts/test.sh). Loads a temp SQLite database from
# ../shared/data when it exists (else the repository's fixtures), serves it on a free port with
# the feed job off, and runs the Node tests (playwright-core driving Debian's /usr/bin/chromium).
# Installs Chromium and the npm packages when they are missing. Screenshots go to
# e2e/screenshots/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
E2E=$(pwd)
ROOT=$(cd .. && pwd)
BIN="$ROOT/target/debug/carburoam"
[ -x "$BIN" ] || { echo "missing $BIN: run cargo build first" >&2; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

DB="sqlite://$TMP/db"
REAL="$ROOT/../shared/data/instantane_ruptures_2026-06-05T1010.zip"
if [ -f "$REAL" ]; then
  echo "==> importing $(basename "$REAL")"
  "$BIN" import --database "$DB" "$REAL" >/dev/null
  export E2E_DATASET=real
else
  echo "==> importing the fixtures"
  "$BIN" import --database "$DB" "$ROOT/tests/fixtures/snapshot_a.xml" "$ROOT/tests/fixtures/snapshot_b.xml" >/dev/null
  export E2E_DATASET=fixtures
fi

# Tiles from an address where nothing listens: the map must work without them.
export CARBUROAM_TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png"
"$BIN" serve --database "$DB" --bind 127.0.0.1:0 --etl-every off >"$TMP/stdout" 2>"$TMP/stderr" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if grep -q '^listening on http://' "$TMP/stdout" 2>/dev/null; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$TMP/stderr" >&2; echo "server died" >&2; exit 1; fi
  sleep 0.1
done
BASE_URL=$(head -1 "$TMP/stdout" | sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p')
[ -n "$BASE_URL" ] || { echo "no 'listening on' line" >&2; cat "$TMP/stderr" >&2; exit 1; }
export BASE_URL
echo "==> server at $BASE_URL ($E2E_DATASET data)"

mkdir -p "$E2E/screenshots"
node --test --test-concurrency=1 --test-reporter=spec "$E2E/tests/"
