#!/usr/bin/env bash
# Browser tests of the public site and of the account pages against the real binary.
#
# Runs $CARBUROAM_BIN when set, else the newer of target/debug/carburoam (built by
# scripts/test.sh) and target/release/carburoam. Loads a temp SQLite database from
# ../shared/data when it exists (else, or with E2E_DATASET=fixtures, the repository's
# fixtures), serves it on a free port with the feed job off, and runs the Node tests
# (playwright-core driving Debian's /usr/bin/chromium).
# The server sends its mail over plain SMTP to 127.0.0.1:$SMTP_PORT, where the account and admin
# tests listen in turn (a real SMTP server, the npm package smtp-server; the test files run one
# after the other, --test-concurrency=1, so one listener at a time). An admin account is made
# with the real CLI (`carburoam admin create`, password on stdin) and handed to the tests as
# ADMIN_USER / ADMIN_PASSWORD; the feed job's URL is a local copy of the last file loaded, so
# the console's "Run now" does a real import that leaves the data as it was. Map tiles come from a
# local server answering every tile with a blank PNG (no network; Lighthouse sees no failed
# request). The test files: a11y (keyboard-only walk, axe-core on every page), account, admin, alerts,
# lighthouse (public pages, mobile and desktop), route (starts its own second server with a local
# OSRM, see the file), site. Installs Chromium and the npm packages
# (playwright-core, smtp-server, mailparser, @axe-core/playwright, lighthouse) when they are
# missing. `e2e/run.sh tests/alerts.test.mjs tests/pwa.test.mjs` runs only these files. Screenshots go to e2e/screenshots/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
E2E=$(pwd)
ROOT=$(cd .. && pwd)
if [ -n "${CARBUROAM_BIN:-}" ]; then
  BIN=$CARBUROAM_BIN
else
  BIN="$ROOT/target/debug/carburoam"
  REL="$ROOT/target/release/carburoam"
  if [ -x "$REL" ] && { [ ! -x "$BIN" ] || [ "$REL" -nt "$BIN" ]; }; then BIN=$REL; fi
