"""The baseline of benchmarks/predict_startup.py: what a user writes around `headstart export`'s ONNX
model with onnxruntime alone: decode each image with PIL, run the model, print the top 3 classes.

    python benchmarks/plain_onnx_predict.py model.onnx IMAGE [IMAGE ...]
"""

import json
import sys

import numpy as np
import onnxruntime
from PIL import Image

model, images = sys.argv[1], sys.argv[2:]
session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
names = json.loads(session.get_modelmeta().custom_metadata_map["headstart"])["class_names"]
for path in images:  # one image per call: the model takes one size per batch
    x = np.asarray(Image.open(path).convert("RGB"))[None]
    probabilities = session.run(None, {"images": x})[0][0]
    top = np.argsort(-probabilities)[:3]
    print(f"{path}: " + ", ".join(f"{names[i]} {100 * probabilities[i]:.1f}%" for i in top))
