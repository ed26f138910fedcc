#!/bin/sh
# The route API under load, as docs/benchmarks.md reports it:
#   1. POST /api/v1/route with a JSON body of 2,001 points Paris → Marseille (Gazole, 3 km);
#   2. GET /api/v1/route?from=Paris&to=Marseille with the engine's answer cached (a local fake
#      engine answers once with the same 2,001 points; every later request is the cache's):
#      `geoplateforme` format (the default engine: no matrix) and `osrm` (a matrix call to the
#      fake engine per request for the exact detours of the best 25 stations).
# Each with `wrk -t2 -c32 -d10s --latency` after one warm-up request, on a release build.
#
# Usage: scripts/bench-route-api.sh [BIN] — BIN defaults to target/release/carburoam.
# The database (the one `carburoam bench pages` builds from ../shared/data: the 2022 Jan–Mar
# archive, the 2025-02-07 snapshots, the 2026 ruptures snapshot, OSM names) is built once into
# $DB (default /tmp/route-pages.db). Needs wrk, curl and python3.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-target/release/carburoam}
DB=${DB:-/tmp/route-pages.db}
DATA=${DATA:-../shared/data}
SECONDS_EACH=${SECONDS_EACH:-10}
work=$(mktemp -d /tmp/route-bench-XXXXXX)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT INT TERM

if [ ! -s "$DB" ]; then
    echo "# building $DB from $DATA"
    for f in archive_2022-01-01_2022-03-31_etalab.zip instantane_2025-02-07T0200.zip \
        instantane_2025-02-07T0220.zip instantane_2025-02-07T0730.zip instantane_2025-02-07T0740.zip \
        instantane_ruptures_2026-06-05T1010.zip; do
        "$BIN" import --database "sqlite://$DB?mode=rwc" "$DATA/$f" >/dev/null
    done
    "$BIN" names import --force --database "sqlite://$DB" "$DATA"/osm_fuel_names_*.csv >/dev/null
fi

# The 2,001 points: a straight line Paris → Marseille with a ±1 km wiggle, 5 decimals (661.7 km).
python3 - "$work" <<'PY'
import json, math, sys
a, b = (48.8566, 2.3522), (43.2965, 5.3698)
pts = []
for k in range(2001):
    t, w = k / 2000, math.sin(k * 0.05) * 0.01
    pts.append([round(a[0] + (b[0] - a[0]) * t + w, 5), round(a[1] + (b[1] - a[1]) * t, 5)])
open(sys.argv[1] + "/points.json", "w").write(json.dumps(pts))
open(sys.argv[1] + "/body.json", "w").write(
    json.dumps({"points": pts, "fuel": "Gazole", "corridor_km": 3}, separators=(",", ":")))
PY
cat > "$work/post.lua" <<LUA
local f = io.open("$work/body.json", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
LUA

# A fake engine: the Géoplateforme's /navigation/itineraire and OSRM's /route and /table, all
# answering the 2,001 points whatever the ends (roads 1.2 times the straight line at 80 km/h).
cat > "$work/engine.py" <<'PY'
import json, math, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlsplit, parse_qs
pts = json.load(open(sys.argv[2]))
def km(a, b):
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b[1] - a[1]) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))
length = sum(km(pts[i], pts[i + 1]) for i in range(len(pts) - 1))
line = [[p[1], p[0]] for p in pts]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self, v):
        body = json.dumps(v).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        route = {"distance": length * 1000, "duration": length / 80 * 3600,
                 "geometry": {"type": "LineString", "coordinates": line}}
        if u.path == "/navigation/itineraire":
            return self.answer(dict(route, resource="bdtopo-osrm", profile="car", start=q["start"],
                                    end=q["end"], crs="EPSG:4326", portions=[]))
        parts = u.path.split("/")
        if len(parts) == 5 and parts[2:4] == ["v1", "driving"]:
            if parts[1] == "route":
                return self.answer({"code": "Ok", "waypoints": [], "routes": [dict(route, weight=1.0, legs=[])]})
            ll = [tuple(float(x) for x in c.split(","))[::-1] for c in parts[4].split(";")]
            src = [int(i) for i in q["sources"].split(";")]
            dst = [int(i) for i in q["destinations"].split(";")]
            d = [[1.2 * km(ll[a], ll[b]) * 1000 for b in dst] for a in src]
            return self.answer({"code": "Ok", "distances": d, "durations": [[x / 1000 * 60 for x in r] for r in d],
                                "sources": [], "destinations": []})
        self.send_error(404)
class Server(ThreadingHTTPServer):
    daemon_threads = True
    def handle_error(self, request, address):
        pass  # a matrix the server stopped waiting for (its 4 s budget): a closed socket
Server(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { i=0; until curl -sf "$1" >/dev/null; do i=$((i + 1)); [ $i -lt 300 ] || { echo "no answer at $1"; exit 1; }; sleep 0.2; done; }
serve() { # ROUTER [URL] → sets $base
    port=$(free_port)
    RUST_LOG=warn "$BIN" serve --database "sqlite://$DB" --bind "127.0.0.1:$port" --router "$1" \
        ${2:+--router-url "$2"} --etl-every off --names-every off --backfill-days 0 >"$work/serve-$1.log" 2>&1 &
    server=$!
    pids="$pids $server"
    base="http://127.0.0.1:$port"
    wait_up "$base/healthz"
}
measure() { # LABEL URL [wrk args…]
    label=$1; url=$2; shift 2
    printf '%s: ' "$label"
    wrk -t2 -c32 -d"${SECONDS_EACH}s" --latency "$@" "$url" | awk '
        /Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF}
        END {printf "%s req/s, p50 %s, p99 %s%s\n", rps, p50, p99, bad ? ", NON-2XX " bad : ""}'
}

epoint=$(free_port)
python3 "$work/engine.py" "$epoint" "$work/points.json" &
pids="$pids $!"
wait_up "http://127.0.0.1:$epoint/navigation/itineraire?start=2,48&end=5,43"
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $("$BIN" --version 2>/dev/null || echo "$BIN")"

serve off
curl -sf -o "$work/answer.json" -H 'Content-Type: application/json' --data-binary @"$work/body.json" "$base/api/v1/route"
echo "POST answer: $(wc -c <"$work/answer.json") bytes, sha256 $(sha256sum "$work/answer.json" | cut -c1-16)"
measure "POST /api/v1/route, 2,001 points" "$base/api/v1/route" -s "$work/post.lua"
kill "$server"

get="/api/v1/route?from=48.8566,2.3522&to=43.2965,5.3698&fuel=Gazole"
for engine in geoplateforme osrm; do
    # The Géoplateforme's URL is its service's own; OSRM's the server's base.
    case $engine in geoplateforme) url="http://127.0.0.1:$epoint/navigation/itineraire" ;; *) url="http://127.0.0.1:$epoint" ;; esac
    serve "$engine" "$url"
    curl -sf -o "$work/get.json" "$base$get"
    echo "GET ($engine, cached) answer: $(wc -c <"$work/get.json") bytes"
    measure "GET /api/v1/route, $engine answer cached" "$base$get"
    kill "$server"
done
echo "# load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
