/**
 * Power cuts during model and app switches (no reboot involved): at every operation and at random
 * byte offsets while bundle files are written, with and without losing unsynced data. The runtime's
 * `current` bundle must always be complete, the store must end on the old or the new version with
 * matching provides, and no user file may change.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CrashFs, rng } from './crash-fs.js';
import { runWithCut, type CutRun } from './power-cut-harness.js';
import { SimDevice, fakeArtifact, modelArtifact, modelProblem, type FakeArtifact } from './sim-device.js';

const ARTIFACT = '/data/ota/downloads/next.mender';

function appTarball(version: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'sidewalk-app-'));
  try {
    mkdirSync(join(dir, 'dist', 'runtime'), { recursive: true });
    writeFileSync(join(dir, 'main.js'), `console.log("app ${version}")\n`);
    writeFileSync(join(dir, 'dist', 'runtime', 'service.js'), Buffer.alloc(30 * 1024, version));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sidewalk-guard', version }));
    return execFileSync('tar', ['-cz', '-C', dir, '.'], { maxBuffer: 1 << 24 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function appArtifact(version: string): FakeArtifact {
  return fakeArtifact('sidewalk-app', `app-${version}`, [{ name: 'sidewalk-app.tar.gz', data: appTarball(version) }], { 'rootfs-image.sidewalk-app.version': version }, [
    'rootfs-image.sidewalk-app.*',
  ]);
}

const link = (root: string, name: string) => {
  try {
    return basename(readlinkSync(join(root, name)));
  } catch {
    return null;
  }
};

function checkStore(dev: SimDevice, kind: 'model' | 'app', newVersion: string, run: CutRun, userData: Map<string, string>, label: string): void {
  const ctx = `${label} (cut at ${run.cutOp ?? 'never'}): ${run.error ?? ''}`;
  const root = join(dev.stateDir, 'stores', kind);
  const current = link(root, 'current');
  if (run.result === 'success') {
    assert.equal(current, newVersion, ctx);
    assert.equal(link(root, 'previous'), '1.0.0', ctx);
    assert.equal(dev.provides()[`rootfs-image.sidewalk-${kind}.version`], newVersion, ctx);
  } else {
    assert.equal(current, '1.0.0', ctx);
    assert.equal(dev.provides()[`rootfs-image.sidewalk-${kind}.version`], undefined, ctx);
  }
  const dir = join(root, 'versions', current!);
  if (kind === 'model') assert.equal(modelProblem(dir), null, `${ctx}: current model bundle is complete`);
  else assert.match(readFileSync(join(dir, 'main.js'), 'utf8'), new RegExp(`app ${current}`), ctx);
  const kept = new Set([current, link(root, 'previous')]);
  assert.deepEqual(readdirSync(join(root, 'versions')).filter((v) => !kept.has(v)), [], `${ctx}: staging and stale versions removed`);
  assert.deepEqual(dev.userData(), userData, `${ctx}: user data intact`);
  assert.equal(run.bootedSlot, 'A', ctx);
}

for (const kind of ['model', 'app'] as const) {
  describe(`power cuts during a ${kind} switch`, () => {
    let template: string;
    let userData: Map<string, string>;
    let artifact: FakeArtifact;
    let totalOps = 0;
    let writeOps: number[] = [];

    before(async () => {
      template = SimDevice.template();
      artifact = kind === 'model' ? modelArtifact('2.0.0') : appArtifact('2.0.0');
      const dev = SimDevice.fromTemplate(template);
      userData = dev.userData();
      dev.artifacts.set(ARTIFACT, artifact);
      dev.boot();
      const counting = new CrashFs({ cutAt: null });
      const out = await (await dev.updater(counting).init()).install(ARTIFACT);
      dev.remove();
      assert.deepEqual(out, { kind: 'idle', result: 'success' });
      totalOps = counting.ops;
      writeOps = counting.log.flatMap((e, i) => (e.kind === 'write' && e.path.includes('staging') ? [i + 1] : []));
    });
    after(() => rmSync(template, { recursive: true, force: true }));

    async function run(cutAt: number | null, seed: number, loseUnsynced: boolean, processCrash = false): Promise<CutRun> {
      const dev = SimDevice.fromTemplate(template);
      try {
        dev.artifacts.set(ARTIFACT, artifact);
        const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt, seed, loseUnsynced, processCrash });
        checkStore(dev, kind, '2.0.0', r, userData, `cut ${cutAt} seed ${seed}${loseUnsynced ? ' lose-unsynced' : ''}`);
        if (r.result === 'success') assert.ok(dev.notified.includes(kind), 'runtime was told to load the new bundle');
        return r;
      } finally {
        dev.remove();
      }
    }

    test('without a cut the new version becomes current and the old one previous', async () => {
      assert.ok(writeOps.length >= 3, `bundle writes: ${writeOps.length}`);
      const r = await run(null, 1, false);
      assert.equal(r.result, 'success', r.error ?? '');
    });

    test('a cut at every operation leaves a complete current bundle and a consistent store', async (t) => {
      const results = { success: 0, failure: 0, none: 0 };
      for (let cutAt = 1; cutAt <= totalOps; cutAt++) {
        for (const lose of [false, true]) results[(await run(cutAt, cutAt, lose)).result]++;
      }
      assert.ok(results.failure > 0 && results.success > 0, JSON.stringify(results));
      t.diagnostic(`cut points: ${totalOps * 2} (${totalOps} operations x keep/lose unsynced data) -> ${JSON.stringify(results)}`);
    });

    test('the updater process killed at every operation resumes or rolls back', async (t) => {
      const results = { success: 0, failure: 0, none: 0 };
      for (let cutAt = 1; cutAt <= totalOps; cutAt++) results[(await run(cutAt, cutAt, false, true)).result]++;
      assert.ok(results.success > 0 && results.failure > 0, JSON.stringify(results));
      t.diagnostic(`kill points: ${totalOps} -> ${JSON.stringify(results)}`);
    });

    test('cuts at random byte offsets while bundle files are written', async () => {
      const random = rng(kind === 'model' ? 7 : 8);
      for (let i = 0; i < 150; i++) {
        const r = await run(writeOps[Math.floor(random() * writeOps.length)]!, 500 + i, i % 2 === 0);
        assert.equal(r.result, 'failure', 'a cut while staging rolls back');
      }
    });
  });
}
