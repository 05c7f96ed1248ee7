/**
 * Writes RGB24 frames as numbered PNG files with one ffmpeg process per folder (a spawn per image
 * would dominate the time of a dataset of thousands of images).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';

export interface PngSequenceOptions {
  width: number;
  height: number;
  /** printf-style file name; default "%05d.png", numbered from 0. */
  pattern?: string;
  ffmpeg?: string;
}

export async function writePngSequence(dir: string, frames: Iterable<Uint8Array>, options: PngSequenceOptions): Promise<number> {
  await mkdir(dir, { recursive: true });
  const { width, height } = options;
  const ffmpeg = options.ffmpeg ?? 'ffmpeg';
  const child = spawn(
    ffmpeg,
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${width}x${height}`,
      '-i',
      'pipe:0',
      '-start_number',
      '0',
      '-f',
      'image2',
      '-c:v',
      'png',
      join(dir, options.pattern ?? '%05d.png'),
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolvePromise, reject) => {
    child.on('error', (err) => reject(new SidewalkError('TRAIN_FFMPEG_MISSING', `cannot run ${ffmpeg}: ${err.message} (Debian: apt-get install ffmpeg)`)));
    child.on('close', (code) => resolvePromise(code));
  });
  // A dead ffmpeg surfaces through `exited`; the EPIPE on its stdin would otherwise crash the process.
  child.stdin.on('error', () => undefined);
  let count = 0;
  try {
    for (const frame of frames) {
      if (frame.length !== width * height * 3) {
        throw new SidewalkError('TRAIN_FRAME_SIZE', `frame ${count} for ${dir} has ${frame.length} bytes, expected ${width * height * 3} (${width}x${height} rgb24)`);
      }
      if (!child.stdin.write(frame)) await Promise.race([once(child.stdin, 'drain'), exited]);
      count += 1;
    }
  } catch (err) {
    child.stdin.end();
    await exited.catch(() => undefined);
    throw err;
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new SidewalkError('TRAIN_FFMPEG_FAILED', `ffmpeg writing PNGs into ${dir} exited with ${code}: ${stderr.trim().slice(-400)}`);
  return count;
}
