"""The ONE definition of how a picture becomes model input. Training, the representative dataset,
the trainer's own evaluation and the manifest (which the device follows) all use this object, so the
legacy skew (trained RGB [0,1], served BGR [-1,1]) cannot come back.

Order, identical on the device: crop (fractions of the frame) -> bilinear resize -> colour order ->
real = pixel(0..255) * scale + offset.
"""
from dataclasses import dataclass

import tensorflow as tf

from .progress import TrainError

WHOLE_FRAME = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class Preprocess:
    width: int
    height: int
    color_order: str = "rgb"
    # MobileNetV2's own range [-1, 1]; the tiny CNN uses the same so both archs share one device path.
    scale: float = 1.0 / 127.5
    offset: float = -1.0
    crop: tuple = WHOLE_FRAME  # x, y, width, height as fractions of the frame
    # The crop of the CAMERA frame the manifest states, when the training images were already cropped
    # to it (a `sidewalk data export`); None = `crop` itself (images are whole camera frames).
    frame_crop: tuple = None

    def load(self, path):
        """File -> cropped, resized RGB uint8 [height, width, 3] (what the camera path yields before normalising)."""
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return self.crop_resize(image)

    def crop_resize(self, image):
        # Whole-pixel crop rounded exactly as runtime/inference/preprocess.ts does, then the antialiased
        # (triangle-filter) bilinear resize the device implements.
        shape = tf.shape(image)
        h = tf.cast(shape[0], tf.float32)
        w = tf.cast(shape[1], tf.float32)
        x, y, cw, ch = self.crop

        def js_round(v):  # Math.round (half up); tf.round would round half to even
            return tf.cast(tf.floor(v + 0.5), tf.int32)

        x0 = tf.minimum(shape[1] - 1, js_round(x * w))
        y0 = tf.minimum(shape[0] - 1, js_round(y * h))
        x1 = tf.maximum(x0 + 1, tf.minimum(shape[1], js_round((x + cw) * w)))
        y1 = tf.maximum(y0 + 1, tf.minimum(shape[0], js_round((y + ch) * h)))
        image = image[y0:y1, x0:x1, :]
        image = tf.image.resize(tf.cast(image, tf.float32), (self.height, self.width), method="bilinear", antialias=True)
        # Cached as uint8 (a quarter of the memory); at most half a grey level from the device's float path.
        return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)

    def normalize(self, image):
        """RGB 0..255 (any float/int dtype) -> float32 model input."""
        image = tf.cast(image, tf.float32)
        if self.color_order == "bgr":
            image = image[..., ::-1]
        return image * self.scale + self.offset

    def manifest_input(self):
        """The manifest's `input` fields that describe this preprocessing (dtype/quantization added per variant)."""
        x, y, w, h = self.frame_crop if self.frame_crop is not None else self.crop
        return {
            "width": self.width,
            "height": self.height,
            "color_order": self.color_order,
            "normalization": {"scale": self.scale, "offset": self.offset},
            "crop": {"x": x, "y": y, "width": w, "height": h},
            "resize": "bilinear",
        }


def parse_crop(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or any(v < 0 or v > 1 for v in values) or values[0] + values[2] > 1 or values[1] + values[3] > 1 \
            or values[2] <= 0 or values[3] <= 0:
        raise TrainError("TRAIN_BAD_CROP", f"--crop {text!r}: expected x,y,width,height as fractions 0..1 inside the frame")
    return values


def for_training(input_size, color_order="rgb", crop=WHOLE_FRAME, exported_crop=None):
    """A crop is applied once: by the export or here. `exported_crop`: the crop a dataset export
    already applied to its images (dataset.json's preprocessing.crop; None when it applied none).
    Those images are not cropped again, and the manifest states that crop, so the device crops its
    camera frames exactly as the training images were cropped. Otherwise `crop` is applied here and
    the manifest states it. Both at once is refused (TRAIN_CROP_TWICE)."""
    if color_order not in ("rgb", "bgr"):
        raise TrainError("TRAIN_BAD_COLOR_ORDER", f"--color-order {color_order!r}: expected rgb or bgr")
    if exported_crop is not None:
        if tuple(crop) != WHOLE_FRAME:
            raise TrainError("TRAIN_CROP_TWICE", f"--crop {','.join(map(str, crop))}: the dataset export is already cropped "
                             f"({','.join(map(str, exported_crop))}, dataset.json preprocessing.crop); do not crop again")
        return Preprocess(width=input_size, height=input_size, color_order=color_order, frame_crop=tuple(exported_crop))
    return Preprocess(width=input_size, height=input_size, color_order=color_order, crop=tuple(crop))
