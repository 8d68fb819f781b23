#!/usr/bin/env bash
# Creates (or updates) the virtual environment and installs Easel into it.
#   scripts/install.sh VENV [EXTRAS]      e.g. scripts/install.sh .venv test
set -euo pipefail
venv=${1:-.venv}
extras=${2:-}
cd "$(dirname "$0")/.."

# Fonts for watermarks and title layout (Noto CJK, OFL; Symbola for the emoji and symbols Noto CJK
# lacks). Best effort: without root or apt the server still runs and reports the missing font where
# it is needed.
if ! { fc-list 2>/dev/null | grep -qi "Noto Sans CJK" && fc-list 2>/dev/null | grep -qi "Symbola"; } \
   && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get install -y -qq fonts-noto-cjk fonts-symbola >/dev/null 2>&1 || \
   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-noto-cjk fonts-symbola >/dev/null 2>&1)) || \
   echo "warning: could not install fonts-noto-cjk fonts-symbola" >&2
fi

# The test profile's browser test of the playground (tests/web) drives Debian's chromium through
# Playwright; Playwright never downloads a browser here.
if [ "$extras" = test ] && ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1)) || \
   echo "warning: could not install chromium; tests/web will fail" >&2
fi

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip="$venv/bin/python -m pip"
$pip install -q --upgrade pip >/dev/null 2>&1 || true
spec="."
[ -n "$extras" ] && spec=".[$extras]"
$pip install -q -e "$spec"
$pip install -q --no-deps -r requirements/nodeps.txt
