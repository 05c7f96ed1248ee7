/** ffmpeg for test fixtures: one raw frame file converted to another pixel format through a filter. */
import { runProcess } from '../../lib/run-process.js';

export interface RawFrameFile {
  path: string;
  pixFmt: 'rgb24' | 'yuvj420p';
  width: number;
  height: number;
}

/** Runs ffmpeg to its end; a failure is a coded error with its stderr. */
export async function ffmpeg(args: string[]): Promise<void> {
  await runProcess('ffmpeg', ['-v', 'error', '-y', ...args], { check: true, installPackage: 'ffmpeg' });
}

/** Reads `input` as raw frames, applies `filter` and writes raw `outPixFmt` frames to `output`. */
export async function convertRawFrame(input: RawFrameFile, filter: string, outPixFmt: RawFrameFile['pixFmt'], output: string): Promise<void> {
  await ffmpeg(['-f', 'rawvideo', '-pix_fmt', input.pixFmt, '-s', `${input.width}x${input.height}`, '-i', input.path, '-vf', filter, '-f', 'rawvideo', '-pix_fmt', outPixFmt, output]);
}
