/**
 * Content-addressed blob store of the registry: objects/<2 hex>/<sha256>, written through a temp file
 * and a rename and left read-only, so a registered model's bytes cannot change under it. Reads verify
 * the hash again: a tampered or rotten object is refused rather than deployed.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.js';
import { SidewalkError } from '../../lib/errors.js';

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export class BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  pathOf(sha: string): string {
    return join(this.root, sha.slice(0, 2), sha);
  }

  /** Stores `bytes`; returns their sha256. Storing the same content twice is a no-op. */
  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    const dest = this.pathOf(sha);
    if (
      await stat(dest).then(
        () => true,
        () => false,
      )
    )
      return sha;
    await mkdir(join(this.root, sha.slice(0, 2)), { recursive: true });
    await writeFileAtomic(dest, bytes, { mode: 0o444 });
    return sha;
  }

  async putFile(file: string): Promise<{ sha256: string; bytes: number }> {
    const bytes = await readFile(file).catch((err: Error) => {
      throw new SidewalkError('REGISTRY_FILE_UNREADABLE', `${file}: ${err.message}`, { cause: err });
    });
    return { sha256: await this.put(bytes), bytes: bytes.length };
  }

  async get(sha: string): Promise<Buffer> {
    const path = this.pathOf(sha);
    const bytes = await readFile(path).catch((err: Error) => {
      throw new SidewalkError('REGISTRY_OBJECT_MISSING', `${path}: ${err.message}`, { cause: err });
    });
    const actual = sha256Hex(bytes);
    if (actual !== sha) throw new SidewalkError('REGISTRY_OBJECT_CORRUPT', `${path}: content hashes to ${actual}`);
    return bytes;
  }

  /** Writes the object to `file` (mode 0644), verified. */
  async copyOut(sha: string, file: string): Promise<void> {
    const bytes = await this.get(sha);
    await writeFile(file, bytes);
    await chmod(file, 0o644);
  }
}
