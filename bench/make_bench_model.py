"""Writes a runtime benchmark model: an untrained Keras MobileNetV2 (alpha 1.0, 224x224, 4 classes) as
a TFLite bundle, through the trainer's own export path (float32, or full-integer int8 as the trainer
quantises). Random weights time exactly like trained ones; int8 is calibrated on seeded random images
(the calibration sets the scales, not the speed).
Usage (inside the trainer venv, from host-tools/train): python make_bench_model.py OUT_DIR [float32|int8]
"""
import sys

import numpy as np

from sidewalk_train import export, models
from sidewalk_train.preprocess import for_training

out_dir = sys.argv[1]
variant = sys.argv[2] if len(sys.argv) > 2 else "float32"
if variant not in ("float32", "int8"):
    sys.exit(f"make_bench_model.py: variant {variant!r}: expected float32 or int8")
model = models.build("mobilenetv2", 224, 4, alpha=1.0, weights="none")
pre = for_training(224)
meta = {"name": f"bench-mobilenetv2-224-{variant}", "version": "0.0.0", "location": "bench", "dataset_hash": "none", "demo_only": True}
if variant == "int8":
    images = np.random.default_rng(1).integers(0, 256, size=(16, 224, 224, 3), dtype=np.uint8)
    buffer = export.convert_int8(model, pre.normalize(images).numpy())
else:
    buffer = export.convert_float32(model)
export.write_bundle(out_dir, buffer, variant, pre, meta, metrics=None)
