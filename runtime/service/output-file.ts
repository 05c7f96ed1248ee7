/**
 * A command's output file (`replay --out`): checked and opened before the work starts, written beside
 * its final name, and renamed into place only when the command succeeds, so a failed run leaves
 * nothing where its output would have been. Errors: OUTPUT_IS_FOLDER, OUTPUT_UNWRITABLE.
 */
import type { WriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import { SidewalkError } from '../../lib/errors.js';
import { makeDir } from '../../lib/make-dir.js';

export class OutputFile {
  readonly #path: string;
  readonly #partial: string;
  readonly #option: string;
  readonly #stream: WriteStream;
  #error: Error | null = null;
  #settled = false;

  private constructor(path: string, partial: string, option: string, stream: WriteStream) {
    this.#path = path;
    this.#partial = partial;
    this.#option = option;
    this.#stream = stream;
    stream.on('error', (err) => (this.#error ??= err));
  }

  /** `option` names the flag in errors (e.g. "--out"). */
  static async create(path: string, option: string): Promise<OutputFile> {
    const unwritable = (err: unknown): SidewalkError => new SidewalkError('OUTPUT_UNWRITABLE', `${option} ${path}: cannot write there (${(err as Error).message})`, { cause: err, details: { path } });
    const existing = await stat(path).catch(() => null);
    if (existing?.isDirectory()) throw new SidewalkError('OUTPUT_IS_FOLDER', `${option} ${path} is a folder; give a file path`, { details: { path } });
    const partial = join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
    try {
      await makeDir(dirname(path));
      const handle = await open(partial, 'wx');
      return new OutputFile(path, partial, option, handle.createWriteStream());
    } catch (err) {
      throw unwritable(err);
    }
  }

  write(text: string): void {
    if (!this.#error) this.#stream.write(text);
  }

  /** Flushes and moves the file to its name; OUTPUT_UNWRITABLE when any write failed. */
  async commit(): Promise<void> {
    if (!this.#error) {
      this.#stream.end();
      await once(this.#stream, 'close').catch(() => {});
    }
    if (this.#error) throw new SidewalkError('OUTPUT_UNWRITABLE', `${this.#option} ${this.#path}: writing failed (${this.#error.message})`, { cause: this.#error });
    await rename(this.#partial, this.#path);
    this.#settled = true;
  }

  /** Removes the partial file unless commit() succeeded. */
  async discard(): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    this.#stream.destroy();
    await unlink(this.#partial).catch(() => {});
  }
}
