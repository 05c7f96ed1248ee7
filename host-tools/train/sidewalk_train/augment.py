"""The legacy training augmentations (Keras ImageDataGenerator settings of the Colab notebooks),
as stateless ops on one RGB 0..255 image so a seed pair fully determines the result."""
import math

import tensorflow as tf

FLIP_HORIZONTAL = True
BRIGHTNESS_RANGE = (0.8, 1.2)   # multiplicative, like ImageDataGenerator(brightness_range=...)
SHIFT_FRACTION = 0.15           # width_shift_range = height_shift_range
ZOOM_RANGE = (0.9, 1.1)
ROTATION_DEGREES = 5.0          # "small rotation"
PATCH_PROBABILITY = 0.5         # a random patch covering a ninth of the image (1/3 x 1/3), half of the time


def _uniform(seed, index, low, high, shape=()):
    return tf.random.stateless_uniform(shape, seed=tf.stack([seed[0], seed[1] + index]), minval=low, maxval=high)


def augment(image, seed):
    """image: uint8/float [H, W, 3] RGB 0..255; seed: int64 [2]. Returns float32 RGB 0..255."""
    seed = tf.cast(seed, tf.int64)
    image = tf.cast(image, tf.float32)
    h = tf.shape(image)[0]
    w = tf.shape(image)[1]
    hf = tf.cast(h, tf.float32)
    wf = tf.cast(w, tf.float32)

    if FLIP_HORIZONTAL:
        image = tf.where(_uniform(seed, 1, 0.0, 1.0) < 0.5, image[:, ::-1, :], image)

    # Shift, zoom and rotation as one affine map from output to input pixel coordinates.
    zoom = _uniform(seed, 2, ZOOM_RANGE[0], ZOOM_RANGE[1])
    angle = _uniform(seed, 3, -ROTATION_DEGREES, ROTATION_DEGREES) * (math.pi / 180.0)
    tx = _uniform(seed, 4, -SHIFT_FRACTION, SHIFT_FRACTION) * wf
    ty = _uniform(seed, 5, -SHIFT_FRACTION, SHIFT_FRACTION) * hf
    cx = (wf - 1.0) / 2.0
    cy = (hf - 1.0) / 2.0
    a0 = tf.cos(angle) / zoom
    a1 = -tf.sin(angle) / zoom
    b0 = tf.sin(angle) / zoom
    b1 = tf.cos(angle) / zoom
    a2 = cx - a0 * cx - a1 * cy - tx
    b2 = cy - b0 * cx - b1 * cy - ty
    transform = tf.reshape(tf.stack([a0, a1, a2, b0, b1, b2, 0.0, 0.0]), (1, 8))
    image = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis], transforms=transform, output_shape=tf.stack([h, w]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="NEAREST")[0]

    image = image * _uniform(seed, 6, BRIGHTNESS_RANGE[0], BRIGHTNESS_RANGE[1])

    ph = tf.maximum(1, h // 3)
    pw = tf.maximum(1, w // 3)
    y0 = tf.cast(_uniform(seed, 7, 0.0, 1.0) * tf.cast(h - ph + 1, tf.float32), tf.int32)
    x0 = tf.cast(_uniform(seed, 8, 0.0, 1.0) * tf.cast(w - pw + 1, tf.float32), tf.int32)
    rows = tf.range(h)[:, tf.newaxis]
    cols = tf.range(w)[tf.newaxis, :]
    inside = (rows >= y0) & (rows < y0 + ph) & (cols >= x0) & (cols < x0 + pw)
    apply_patch = _uniform(seed, 9, 0.0, 1.0) < PATCH_PROBABILITY
    colour = _uniform(seed, 10, 0.0, 255.0, shape=(3,))
    image = tf.where((inside & apply_patch)[..., tf.newaxis], colour, image)

    return tf.clip_by_value(image, 0.0, 255.0)
