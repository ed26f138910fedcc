#!/usr/bin/env bash
# Schemathesis 4.3.2 against the real debug binary: every request the OpenAPI document
# (/api/openapi.json) allows must get an answer the document describes (`st run --checks all`).
#
# Installs schemathesis into a venv under target/ when it is missing; when pip cannot install
# it (no network, no venv module), says so and exits 0, as scripts/valhalla.sh's tests skip.
# Serves a fresh SQLite database loaded from the repository's fixtures (as e2e/run.sh does) on
# a free loopback port, with every outbound address off or on a closed loopback port: the feed
# job and the names refresh off, no history backfill, the feed, the archives and Overpass at a closed
# port (127.0.0.1:9),
# no routing engine (off), HTTP(S)_PROXY/ALL_PROXY at 127.0.0.1:9 too (nothing leaves the machine).
# The run is bounded (ST_MAX_EXAMPLES per operation, 25 by default) to stay under 3 minutes on
# 2 loaded cores. Schemathesis's settings are in schemathesis.toml at the root, its hooks in
# scripts/schemathesis_hooks.py.
# Exits non-zero on any failure. Runs $CARBUROAM_BIN when set, else target/debug/carburoam.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${CARBUROAM_BIN:-$ROOT/target/debug/carburoam}
[ -x "$BIN" ] || { echo "missing $BIN: run cargo build first" >&2; exit 1; }

VENV=${SCHEMATHESIS_VENV:-$ROOT/target/schemathesis-venv}
ST="$VENV/bin/st"
# Hypothesis pinned too: its releases from 6.15x on drop the `many.more` that
# hypothesis-jsonschema 0.23 (schemathesis 4.3.2's) calls, and every operation errors.
PINS=(schemathesis==4.3.2 hypothesis==6.142.0)
if ! "$ST" --version 2>/dev/null | grep -q '4\.3\.2' ||
   ! "$VENV/bin/python" -c 'import hypothesis, sys; sys.exit(hypothesis.__version__ != "6.142.0")' 2>/dev/null; then
  echo "==> installing ${PINS[*]} into ${VENV#"$ROOT"/}"
  if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "${PINS[@]}"; } >&2; then
    echo "schemathesis 4.3.2 could not be installed: the OpenAPI run is skipped" >&2
    exit 0
  fi
fi

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# Nothing from the developer's environment: settings, a database, proxies.
for k in $(env | sed -n 's/^\(CARBUROAM_[A-Z0-9_]*\)=.*/\1/p'); do unset "$k"; done
unset DATABASE_URL REQUEST_METHOD http_proxy https_proxy all_proxy no_proxy
NOWHERE=http://127.0.0.1:9
export HTTP_PROXY=$NOWHERE HTTPS_PROXY=$NOWHERE ALL_PROXY=$NOWHERE NO_PROXY=127.0.0.1,localhost,::1
export CARBUROAM_DATA_DIR="$TMP/data" CARBUROAM_BACKFILL_DAYS=0 CARBUROAM_NAMES_EVERY=off \
  CARBUROAM_FEED_URL="$NOWHERE/feed" CARBUROAM_ARCHIVE_URL="$NOWHERE/opendata" \
  CARBUROAM_NAMES_URL="$NOWHERE/api/interpreter" CARBUROAM_ROUTER=off

DB="sqlite://$TMP/db"
"$BIN" import --database "$DB" tests/fixtures/snapshot_a.xml tests/fixtures/snapshot_b.xml >/dev/null
"$BIN" names import --database "$DB" tests/fixtures/names_a.csv >/dev/null

"$BIN" serve --database "$DB" --bind 127.0.0.1:0 --etl-every off >"$TMP/stdout" 2>"$TMP/stderr" &
SERVER_PID=$!
. "$ROOT/scripts/lib/listening.sh"
BASE_URL=$(base_url "$SERVER_PID" "$TMP")
echo "==> schemathesis against $BASE_URL (fixtures, ${BIN#"$ROOT"/})"

status=0
# The hooks keep the cross-parameter rules the document states in words out of the "valid"
# requests (see the file); they ask the server for its brands.
CARBUROAM_ST_BASE_URL=$BASE_URL PYTHONPATH="$ROOT/scripts" SCHEMATHESIS_HOOKS=schemathesis_hooks \
  "$ST" --config-file "$ROOT/schemathesis.toml" run "$BASE_URL/api/openapi.json" --checks all \
  --max-examples "${ST_MAX_EXAMPLES:-25}" --seed "${ST_SEED:-23}" --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "==> server warnings and errors (last 40)" >&2
  grep -E 'WARN|ERROR' "$TMP/stderr" | tail -n 40 >&2 || true
fi
exit "$status"