fi
[ -x "$BIN" ] || { echo "missing $BIN: run cargo build first" >&2; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/smtp-server ] || [ ! -d node_modules/mailparser ] ||
   [ ! -d node_modules/@axe-core/playwright ] || [ ! -d node_modules/lighthouse ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi

TMP=$(mktemp -d)
SERVER_PID=""
TILE_PID=""
cleanup() {
  for pid in $SERVER_PID $TILE_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

DB="sqlite://$TMP/db"
REAL="$ROOT/../shared/data/instantane_ruptures_2026-06-05T1010.zip"
if [ -f "$REAL" ] && [ "${E2E_DATASET:-}" != fixtures ]; then
  echo "==> importing $(basename "$REAL")"
  "$BIN" import --database "$DB" "$REAL" >/dev/null
  export E2E_DATASET=real
  LAST_FILE=$REAL
else
  echo "==> importing the fixtures"
  "$BIN" import --database "$DB" "$ROOT/tests/fixtures/snapshot_a.xml" "$ROOT/tests/fixtures/snapshot_b.xml" >/dev/null
  export E2E_DATASET=fixtures
  LAST_FILE="$ROOT/tests/fixtures/snapshot_b.xml"
fi

# Station names: the shared OpenStreetMap CSV (départements 01–49), else the fixture.
NAMES="$ROOT/../shared/data/osm_fuel_names_dept01-49_2026-08-17.csv"
if [ "$E2E_DATASET" != real ] || [ ! -f "$NAMES" ]; then NAMES="$ROOT/tests/fixtures/names_a.csv"; fi
echo "==> importing the names of $(basename "$NAMES")"
"$BIN" names import --database "$DB" "$NAMES" >/dev/null

# The feed the job reads when the admin test clicks "Run now" (the scheduler itself is off): the
# last file loaded, with a comment added (ZIP archive comment, or XML comment at the end) so that
# its SHA-256 differs and the import is not skipped as "identical to the last file". A real
# import, of the same data: the other test files see the site unchanged.
FEED="$TMP/feed-${LAST_FILE##*/}"
python3 - "$LAST_FILE" "$FEED" <<'PY'
import shutil, sys, zipfile
src, dst = sys.argv[1:]
shutil.copyfile(src, dst)
if zipfile.is_zipfile(dst):
    with zipfile.ZipFile(dst, "a") as z:
        z.comment = b"carburoam e2e feed copy"
else:
    with open(dst, "ab") as f:
        f.write(b"<!-- carburoam e2e feed copy -->\n")
PY

# The admin account, made as an operator would: the real CLI, the password on stdin.
export ADMIN_USER=e2e-admin
ADMIN_PASSWORD="Adm-$(python3 -c 'import secrets; print(secrets.token_urlsafe(15))')-9"
export ADMIN_PASSWORD
if ! echo "$ADMIN_PASSWORD" | CARBUROAM_DATA_DIR="$TMP/data" \
    "$BIN" admin create "$ADMIN_USER" --email admin@example.org --database "$DB" >"$TMP/admin-create" 2>&1 ||
   ! grep -q "^created admin $ADMIN_USER (id [0-9]*)" "$TMP/admin-create"; then
  cat "$TMP/admin-create" >&2
  echo "could not create the admin account" >&2
  exit 1
fi

# Two free ports: the site's (known before it starts, for the links in its mails) and the SMTP
# listener's (opened by the account and admin tests; the server only connects when it sends).
read -r HTTP_PORT SMTP_PORT TILE_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
export SMTP_PORT
# For the alerts test, which imports a file with the real CLI into the served database (the
# server's alert worker picks its changes up, as it would from another instance's import).
export E2E_DB="$DB" E2E_BIN="$BIN" E2E_LAST_FILE="$LAST_FILE"

# Map tiles from a local server that answers every tile with the same blank 512×512 PNG (drawn
# at 256 px: sharp enough for Lighthouse's "image resolution" audit on a phone): nothing leaves
# the machine, and the pages load as they would online (Lighthouse counts failed tile requests
# as console errors).
python3 - "$TILE_PORT" <<'PY' &
import http.server, struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\0" + b"\xe8\xe6\xe1" * 512 for _ in range(512))
PNG = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 512, 512, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
class Tile(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.send_header("Cache-Control", "public, max-age=86400")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        try:
            self.wfile.write(PNG)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser moved on (a page closed mid-load): nothing to report
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Tile).serve_forever()
PY
TILE_PID=$!
export CARBUROAM_TILE_URL="http://127.0.0.1:$TILE_PORT/{z}/{x}/{y}.png"
CARBUROAM_PUBLIC_URL="http://127.0.0.1:$HTTP_PORT" \
CARBUROAM_SMTP_HOST=127.0.0.1 CARBUROAM_SMTP_PORT="$SMTP_PORT" CARBUROAM_SMTP_TLS=none \
CARBUROAM_DATA_DIR="$TMP/data" \
  "$BIN" serve --database "$DB" --bind "127.0.0.1:$HTTP_PORT" --etl-every off --backfill-days 0 --feed-url "$FEED" >"$TMP/stdout" 2>"$TMP/stderr" &
SERVER_PID=$!
. "$ROOT/scripts/lib/listening.sh"
BASE_URL=$(base_url "$SERVER_PID" "$TMP")
export BASE_URL
echo "==> server at $BASE_URL ($E2E_DATASET data, ${BIN#"$ROOT"/}), mail to SMTP 127.0.0.1:$SMTP_PORT"

mkdir -p "$E2E/screenshots"
status=0
# Arguments: the test files to run (paths under e2e/, e.g. tests/alerts.test.mjs), else all.
if [ "$#" -gt 0 ]; then FILES=("$@"); else FILES=("$E2E/tests/"); fi
node --test --test-concurrency=1 --test-reporter=spec "${FILES[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "==> server warnings and errors (last 40)" >&2
  grep -E 'WARN|ERROR' "$TMP/stderr" | tail -n 40 >&2 || true
fi
exit "$status"
