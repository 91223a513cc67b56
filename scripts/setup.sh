#!/usr/bin/env bash
# Installs what headstart needs, idempotently: Debian packages (WordNet 3.0, Fashion-MNIST, and
# Chromium for the report test), then the Python package. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(wordnet-base wordnet-sense-index dataset-fashion-mnist)
[ "${1:-}" = "--test" ] && APT_PACKAGES+=(chromium)
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: cannot install Debian packages without root. Ask an administrator to run:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    echo "(or point HEADSTART_WORDNET_DIR / HEADSTART_FASHION_MNIST at copies of those files)" >&2
    exit 1
  fi
fi

# Reinstall the Python package only when its definition changed since the last set-up.
stamp=".setup-stamp"
want="$(sha1sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$PYTHON" -c "import headstart" 2>/dev/null; then
  echo "setup: installing the headstart Python package"
  # Where no torch is installed, the CPU build first and alone, so no other package can pull a
  # multi-GB CUDA build in its place; an installed torch that fits (>= 2.13, < 3) is kept.
  if ! "$PYTHON" -c "import sys, torch; v = tuple(int(p) for p in torch.__version__.split('+')[0].split('.')[:2]); sys.exit(not (2, 13) <= v < (3, 0))" 2>/dev/null; then
    "$PYTHON" -m pip install -q --disable-pip-version-check "torch==2.13.0"
  fi
  # every extra (lab, plots, test): the README's make demo and make test need them all
  "$PYTHON" -m pip install -q --disable-pip-version-check -e ".[all]"
  echo "$want" > "$stamp"
fi
