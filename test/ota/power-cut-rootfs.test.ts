/**
 * Power cuts during an OS (rootfs) update at random byte offsets while the slot and autoboot.txt are
 * written, and a second cut while the device recovers from the first, with and without losing unsynced
 * data (a cut and a kill at every operation: power-cut-table.test.ts).
 * After each cut the simulated firmware boots the device again and the updater resumes: the device must
 * always boot a good slot, end idle with a consistent result, and keep every user file.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runUncut, runWithCut, type CutRun } from './power-cut-harness.js';
import { CrashFs, rng } from './crash-fs.js';
import { SimDevice, osArtifact } from './sim-device.js';

const ARTIFACT = '/data/ota/downloads/os-2.0.mender';
const artifact = osArtifact('2.0');

function check(dev: SimDevice, run: CutRun, userData: Map<string, string>, label: string): void {
  const ctx = `${label} (cut at ${run.cutOp ?? 'never'}): ${run.error ?? ''}`;
  assert.equal(dev.autobootDefaultSlot(), run.bootedSlot, `${ctx}: booted slot is the committed default`);
  if (run.result === 'success') {
    assert.equal(run.bootedVersion, '2.0', ctx);
    assert.equal(run.bootedSlot, 'B', ctx);
    assert.equal(dev.provides().artifact_name, 'os-2.0', ctx);
    assert.equal(dev.provides()['rootfs-image.version'], '2.0', ctx);
  } else {
    assert.equal(run.bootedVersion, '1.0', ctx);
    assert.equal(run.bootedSlot, 'A', ctx);
    assert.equal(dev.provides().artifact_name, 'os-1.0', ctx);
  }
  assert.deepEqual(dev.userData(), userData, `${ctx}: user data intact`);
}

describe('power cuts during a rootfs update', () => {
  let template: string;
  let userData: Map<string, string>;
  let totalOps = 0;
  let writeOps: number[] = [];
  let autobootOps: number[] = [];

  before(async () => {
    template = SimDevice.template();
    const dev = SimDevice.fromTemplate(template);
    userData = dev.userData();
    // Count the operations of a full update to know where to cut.
    dev.artifacts.set(ARTIFACT, artifact);
    const counting = new CrashFs({ cutAt: null });
    const out = await runUncut(dev, ARTIFACT, counting);
    dev.remove();
    assert.deepEqual(out, { kind: 'idle', result: 'success' });
    totalOps = counting.ops;
    writeOps = counting.log.flatMap((e, i) => (e.kind === 'write' && /root|boot/.test(e.path) ? [i + 1] : []));
    autobootOps = counting.log.flatMap((e, i) => (e.path.includes('autoboot') ? [i + 1] : []));
  });
  after(() => rmSync(template, { recursive: true, force: true }));

  async function run(cutAt: number | null, seed: number, loseUnsynced: boolean, recoveryCutAt?: number, processCrash = false): Promise<CutRun> {
    const dev = SimDevice.fromTemplate(template);
    try {
      dev.artifacts.set(ARTIFACT, artifact);
      const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt, seed, loseUnsynced, processCrash, ...(recoveryCutAt ? { recoveryCutAt } : {}) });
      check(dev, r, userData, `cut ${cutAt}${recoveryCutAt ? ` then ${recoveryCutAt} while recovering` : ''} seed ${seed}${loseUnsynced ? ' lose-unsynced' : ''}`);
      return r;
    } finally {
      dev.remove();
    }
  }

  test('without a cut the update commits slot B after one trial boot, and every step is counted', async () => {
    assert.ok(totalOps > 20, `operations: ${totalOps}`);
    assert.ok(writeOps.length >= 20, `slot writes: ${writeOps.length}`);
    assert.ok(autobootOps.length >= 4, `autoboot ops: ${autobootOps.length}`);
    const r = await run(null, 1, false);
    assert.equal(r.result, 'success', r.error ?? '');
    assert.equal(r.bootedSlot, 'B');
    assert.equal(r.boots, 3, 'start, trial boot, power-on after');
  });

  test('cuts at random byte offsets while writing the slots and autoboot.txt', async () => {
    const random = rng(42);
    let n = 0;
    for (let i = 0; i < 80; i++) {
      const pool = i % 4 === 0 ? autobootOps : writeOps;
      const cutAt = pool[Math.floor(random() * pool.length)]!;
      await run(cutAt, 1000 + i, i % 2 === 1);
      n++;
    }
    assert.equal(n, 80);
  });

  test('a second power cut while the device recovers from the first', async (t) => {
    // First cuts spread over the whole update; second cuts at every early step of the recovery.
    const firsts = Array.from({ length: 8 }, (_, i) => 1 + Math.floor((i * (totalOps - 1)) / 7));
    let n = 0;
    for (const first of firsts) {
      for (let second = 1; second <= 8; second++) {
        await run(first, first * 100 + second, second % 2 === 0, second);
        n++;
      }
    }
    t.diagnostic(`cut points: ${n} pairs`);
    assert.equal(n, 64);
  });
});
