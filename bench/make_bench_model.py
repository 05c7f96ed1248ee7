"""Writes the runtime benchmark's model: an untrained Keras MobileNetV2 (alpha 1.0, 224x224, 4 classes)
as a float32 TFLite bundle, through the trainer's own export path. Random weights time exactly like
trained ones. Usage (inside the trainer venv, from host-tools/train): python make_bench_model.py OUT_DIR
"""
import sys

from sidewalk_train import export, models
from sidewalk_train.preprocess import for_training

out_dir = sys.argv[1]
model = models.build("mobilenetv2", 224, 4, alpha=1.0, weights="none")
pre = for_training(224)
meta = {"name": "bench-mobilenetv2-224", "version": "0.0.0", "location": "bench", "dataset_hash": "none", "demo_only": True}
export.write_bundle(out_dir, export.convert_float32(model), "float32", pre, meta, metrics=None)
