"""OpenCV reference for the runtime's `resize: area` and the legacy preprocessing (tests only).

Runs in the trainer's venv with host-tools/train/requirements-eval.txt (ensureEvalVenv). Reads one
JSON job on stdin:
  {"cases":  [{"src": RAW_RGB24, "width": W, "height": H, "ops": [["resize", w, h] | ["crop", x, y, w, h]], "out": RAW}],
   "legacy": [{"src": RAW_RGB24, "width": W, "height": H, "out": RAW_FLOAT32}]}
`cases` apply cv2.resize(INTER_AREA) / numpy slicing in order and write the uint8 RGB result.
`legacy` redo what the legacy Pi did with a camera frame (docs: runtime/inference/README.md): BGR,
resize to 640x480, crop x 80..560, resize to the model's 224x224, (x - 127.5) / 127.5 in float32,
and write the 1x224x224x3 float32 tensor the legacy code gave its TFLite interpreter.
"""
import json
import sys

import cv2
import numpy as np


def load(case):
    data = np.fromfile(case["src"], np.uint8)
    return data.reshape(case["height"], case["width"], 3)


def apply(image, ops):
    for op in ops:
        if op[0] == "resize":
            image = cv2.resize(image, (op[1], op[2]), interpolation=cv2.INTER_AREA)
        elif op[0] == "crop":
            x, y, w, h = op[1:]
            image = image[y:y + h, x:x + w]
        else:
            raise ValueError(f"unknown op {op[0]}")
    return image


def legacy_tensor(rgb):
    frame = np.ascontiguousarray(rgb[..., ::-1])  # the legacy camera delivered BGR
    frame = cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA)
    crop = frame[0:480, 80:560]
    if crop.shape[0] != 224 or crop.shape[1] != 224:
        crop = cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA)
    return (np.float32(crop[np.newaxis]) - 127.5) / 127.5


def main():
    job = json.load(sys.stdin)
    for case in job.get("cases", []):
        np.ascontiguousarray(apply(load(case), case["ops"])).tofile(case["out"])
    for case in job.get("legacy", []):
        legacy_tensor(load(case)).astype(np.float32).tofile(case["out"])


if __name__ == "__main__":
    main()
