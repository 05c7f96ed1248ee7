"""Keras -> TFLite (float32 and full-integer int8) -> model bundles the device's TFLite 2.9 can run."""
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stdout

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from . import GROUPS, LABELS, __version__
from .progress import TrainError, emit, info

# The runtime bundled with tfjs-tflite-node on the device (host-tools/train/README.md).
DEVICE_RUNTIME = (2, 9, 0)
_DTYPES = {schema.TensorType.FLOAT32: "float32", schema.TensorType.INT8: "int8", schema.TensorType.UINT8: "uint8"}


def convert_float32(model):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with redirect_stdout(sys.stderr):  # the converter prints its SavedModel signature; stdout carries events
        return converter.convert()


def convert_int8(model, calibration):
    """Full-integer quantisation, int8 in and out. Dynamic-range quantisation (no representative
    dataset) is never used: its hybrid ops need runtime >= 2.17."""
    if len(calibration) == 0:
        raise TrainError("TRAIN_NO_CALIBRATION", "int8 export needs training images for its representative dataset")

    def representative():
        for image in calibration:
            yield [image[np.newaxis].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # TFLite 2.9's int8 FULLY_CONNECTED kernel reads only the first weight scale: per-channel Dense
    # weights (the default since TF 2.16) keep op version 4 yet give wrong outputs on the device.
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    with redirect_stdout(sys.stderr):
        return converter.convert()


def read_tflite(buffer):
    """min_runtime_version, opcodes and input/output tensor specs straight from the flatbuffer."""
    model = schema.Model.GetRootAsModel(bytearray(buffer), 0)
    metadata = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        data = model.Buffers(entry.Buffer())
        if data.DataLength():
            metadata[entry.Name().decode()] = data.DataAsNumpy().tobytes()
    graph = model.Subgraphs(0)

    def tensor_spec(index):
        tensor = graph.Tensors(index)
        quant = tensor.Quantization()
        spec = {"shape": tensor.ShapeAsNumpy().tolist(), "dtype": _DTYPES.get(tensor.Type(), f"type{tensor.Type()}")}
        if quant is not None and quant.ScaleLength() > 0 and spec["dtype"] != "float32":
            spec["quantization"] = {"scale": float(quant.Scale(0)), "zero_point": int(quant.ZeroPoint(0))}
        return spec

    raw_version = metadata.get("min_runtime_version")
    ops = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        ops.append((max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), code.Version()))
    problems = []
    for s in range(model.SubgraphsLength()):
        sub = model.Subgraphs(s)
        for o in range(sub.OperatorsLength()):
            op = sub.Operators(o)
            if ops[op.OpcodeIndex()][0] != schema.BuiltinOperator.FULLY_CONNECTED or op.InputsLength() < 2:
                continue
            quant = sub.Tensors(op.Inputs(1)).Quantization()
            if quant is not None and quant.ScaleLength() > 1:
                problems.append(f"subgraph {s} operator {o} FULLY_CONNECTED has per-channel quantised weights ({quant.ScaleLength()} scales)")
    return {
        "min_runtime_version": raw_version.split(b"\0", 1)[0].decode() if raw_version else None,
        "ops": ops,
        "incompatibilities": problems,
        "inputs": [tensor_spec(graph.Inputs(i)) for i in range(graph.InputsLength())],
        "outputs": [tensor_spec(graph.Outputs(i)) for i in range(graph.OutputsLength())],
    }


def parse_version(text):
    parts = text.split(".")
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        return None
    return numbers + (0,) * (3 - len(numbers)) if 1 <= len(numbers) <= 3 else None


def check_device_runtime(info_, label):
    if info_["incompatibilities"]:
        raise TrainError("TRAIN_TFLITE_TOO_NEW",
                         f"{label}: TFLite {'.'.join(map(str, DEVICE_RUNTIME))} would run it incorrectly: {'; '.join(info_['incompatibilities'])}")
    version = info_["min_runtime_version"]
    if version is None:
        raise TrainError("TRAIN_TFLITE_NO_RUNTIME_VERSION",
                         f"{label}: the converted model has no min_runtime_version metadata; cannot prove TFLite 2.9 runs it")
    parsed = parse_version(version)
    if parsed is None or parsed > DEVICE_RUNTIME:
        raise TrainError("TRAIN_TFLITE_TOO_NEW",
                         f"{label}: min_runtime_version {version} is newer than the device's TFLite "
                         f"{'.'.join(map(str, DEVICE_RUNTIME))}; export float32 or full-int8 and avoid dynamic-range, int4 or int16 modes")


