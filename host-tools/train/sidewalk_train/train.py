"""The training run: two stages (head, then fine-tuning), checkpoints for --resume, then export."""
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from . import LABELS, dataset, export, models, preprocess
from .progress import TrainError, emit, info

CALIBRATION_IMAGES = 200


class Progress(keras.callbacks.Callback):
    """Epoch lines for the driver, plus the checkpoint that --resume continues from."""

    def __init__(self, stage, epochs, checkpoint_dir):
        super().__init__()
        self.stage = stage
        self.epochs = epochs
        self.checkpoint_dir = checkpoint_dir
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.model.save(os.path.join(self.checkpoint_dir, "last.keras"))
        with open(os.path.join(self.checkpoint_dir, "state.json"), "w", encoding="utf-8") as f:
            json.dump({"stage": self.stage, "epochs_done": epoch + 1}, f)
        emit("epoch", stage=self.stage, epoch=epoch + 1, epochs=self.epochs, seconds=round(time.monotonic() - self.started, 1),
             loss=logs.get("loss"), accuracy=logs.get("accuracy"), val_loss=logs.get("val_loss"), val_accuracy=logs.get("val_accuracy"))


def _resume_state(checkpoint_dir):
    state_path = os.path.join(checkpoint_dir, "state.json")
    model_path = os.path.join(checkpoint_dir, "last.keras")
    if not (os.path.isfile(state_path) and os.path.isfile(model_path)):
        return None
    with open(state_path, encoding="utf-8") as f:
        state = json.load(f)
    return state, model_path


def _fit(model, stage, epochs, initial_epoch, learning_rate, train_ds, val_ds, weights, args, checkpoint_dir):
    if epochs <= initial_epoch:
        return
    models.set_stage(model, stage, args.weights, args.fine_tune_from)
    # No XLA: compiling MobileNetV2 costs more than it saves on the small CPU runs this tool does.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=False)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    emit("stage", stage=stage, epochs=epochs, from_epoch=initial_epoch, learning_rate=learning_rate, trainable_params=trainable)
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch, class_weight=weights, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True),
                         Progress(stage, epochs, checkpoint_dir)])


def run(args):
    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    pre = preprocess.for_training(args.input_size, args.color_order, preprocess.parse_crop(args.crop), dataset.exported_crop(args.data))
    splits = dataset.scan(args.data)
    counts = {split: dict(zip(LABELS, dataset.class_counts(items))) for split, items in splits.items()}
    emit("dataset", dir=args.data, counts=counts)
    data_hash = dataset.dataset_hash(args.data, splits)

    out = os.path.abspath(args.out)
    checkpoint_dir = os.path.join(out, "checkpoints")
    os.makedirs(checkpoint_dir, exist_ok=True)
    train_ds = dataset.make_dataset(splits["train"], pre, args.batch_size, training=True, seed=args.seed)
    val_ds = dataset.make_dataset(splits["val"], pre, args.batch_size, training=False, seed=args.seed)
    weights = dataset.class_weights(splits["train"])

    resume = _resume_state(checkpoint_dir) if args.resume else None
    done_stage1, done_stage2 = 0, 0
    if resume:
        state, model_path = resume
        model = keras.models.load_model(model_path)
        if state["stage"] == 1:
            done_stage1 = state["epochs_done"]
        else:
            done_stage1, done_stage2 = args.epochs, state["epochs_done"]
        info(f"resuming from {model_path} (stage {state['stage']}, {state['epochs_done']} epoch(s) done)")
    else:
        model = models.build(args.arch, args.input_size, len(LABELS), alpha=args.alpha, weights=args.weights)
    emit("model", arch=args.arch, params=int(model.count_params()), input_size=args.input_size)

    _fit(model, 1, args.epochs, done_stage1, args.learning_rate, train_ds, val_ds, weights, args, checkpoint_dir)
    if models.backbone(model) is not None and args.fine_tune_epochs > 0:
        _fit(model, 2, args.fine_tune_epochs, done_stage2, args.fine_tune_learning_rate, train_ds, val_ds, weights, args, checkpoint_dir)
    model.save(os.path.join(out, "model.keras"))

    # Export: calibration from the training split (no augmentation), accuracy on the held-out test split.
    rng = np.random.default_rng(args.seed)
    calib_items = [splits["train"][i] for i in rng.permutation(len(splits["train"]))[:CALIBRATION_IMAGES]]
    calib_images, _ = dataset.load_arrays(calib_items, pre)
    calibration = pre.normalize(calib_images).numpy()
    test_images, test_labels = dataset.load_arrays(splits["test"], pre)
    meta = {"name": args.name, "version": args.version, "location": args.location, "dataset_hash": data_hash,
            "demo_only": args.demo_only}
    bundles = []
    for variant in args.variants.split(","):
        emit("export", variant=variant)
        if variant == "float32":
            buffer = export.convert_float32(model)
        elif variant == "int8":
            buffer = export.convert_int8(model, calibration)
        else:
            raise TrainError("TRAIN_BAD_VARIANT", f"--variants: unknown variant {variant!r}; expected float32 and/or int8")
        accuracy = export.tflite_accuracy(buffer, test_images, test_labels, pre)
        metrics = None if accuracy is None else {"source": "sidewalk-train", "test_accuracy": round(accuracy, 4),
                                                  "test_samples": int(len(test_labels))}
        bundle_dir = os.path.join(out, variant)
        export.write_bundle(bundle_dir, buffer, variant, pre, meta, metrics, edgetpu=(variant == "int8"))
        bundles.append({"variant": variant, "dir": bundle_dir, "test_accuracy": accuracy})
    summary = {"bundles": bundles, "dataset_hash": data_hash, "counts": counts, "preprocess": pre.manifest_input()}
    with open(os.path.join(out, "train-summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    emit("done", **summary)
