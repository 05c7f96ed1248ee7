"""The legacy Pi's behaviour, in Python, for the tests (docs/legacy.md): its file formats, its
sidewalk decision and its speed rule, written with the format strings and rules that scooter.py
states. One JSON command on stdin, one JSON answer on stdout.

  {"cmd": "write", "dir": D, "raw": [...], "out": [...], "path": "live"|"post-process", "frame": "zero"|"space"}
  {"cmd": "decide", "imclass": [[bike_lane, crosswalk, side, street], ...]}
  {"cmd": "speed", "steps": [{"speed": krpm, "swFlag": 0|1}, ...]}
  {"cmd": "ride", "dir": D, "imclass": [[...], ...], "speed": [krpm, ...]}   (live path: decide, write both files)
"""
import json
import os
import sys

# The format strings of the legacy run files.
RAWFILE_FORMAT = '%5s,%9.2f,' + 2 * '%14.9f,' + '%9.2f,' + 13 * '%5.2f,' + '%d\n'
OUTFILE_FORMAT = '%5s,%d,' + 6 * '%3.2f,' + '%d,' + 3 * '%14.9f,' + 3 * '%5.2f,' + '\n'

# Class order of the legacy model's output.
BIKE_LANE, CROSSWALK, SIDE, STREET = 0, 1, 2, 3

FILT_LEN = 6
SW_THRESH = 0.5
STREET_THRESH = 0.5

MAX_SIDEWALK_SPEED = 0.160  # krpm
MAX_SPEED = 0.600  # krpm
DELTA_SPEED = (MAX_SPEED - MAX_SIDEWALK_SPEED) / (10 * 3)  # per sample: 10 s at 3 samples/s


class Decision:
    """The legacy rule: windows start full of zeros, a group's score is the max of its classes."""

    def __init__(self):
        self.sw_preds = [0] * FILT_LEN
        self.street_preds = [0] * FILT_LEN

    def step(self, imclass):
        self.sw_preds.pop(0)
        self.street_preds.pop(0)
        self.sw_preds.append(max(imclass[SIDE], imclass[CROSSWALK]))
        self.street_preds.append(max(imclass[STREET], imclass[BIKE_LANE]))
        sw_avg = sum(self.sw_preds[-FILT_LEN:]) / FILT_LEN
        street_avg = sum(self.street_preds[-FILT_LEN:]) / FILT_LEN
        sw_flag = 1 if (sw_avg > SW_THRESH and street_avg < STREET_THRESH) else 0
        return sw_flag, sw_avg, street_avg


def speed_limit(speed, sw_flag):
    if sw_flag:
        return max(speed - DELTA_SPEED, MAX_SIDEWALK_SPEED)
    return max(MAX_SIDEWALK_SPEED, min(speed + DELTA_SPEED, MAX_SPEED))


def frame_text(frame, style):
    # The live path writes str(n).zfill(5); '%5s' of a number pads with spaces.
    return str(frame).zfill(5) if style == 'zero' else frame


def raw_line(r, style):
    gps = r.get('gps', [0] * 6)
    imu = r.get('imu', [0] * 9)
    speed_krpm = r['speed'] / 1000  # the column holds speed * 1000
    return RAWFILE_FORMAT % (frame_text(r['frame'], style), r['time'],
                             gps[0], gps[1], gps[2], gps[3], gps[4], gps[5], imu[0], imu[1], imu[2],
                             imu[3], imu[4], imu[5], imu[6], imu[7], imu[8], speed_krpm * 1000, r['joystick'])


def out_line(o, path, style):
    c = o['imclass']
    frame = frame_text(o['frame'], style)
    if path == 'live':
        return OUTFILE_FORMAT % (frame, o['joystick'], c[0], c[1], c[2], c[3], 0, 0, o['swFlag'], 0, 0, 0, 0, 0, 0)
    return OUTFILE_FORMAT % (frame, o['joystick'], 0, c[0], c[1], c[2], 0, 0, o['swFlag'], 0, 0, 0, 0, 0, 0)


def write(cmd):
    os.makedirs(cmd['dir'], exist_ok=True)
    style = cmd.get('frame', 'zero')
    if cmd.get('raw') is not None:
        with open(os.path.join(cmd['dir'], 'raw_data.txt'), 'w') as f:
            for r in cmd['raw']:
                f.write(raw_line(r, 'zero'))
    if cmd.get('out') is not None:
        with open(os.path.join(cmd['dir'], 'out_data.txt'), 'w') as f:
            for o in cmd['out']:
                f.write(out_line(o, cmd.get('path', 'live'), style))
    return {'ok': True}


def decide(cmd):
    d = Decision()
    out = []
    for imclass in cmd['imclass']:
        flag, sw_avg, street_avg = d.step(imclass)
        out.append({'swFlag': flag, 'sw_avg': sw_avg, 'street_avg': street_avg})
    return out


def speed(cmd):
    return [speed_limit(s['speed'], s['swFlag']) for s in cmd['steps']]


def ride(cmd):
    """A live-path run at 3 frames/s: the legacy decision sets swFlag, both files are written."""
    d = Decision()
    raw, out = [], []
    for i, imclass in enumerate(cmd['imclass']):
        flag, _, _ = d.step(imclass)
        krpm = cmd['speed'][i]
        raw.append({'frame': i, 'time': i / 3, 'speed': krpm * 1000, 'joystick': 1})
        out.append({'frame': i, 'joystick': 1, 'imclass': imclass, 'swFlag': flag})
    write({'dir': cmd['dir'], 'raw': raw, 'out': out, 'path': 'live', 'frame': 'zero'})
    return [o['swFlag'] for o in out]


if __name__ == '__main__':
    command = json.load(sys.stdin)
    handlers = {'write': write, 'decide': decide, 'speed': speed, 'ride': ride}
    json.dump(handlers[command['cmd']](command), sys.stdout)