def tflite_accuracy(buffer, images, labels, pre):
    """Accuracy of the converted model itself on held-out images (uint8 RGB, not yet normalised)."""
    try:
        interpreter = tf.lite.Interpreter(model_content=bytes(buffer))
    except AttributeError:
        return None
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    correct = 0
    for image, label in zip(images, labels):
        real = pre.normalize(image).numpy()
        if inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            real = np.clip(np.floor(real / scale + 0.5) + zero, -128, 127).astype(np.int8)  # device rounds half up
        interpreter.set_tensor(inp["index"], real[np.newaxis].astype(inp["dtype"]))
        interpreter.invoke()
        correct += int(np.argmax(interpreter.get_tensor(out["index"])[0]) == label)
    return correct / len(labels) if len(labels) else None


def compile_edgetpu(model_path, out_dir):
    """model_edgetpu.tflite beside model_path, or None (and why) when the compiler is not installed."""
    compiler = shutil.which("edgetpu_compiler")
    if compiler is None:
        info("Edge TPU model skipped: edgetpu_compiler is not on PATH (install the edgetpu-compiler package, x86-64 Linux only)")
        return None
    result = subprocess.run([compiler, "-s", "-o", out_dir, model_path], capture_output=True, text=True)
    produced = os.path.join(out_dir, "model_edgetpu.tflite")
    if result.returncode != 0 or not os.path.isfile(produced):
        raise TrainError("TRAIN_EDGETPU_FAILED", f"edgetpu_compiler {model_path} failed: {(result.stderr or result.stdout).strip()[-400:]}")
    log_file = os.path.join(out_dir, "model_edgetpu.log")
    if os.path.isfile(log_file):
        os.remove(log_file)
    return produced


def _file_entry(path):
    with open(path, "rb") as f:
        data = f.read()
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def write_bundle(out_dir, buffer, variant, pre, meta, metrics, edgetpu=False):
    """One bundle directory: model.tflite (+ model_edgetpu.tflite) and manifest.json (written last)."""
    tflite = read_tflite(buffer)
    check_device_runtime(tflite, f"{variant} model")
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    model_path = os.path.join(out_dir, "model.tflite")
    with open(model_path, "wb") as f:
        f.write(buffer)
    files = {"model.tflite": _file_entry(model_path)}
    if edgetpu:
        produced = compile_edgetpu(model_path, out_dir)
        if produced:
            files["model_edgetpu.tflite"] = _file_entry(produced)

    spec_in, spec_out = tflite["inputs"][0], tflite["outputs"][0]
    expected_shape = [1, pre.height, pre.width, 3]
    if spec_in["shape"] != expected_shape:
        raise TrainError("TRAIN_TFLITE_SHAPE", f"{model_path}: input shape {spec_in['shape']}, expected {expected_shape}")
    manifest_input = {**pre.manifest_input(), "dtype": spec_in["dtype"]}
    if "quantization" in spec_in:
        manifest_input["quantization"] = spec_in["quantization"]
    manifest = {
        "format": "sidewalk-model/1",
        "name": meta["name"],
        "version": meta["version"],
        "location": meta["location"],
        "labels": list(LABELS),
        "groups": GROUPS,
        "input": manifest_input,
    }
    if "quantization" in spec_out:
        manifest["output"] = {"quantization": spec_out["quantization"]}
    manifest["files"] = files
    if metrics:
        manifest["metrics"] = metrics
    manifest["dataset_hash"] = meta["dataset_hash"]
    manifest["trainer_version"] = f"sidewalk-train {__version__} (tensorflow {tf.__version__})"
    manifest["created_at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if meta.get("demo_only"):
        manifest["demo_only"] = True
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    emit("bundle", variant=variant, dir=out_dir, min_runtime_version=tflite["min_runtime_version"],
         bytes=files["model.tflite"]["bytes"], edgetpu="model_edgetpu.tflite" in files,
         test_accuracy=(metrics or {}).get("test_accuracy"))
    return manifest
