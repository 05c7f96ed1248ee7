import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeAtomicWriteFs, writeFileAtomic, type AtomicWriteFs } from '../../lib/atomic-write.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sidewalk-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Records the filesystem calls in order, delegating to the real ones. */
function recordingFs(calls: string[], failAt?: string): AtomicWriteFs {
  const n = nodeAtomicWriteFs;
  const step = (name: string): void => {
    calls.push(name);
    if (name === failAt) throw Object.assign(new Error(`injected failure at ${name}`), { code: 'EIO' });
  };
  return {
    async open(path, flags) {
      step('open');
      const h = await n.open(path, flags);
      return {
        write: async (data, pos) => {
          step('write');
          await h.write(data, pos);
        },
        sync: async () => {
          step('sync');
          await h.sync();
        },
        close: async () => {
          calls.push('close');
          await h.close();
        },
      };
    },
    rename: async (a, b) => {
      step('rename');
      await n.rename(a, b);
    },
    chmod: async (p, m) => {
      step('chmod');
      await n.chmod(p, m);
    },
    unlink: async (p) => {
      calls.push('unlink');
      await n.unlink(p);
    },
    syncDir: async (p) => {
      step('syncDir');
      await n.syncDir(p);
    },
  };
}

test('writeFileAtomic replaces the file: temp written and fsynced, renamed, then the folder fsynced', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'state.json');
  writeFileSync(path, 'old');
  const calls: string[] = [];
  await writeFileAtomic(path, '{"new":true}\n', { fs: recordingFs(calls) });
  assert.equal(readFileSync(path, 'utf8'), '{"new":true}\n');
  assert.deepEqual(calls, ['open', 'write', 'sync', 'close', 'rename', 'syncDir']);
  assert.deepEqual(readdirSync(dir), ['state.json']);
});

test('writeFileAtomic sets the mode before the rename, so the file never appears writable', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'blob');
  const calls: string[] = [];
  await writeFileAtomic(path, new Uint8Array([1, 2, 3]), { fs: recordingFs(calls), mode: 0o444 });
  assert.deepEqual(calls, ['open', 'write', 'sync', 'close', 'chmod', 'rename', 'syncDir']);
  assert.equal(statSync(path).mode & 0o777, 0o444);
  assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
});

test('a failed write keeps the old content and removes its unique temp file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'run.json');
  writeFileSync(path, 'old');
  const calls: string[] = [];
  await assert.rejects(writeFileAtomic(path, 'new', { fs: recordingFs(calls, 'rename') }), /injected failure at rename/);
  assert.equal(readFileSync(path, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['run.json']);
  assert.equal(calls.at(-1), 'unlink');
});

test('a fixed temp path is reused, not removed, when a write fails (the OTA single-writer mode)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'journal');
  const tmpPath = join(dir, 'journal.tmp');
  writeFileSync(tmpPath, 'stale leftover of a power cut, longer than the new content');
  await assert.rejects(writeFileAtomic(path, 'x', { fs: recordingFs([], 'rename'), tmpPath }), /injected failure/);
  assert.equal(readFileSync(tmpPath, 'utf8'), 'x', 'the leftover was truncated and rewritten');
  await writeFileAtomic(path, 'y', { tmpPath });
  assert.equal(readFileSync(path, 'utf8'), 'y');
  assert.deepEqual(readdirSync(dir), ['journal']);
});
