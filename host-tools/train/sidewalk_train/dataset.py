"""Reads a dataset export folder: DIR/{train,val,test}/{bike_lane,crosswalk,side,street}/*.png|jpg
plus the optional DIR/dataset.json whose `content_hash` identifies the snapshot."""
import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from . import LABELS, preprocess
from .augment import augment
from .progress import TrainError

SPLITS = ("train", "val", "test")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# Decoded uint8 images are cached in memory below this size; bigger sets are re-read every epoch.
CACHE_LIMIT_BYTES = 2 * 1024 ** 3


def scan(data_dir):
    """{split: [(path, label_index), ...]} sorted by path; train and val must hold every class."""
    if not os.path.isdir(data_dir):
        raise TrainError("TRAIN_DATA_MISSING", f"{data_dir}: no such dataset folder")
    splits = {}
    for split in SPLITS:
        split_dir = os.path.join(data_dir, split)
        items = []
        if os.path.isdir(split_dir):
            unknown = sorted(set(os.listdir(split_dir)) - set(LABELS))
            unknown = [u for u in unknown if os.path.isdir(os.path.join(split_dir, u))]
            if unknown:
                raise TrainError("TRAIN_DATA_UNKNOWN_CLASS",
                                 f"{split_dir}: unknown class folder(s) {', '.join(unknown)}; expected {', '.join(LABELS)}")
            for index, label in enumerate(LABELS):
                class_dir = os.path.join(split_dir, label)
                if not os.path.isdir(class_dir):
                    continue
                for name in sorted(os.listdir(class_dir)):
                    if name.lower().endswith(IMAGE_EXTENSIONS):
                        items.append((os.path.join(class_dir, name), index))
        if split in ("train", "val"):
            counts = class_counts(items)
            empty = [LABELS[i] for i, n in enumerate(counts) if n == 0]
            if empty:
                raise TrainError("TRAIN_DATA_EMPTY_CLASS",
                                 f"{split_dir}: no .png/.jpg images for class(es) {', '.join(empty)}")
        splits[split] = items
    return splits


def class_counts(items):
    counts = [0] * len(LABELS)
    for _, index in items:
        counts[index] += 1
    return counts


def class_weights(items):
    """Balanced weights n / (classes * n_c), as the legacy notebooks computed them."""
    counts = class_counts(items)
    total = sum(counts)
    return {i: total / (len(counts) * n) for i, n in enumerate(counts) if n > 0}


def _read_meta(data_dir):
    meta_path = os.path.join(data_dir, "dataset.json")
    if not os.path.isfile(meta_path):
        return meta_path, None
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as err:
        raise TrainError("TRAIN_DATASET_JSON", f"{meta_path}: {err}")
    if not isinstance(meta, dict):
        raise TrainError("TRAIN_DATASET_JSON", f"{meta_path}: not a JSON object")
    return meta_path, meta


def exported_crop(data_dir):
    """The camera-frame crop a `sidewalk data export` already applied (dataset.json preprocessing.crop),
    or None when it applied none (no field, null, or the whole frame: an identity crop is no crop)."""
    meta_path, meta = _read_meta(data_dir)
    crop = (meta.get("preprocessing") or {}).get("crop") if meta else None
    if crop is None:
        return None
    try:
        values = tuple(float(crop[k]) for k in ("x", "y", "width", "height"))
    except (KeyError, TypeError, ValueError):
        raise TrainError("TRAIN_DATASET_JSON", f"{meta_path}: preprocessing.crop needs numeric x, y, width, height")
    return None if values == preprocess.WHOLE_FRAME else values


def dataset_hash(data_dir, splits):
    """dataset.json's content_hash when the export has one, else a hash of every file's path and bytes."""
    meta_path, meta = _read_meta(data_dir)
    if meta is not None:
        value = meta.get("content_hash")
        if not isinstance(value, str) or not value:
            raise TrainError("TRAIN_DATASET_JSON", f"{meta_path}: field content_hash is missing or not a string")
        return value
    digest = hashlib.sha256()
    for split in SPLITS:
        for path, _ in splits[split]:
            with open(path, "rb") as f:
                file_hash = hashlib.sha256(f.read()).hexdigest()
            digest.update(f"{os.path.relpath(path, data_dir)}\0{file_hash}\n".encode())
    return "sha256:" + digest.hexdigest()


def load_arrays(items, pre):
    """Preprocessed-but-not-normalised uint8 images and labels, for calibration and evaluation."""
    images = np.stack([pre.load(path).numpy() for path, _ in items]) if items else np.zeros((0, pre.height, pre.width, 3), np.uint8)
    labels = np.array([label for _, label in items], np.int64)
    return images, labels


def make_dataset(items, pre, batch_size, training, seed):
    """tf.data pipeline: load -> (augment, training only) -> normalise -> batch. Deterministic from seed."""
    paths = [path for path, _ in items]
    labels = [label for _, label in items]
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(lambda p, y: (pre.load(p), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if len(items) * pre.width * pre.height * 3 <= CACHE_LIMIT_BYTES:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(len(items), seed=seed, reshuffle_each_iteration=True)
        # One stateless seed pair per element, new every epoch: repeatable yet different each pass.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda xy, s: (augment(xy[0], s), xy[1]), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.map(lambda x, y: (pre.normalize(x), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
