/**
 * Power cuts during model and app switches (no reboot involved) at random byte offsets while bundle
 * files are written, with and without losing unsynced data (a cut and a kill at every operation:
 * power-cut-table.test.ts). The runtime's
 * `current` bundle must always be complete, the store must end on the old or the new version with
 * matching provides, and no user file may change. The first install of each kind (an empty store) must
 * leave either the new version or no current at all.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CrashFs, rng } from './crash-fs.js';
import { runWithCut, type CutRun } from './power-cut-harness.js';
import { SimDevice, appArtifact, modelArtifact, modelProblem, type FakeArtifact } from './sim-device.js';

const ARTIFACT = '/data/ota/downloads/next.mender';

const link = (root: string, name: string) => {
  try {
    return basename(readlinkSync(join(root, name)));
  } catch {
    return null;
  }
};

/** `before`: the version current before the install (null: the first install of this kind). */
function checkStore(dev: SimDevice, kind: 'model' | 'app', before: string | null, newVersion: string, run: CutRun, userData: Map<string, string>, label: string): void {
  const ctx = `${label} (cut at ${run.cutOp ?? 'never'}): ${run.error ?? ''}`;
  const root = join(dev.stateDir, 'stores', kind);
  const current = link(root, 'current');
  if (run.result === 'success') {
    assert.equal(current, newVersion, ctx);
    assert.equal(link(root, 'previous'), before, ctx);
    assert.equal(dev.provides()[`rootfs-image.sidewalk-${kind}.version`], newVersion, ctx);
  } else {
    assert.equal(current, before, ctx);
    assert.equal(link(root, 'previous'), null, ctx);
    assert.equal(dev.provides()[`rootfs-image.sidewalk-${kind}.version`], undefined, ctx);
  }
  const versions = existsSync(join(root, 'versions')) ? readdirSync(join(root, 'versions')) : [];
  const kept = new Set([current, link(root, 'previous')]);
  assert.deepEqual(
    versions.filter((v) => !kept.has(v)),
    [],
    `${ctx}: staging and stale versions removed`,
  );
  assert.deepEqual(dev.userData(), userData, `${ctx}: user data intact`);
  assert.equal(run.bootedSlot, 'A', ctx);
  if (current === null) return;
  const dir = join(root, 'versions', current!);
  if (kind === 'model') assert.equal(modelProblem(dir), null, `${ctx}: current model bundle is complete`);
  else assert.match(readFileSync(join(dir, 'main.js'), 'utf8'), new RegExp(`app ${current}`), ctx);
}

for (const [kind, first] of [
  ['model', false],
  ['app', false],
  ['model', true],
  ['app', true],
] as const) {
  const oldVersion = first ? null : '1.0.0';
  describe(`power cuts during ${first ? `the first ${kind} install` : `a ${kind} switch`}`, () => {
    let template: string;
    let userData: Map<string, string>;
    let artifact: FakeArtifact;
    let writeOps: number[] = [];

    before(async () => {
      template = SimDevice.template({ emptyStores: first });
      artifact = kind === 'model' ? modelArtifact('2.0.0') : appArtifact('2.0.0');
      const dev = SimDevice.fromTemplate(template);
      userData = dev.userData();
      dev.artifacts.set(ARTIFACT, artifact);
      dev.boot();
      const counting = new CrashFs({ cutAt: null });
      const out = await (await dev.updater(counting).init()).install(ARTIFACT);
      dev.remove();
      assert.deepEqual(out, { kind: 'idle', result: 'success' });
      writeOps = counting.log.flatMap((e, i) => (e.kind === 'write' && e.path.includes('staging') ? [i + 1] : []));
    });
    after(() => rmSync(template, { recursive: true, force: true }));

    async function run(cutAt: number | null, seed: number, loseUnsynced: boolean, processCrash = false): Promise<CutRun> {
      const dev = SimDevice.fromTemplate(template);
      try {
        dev.artifacts.set(ARTIFACT, artifact);
        const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt, seed, loseUnsynced, processCrash });
        checkStore(dev, kind, oldVersion, '2.0.0', r, userData, `cut ${cutAt} seed ${seed}${loseUnsynced ? ' lose-unsynced' : ''}`);
        if (r.result === 'success') assert.ok(dev.notified.includes(kind), 'runtime was told to load the new bundle');
        return r;
      } finally {
        dev.remove();
      }
    }

    test(`without a cut the new version becomes current and ${first ? 'there is no previous' : 'the old one previous'}`, async () => {
      assert.ok(writeOps.length >= 3, `bundle writes: ${writeOps.length}`);
      const r = await run(null, 1, false);
      assert.equal(r.result, 'success', r.error ?? '');
    });

    // The first install stages the same bytes: its random cuts would repeat these.
    if (!first)
      test('cuts at random byte offsets while bundle files are written', async () => {
        const random = rng(kind === 'model' ? 7 : 8);
        for (let i = 0; i < 50; i++) {
          const r = await run(writeOps[Math.floor(random() * writeOps.length)]!, 500 + i, i % 2 === 0);
          assert.equal(r.result, 'failure', 'a cut while staging rolls back');
        }
      });
  });
}
