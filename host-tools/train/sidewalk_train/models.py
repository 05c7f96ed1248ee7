"""Model architectures: MobileNetV2 transfer learning (the legacy recipe) and a tiny CNN for demos and tests."""
import keras

from .progress import TrainError, info

BACKBONE_NAME = "backbone"


def build(arch, input_size, num_classes, alpha=1.0, weights="imagenet", dropout=0.2):
    """Returns the Keras model; its MobileNetV2 part (if any) is the layer named BACKBONE_NAME."""
    if arch == "mobilenetv2":
        return _mobilenetv2(input_size, num_classes, alpha, weights, dropout)
    if arch == "tiny":
        if weights not in ("none", None):
            info("--weights is ignored for --arch tiny (it has no pretrained weights)")
        return _tiny(input_size, num_classes, dropout)
    raise TrainError("TRAIN_BAD_ARCH", f"--arch {arch!r}: expected mobilenetv2 or tiny")


def _mobilenetv2(input_size, num_classes, alpha, weights, dropout):
    if input_size < 32:
        raise TrainError("TRAIN_BAD_INPUT_SIZE", f"--input-size {input_size}: MobileNetV2 needs at least 32")
    if weights not in ("imagenet", "none"):
        raise TrainError("TRAIN_BAD_WEIGHTS", f"--weights {weights!r}: expected imagenet or none")
    try:
        base = keras.applications.MobileNetV2(
            input_shape=(input_size, input_size, 3), alpha=alpha, include_top=False,
            weights="imagenet" if weights == "imagenet" else None, pooling="avg", name=BACKBONE_NAME)
    except ValueError as err:
        raise TrainError("TRAIN_BAD_ARCH_PARAMS", f"MobileNetV2(alpha={alpha}, input {input_size}): {err}")
    except Exception as err:  # the ImageNet download (urllib/HTTP/OS errors surface under different types)
        raise TrainError("TRAIN_WEIGHTS_UNAVAILABLE",
                         f"cannot load the ImageNet weights for MobileNetV2 alpha={alpha} ({err}); "
                         "put them in ~/.keras/models/ or train with --weights none")
    inputs = keras.Input((input_size, input_size, 3), name="image")
    # Pretrained BatchNorm statistics stay frozen during fine-tuning (inference mode), as in the legacy notebooks.
    x = base(inputs, training=False if weights == "imagenet" else None)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="sidewalk_mobilenetv2")


def _tiny(input_size, num_classes, dropout):
    if input_size < 16:
        raise TrainError("TRAIN_BAD_INPUT_SIZE", f"--input-size {input_size}: the tiny CNN needs at least 16")
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = inputs
    for i, (filters, stride) in enumerate(((16, 2), (32, 2), (64, 2), (64, 1))):
        if i == 0:
            x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        else:
            x = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization(momentum=0.9)(x)
            x = keras.layers.ReLU()(x)
            x = keras.layers.Conv2D(filters, 1, use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)  # few steps per epoch on small sets
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="sidewalk_tiny")


def backbone(model):
    try:
        return model.get_layer(BACKBONE_NAME)
    except ValueError:
        return None


def set_stage(model, stage, weights, fine_tune_from):
    """Stage 1 trains the head over a frozen pretrained backbone; stage 2 unfreezes from layer `fine_tune_from`.
    Without pretrained weights there is nothing to protect, so stage 1 trains everything."""
    base = backbone(model)
    if base is None:
        return
    if stage == 1:
        base.trainable = weights != "imagenet"
        return
    base.trainable = True
    if fine_tune_from > len(base.layers):
        raise TrainError("TRAIN_BAD_FINE_TUNE_FROM",
                         f"--fine-tune-from {fine_tune_from}: the backbone has only {len(base.layers)} layers")
    for layer in base.layers[:fine_tune_from]:
        layer.trainable = False
