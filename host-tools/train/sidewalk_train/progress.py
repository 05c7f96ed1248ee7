"""Progress and errors for the TypeScript driver: one JSON object per stdout line ({"event": ...})."""
import json
import sys


class TrainError(Exception):
    """A failure the user can act on; `code` is stable (TRAIN_*), the message names the file or value at fault."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, **fields}, default=str) + "\n")
    sys.stdout.flush()


def info(message, **fields):
    emit("info", message=message, **fields)
