#!/usr/bin/env bash
# Runs every test of Medistock: the README's test command, called by .ci/run.
#
# - creates a Python venv in .venv (git-ignored) with the pinned AWS emulator and template
#   linters from PyPI (cfn-lint; aws-sam-cli in .venv-sam for `sam validate --lint`);
# - starts moto_server on 127.0.0.1 on a free port, exports AWS_ENDPOINT_URL and dummy
#   credentials, and stops the server by its PID on exit;
# - points the real-data tests at the BDPM snapshot beside the checkout (../shared/data/bdpm);
# - runs the whole Rust test suite (dev profile).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"
VENV=".venv"

if [ ! -x "$VENV/bin/moto_server" ]; then
  echo "==> installation de moto[server]==$MOTO_VERSION dans $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp -t moto.XXXXXX.log)
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto_server s'est arrêté :" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.1
done
echo "==> moto_server prêt sur 127.0.0.1:$port (pid $moto_pid)"

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export MEDISTOCK_TEST_ENDPOINT="$AWS_ENDPOINT_URL"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-west-3 AWS_EC2_METADATA_DISABLED=true

if [ -z "${MEDISTOCK_BDPM_DIR:-}" ] && [ -f ../shared/data/bdpm/CIS_bdpm.txt ]; then
  MEDISTOCK_BDPM_DIR="$(cd ../shared/data/bdpm && pwd)"
  export MEDISTOCK_BDPM_DIR
fi

echo "==> cfn-lint infra/template.yaml"
"$VENV/bin/cfn-lint" infra/template.yaml

# SAM's own validation (transform + lint), in its own venv: its pins differ from moto's.
SAM_VERSION="1.170.0"
SAM_VENV=".venv-sam"
if [ ! -x "$SAM_VENV/bin/sam" ]; then
  echo "==> installation de aws-sam-cli==$SAM_VERSION dans $SAM_VENV"
  python3 -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_VERSION"
fi
echo "==> sam validate --lint"
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=eu-west-3 "$SAM_VENV/bin/sam" validate --lint --template infra/template.yaml

out=$(mktemp -t cargo-test.XXXXXX.log)
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log" "$out"' EXIT
status=0
cargo test --workspace --all-features --locked --no-fail-fast "$@" 2>&1 | tee "$out" || status=$?
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$out"
exit "$status"
