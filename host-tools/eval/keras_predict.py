"""Top-1 predictions of a Keras model (OUT/model.keras from `sidewalk train`) for parity checks.

    python keras_predict.py REQUEST.json OUTPUT.json

REQUEST.json: {"model": path, "input": <manifest.json "input">, "paths": [image, ...]}.
Images go through the trainer's own preprocessing (sidewalk_train.preprocess), configured from the
manifest's input spec, so the Keras model sees exactly what training fed it. Needs the trainer's
folder on PYTHONPATH; run with the trainer's venv interpreter.
OUTPUT.json: {"labels": the trainer's output order, "probabilities": [[...], ...]} in request order. Errors: one line on stderr, exit 2.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv):
    if len(argv) != 2:
        print("usage: keras_predict.py REQUEST.json OUTPUT.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        request = json.load(f)
    import keras
    import numpy as np
    from sidewalk_train import LABELS
    from sidewalk_train.preprocess import Preprocess

    spec = request["input"]
    crop = spec.get("crop", {"x": 0, "y": 0, "width": 1, "height": 1})
    pre = Preprocess(width=spec["width"], height=spec["height"], color_order=spec.get("color_order", "rgb"),
                     scale=spec["normalization"]["scale"], offset=spec["normalization"]["offset"],
                     crop=(crop["x"], crop["y"], crop["width"], crop["height"]))
    try:
        model = keras.models.load_model(request["model"], compile=False)
    except Exception as err:  # keras raises several types for a missing or foreign file
        print(f"EVAL_KERAS_LOAD: {request['model']}: {err}", file=sys.stderr)
        return 2
    out = []
    batch = 64
    paths = request["paths"]
    for start in range(0, len(paths), batch):
        images = np.stack([pre.normalize(pre.load(p)).numpy() for p in paths[start:start + batch]])
        out.extend(model.predict(images, verbose=0).tolist())
    with open(argv[1], "w", encoding="utf-8") as f:
        json.dump({"labels": list(LABELS), "probabilities": out}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
