/**
 * Start-up checks for the rpicam source: finding the binary, and measuring the ISP's real row stride
 * from a short capture (the Pi 5's PiSP alignment differs from the Pi 4's 64 bytes).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';

const PROBE_FRAMES = 3;
const PROBE_TIMEOUT_MS = 15000;

/** Absolute path of an executable given by name (searched on PATH) or path, or null. */
export async function findExecutable(nameOrPath: string): Promise<string | null> {
  const candidates = nameOrPath.includes('/')
    ? [isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath)]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, nameOrPath));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Runs the camera for a few frames (`--frames N` overrides `-t 0`) and derives the Y stride S from
 * the byte count: an I420 frame is S*H + S*ceil(H/2) bytes.
 */
export async function measureStride(binary: string, args: string[], width: number, height: number, env?: NodeJS.ProcessEnv): Promise<number> {
  const bytes = await new Promise<number>((resolvePromise, reject) => {
    const child = spawn(binary, [...args, '--frames', String(PROBE_FRAMES)], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let total = 0;
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => (total += chunk.length));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new SidewalkError('CAMERA_PROBE_FAILED', `${binary} could not be started to measure the stride: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(total);
      else
        reject(
          new SidewalkError(
            'CAMERA_PROBE_FAILED',
            `${binary} --frames ${PROBE_FRAMES} ${signal ? `was killed by ${signal}` : `exited with code ${code}`} while measuring the stride: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
    });
  });
  const perFrame = bytes / PROBE_FRAMES;
  const stride = perFrame / (height + Math.ceil(height / 2));
  if (!Number.isInteger(perFrame) || !Number.isInteger(stride) || stride < width || stride % 2 !== 0) {
    throw new SidewalkError(
      'CAMERA_PROBE_FAILED',
      `${binary} wrote ${bytes} bytes for ${PROBE_FRAMES} frames of ${width}x${height}: not a whole number of I420 frames with an even stride >= ${width}; set camera.rpicam.stride`,
    );
  }
  return stride;
}
