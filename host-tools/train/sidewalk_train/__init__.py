"""Sidewalk Guard trainer: Keras transfer learning -> TFLite model bundles (see host-tools/train/cli.ts)."""

__version__ = "0.1.0"

# Output order of every model; the device reads the same list from the manifest.
LABELS = ("bike_lane", "crosswalk", "side", "street")
GROUPS = {"sidewalk": ["side", "crosswalk"], "road": ["street", "bike_lane"]}
