"""python -m sidewalk_train --data DIR --out DIR [...]: progress as JSON lines on stdout."""
import argparse
import os
import re
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", category=UserWarning)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="sidewalk_train", description="Train a Sidewalk Guard classifier and export TFLite bundles.")
    p.add_argument("--data", required=True, help="dataset export folder with train/val/test class folders")
    p.add_argument("--out", required=True, help="output folder (float32/ and int8/ bundles, checkpoints/, model.keras)")
    p.add_argument("--arch", default="mobilenetv2", choices=["mobilenetv2", "tiny"])
    p.add_argument("--weights", default="imagenet", choices=["imagenet", "none"])
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--fine-tune-epochs", type=int, default=10)
    p.add_argument("--fine-tune-from", type=int, default=100)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--fine-tune-learning-rate", type=float, default=1e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--color-order", default="rgb")
    p.add_argument("--crop", default="0,0,1,1")
    p.add_argument("--variants", default="float32,int8")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--name", default="sidewalk")
    p.add_argument("--version", default="0.1.0")
    p.add_argument("--location", default="unknown")
    p.add_argument("--demo-only", action="store_true")
    args = p.parse_args(argv)
    if not re.fullmatch(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?", args.version):
        p.error(f"--version {args.version!r}: expected a semantic version such as 1.2.0")
    for name in ("input_size", "epochs", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from .progress import TrainError, emit  # TensorFlow loads only after the arguments are known to be sane
    try:
        from . import train
        train.run(args)
    except TrainError as err:
        emit("error", code=err.code, message=err.message)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
