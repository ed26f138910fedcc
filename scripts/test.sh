#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
# Installs what the tests need when it is missing, then: format, lint, unit + integration tests
# on SQLite and PostgreSQL, browser tests of the public site.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# A CI run builds once: incremental caches would only cost time and disk there.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

# --- PostgreSQL: the integration tests run on it too when it answers -----------------------
: "${TEST_POSTGRES_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  say "starting PostgreSQL"
  for v in /etc/postgresql/*; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
  done
  sleep 2
fi
if pg_up; then
  export TEST_POSTGRES_URL
  say "PostgreSQL: $TEST_POSTGRES_URL"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable at 127.0.0.1:5432 and CI requires it" >&2
  exit 1
else
  unset TEST_POSTGRES_URL
  say "PostgreSQL not reachable: tests run on SQLite only"
fi

if [ -d ../shared/data ]; then
  say "real feed files found in ../shared/data: real-data tests included"
else
  say "no ../shared/data: real-data tests skip, fixtures and generated feeds only"
fi

# A real Valhalla for the route search's tests (they say they are skipped without it).
if ./scripts/valhalla.sh >/dev/null; then
  say "Valhalla 3.9.1 (pyvalhalla wheel) ready: route tests against a real engine included"
else
  say "Valhalla could not be installed: its route tests skip"
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

say "cargo test"
cargo test --locked --all-targets 2>&1 | tee target/test-output.txt
# Doc tests separately (--all-targets leaves them out).
cargo test --locked --doc

# The public site in a real browser (Debian's Chromium), against the real binary.
say "browser tests"
cargo build --locked && ./e2e/run.sh

# Every request the OpenAPI document allows, against the real binary (skipped without pip).
say "schemathesis"
./scripts/schemathesis.sh

# A closing line counted by CI.
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' target/test-output.txt | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' target/test-output.txt | awk '{s+=$1} END {print s+0}')
echo "rust: ${passed} passed, ${failed} failed"
