# Sourced by e2e/run.sh and scripts/schemathesis.sh: `base_url PID DIR` waits (10 s at most) for
# the `carburoam serve` of PID to print its "listening on http://…" line in DIR/stdout and
# prints that address; exits the script, with the server's DIR/stderr, when the server dies
# or never says where it listens.
base_url() {
  local pid=$1 dir=$2 url
  for _ in $(seq 1 100); do
    if grep -q '^listening on http://' "$dir/stdout" 2>/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$dir/stderr" >&2; echo "server died" >&2; exit 1; fi
    sleep 0.1
  done
  url=$(head -1 "$dir/stdout" | sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p')
  [ -n "$url" ] || { echo "no 'listening on' line" >&2; cat "$dir/stderr" >&2; exit 1; }
  echo "$url"
}
