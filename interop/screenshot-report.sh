#!/usr/bin/env bash
# Renders a minmax-conform HTML report in headless Chromium and saves a PNG, to look at
# the page as a person would. Debian: apt-get install chromium.
#
#   interop/screenshot-report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
#
# Without a report, it makes one first: the server battery (both levels) against the
# Python reference server in interop/, after `cargo build --bins`.
set -euo pipefail
cd "$(dirname "$0")/.."

report=${1:-}
out=${2:-target/conform-report.png}
size=${3:-1280x2000}

if [ -z "$report" ]; then
  report=target/conform-report.html
  python=interop/.venv/bin/python
  [ -x "$python" ] || python=python3
  # Exit 1 (some ext cases fail against the seed-level reference) is expected here.
  target/debug/minmax-conform server --cmd "$python $PWD/interop/ref_server.py {port}" \
    --level all --timeout 2 --html "$report" --quiet || [ $? -eq 1 ]
fi

browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "no Chromium found: apt-get install chromium" >&2
  exit 2
fi

# --no-sandbox: CI and these machines run as root, where Chromium's sandbox refuses to start.
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --hide-scrollbars --window-size="${size/x/,}" --screenshot="$PWD/$out" \
  "file://$(realpath "$report")" 2>/dev/null
echo "$out"
