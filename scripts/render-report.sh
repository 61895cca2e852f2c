#!/usr/bin/env bash
# Renders a weekly synthesis in headless Chromium to a PNG, to look at it as ANSM will.
#
#   scripts/render-report.sh medistock-data/lac/reports/2026-W43/synthese.html [out.png]
#
# Installs Debian's chromium when it is missing (needs root and apt).
set -euo pipefail
html="${1:?fichier synthese.html}"
png="${2:-${html%.html}.png}"
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1200,7000 \
  --screenshot="$png" "file://$(realpath "$html")" 2>/dev/null
echo "$png"
