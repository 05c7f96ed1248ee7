/**
 * Automatic rollback (no command given): an OS slot that fails its health checks, an OS image that
 * never comes up in its trial boot, a model or app that fails its health window, a payload with a bad
 * checksum; the update lock (power cuts during rollbacks: power-cut-table.test.ts), and manual rollback after a commit.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SidewalkError, isSidewalkError } from '../../lib/errors.js';
import type { Updater } from '../../ota/install/updater.js';
import { CrashFs } from './crash-fs.js';
import { runWithCut } from './power-cut-harness.js';
import { SimDevice, appArtifact, fakeArtifact, modelArtifact, modelBundle, osArtifact, type FakeArtifact } from './sim-device.js';

const ARTIFACT = '/data/ota/downloads/next.mender';

describe('automatic rollback', () => {
  let template: string;
  before(() => {
    template = SimDevice.template();
  });
  after(() => rmSync(template, { recursive: true, force: true }));

  async function withDevice<T>(artifact: FakeArtifact, fn: (dev: SimDevice) => Promise<T>): Promise<T> {
    const dev = SimDevice.fromTemplate(template);
    dev.artifacts.set(ARTIFACT, artifact);
    try {
      return await fn(dev);
    } finally {
      dev.remove();
    }
  }

  const currentModel = (dev: SimDevice) => readlinkSync(join(dev.stateDir, 'stores', 'model', 'current'));

  test('an OS slot that fails its health checks is rolled back to the old slot', async () => {
    await withDevice(osArtifact('2.0'), async (dev) => {
      dev.unhealthy.add('2.0');
      const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
      assert.equal(r.result, 'failure');
      assert.match(r.error ?? '', /health check failed: 2.0 is unhealthy/);
      assert.equal(r.bootedSlot, 'A');
      assert.equal(r.bootedVersion, '1.0');
      assert.equal(dev.autobootDefaultSlot(), 'A');
      assert.equal(r.boots, 4, 'start, trial of B, reboot back to A, power-on');
      assert.equal(dev.provides().artifact_name, 'os-1.0');
    });
  });

  test('an OS image whose kernel panics in its trial boot falls back by itself and is rolled back', async () => {
    await withDevice(osArtifact('2.0', { panics: true }), async (dev) => {
      const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
      assert.equal(r.result, 'failure');
      assert.match(r.error ?? '', /trial boot of slot B did not come up \(booted slot A\)/);
      assert.equal(r.bootedVersion, '1.0');
      assert.equal(dev.autobootDefaultSlot(), 'A');
    });
  });

  test('a model that fails its health window is rolled back to the previous model', async () => {
    await withDevice(modelArtifact('2.0.0'), async (dev) => {
      dev.unhealthy.add('model-2.0.0');
      const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
      assert.equal(r.result, 'failure');
      assert.equal(currentModel(dev), join('versions', '1.0.0'));
      assert.deepEqual(dev.notified, ['model', 'model'], 'runtime told to load 2.0.0, then 1.0.0 again');
      assert.equal(dev.provides()['rootfs-image.sidewalk-model.version'], undefined);
    });
  });

  test('a payload with a bad checksum never becomes active', async () => {
    for (const artifact of [osArtifact('2.0'), modelArtifact('2.0.0')]) {
      await withDevice(artifact, async (dev) => {
        const file = artifact.files[artifact.files.length - 1]!;
        file.data = Buffer.from(file.data);
        file.data[100]! ^= 1; // content no longer matches the sha256 in info.files
        const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
        assert.equal(r.result, 'failure');
        assert.match(r.error ?? '', /ARTIFACT_PAYLOAD_CHECKSUM/);
        assert.equal(r.bootedSlot, 'A');
        assert.equal(currentModel(dev), join('versions', '1.0.0'));
      });
    }
  });

  test('a model whose manifest does not match its files is refused before the switch', async () => {
    const files = modelBundle('2.0.0');
    files[0] = { name: 'model.tflite', data: Buffer.alloc(100, 7) };
    await withDevice(fakeArtifact('sidewalk-model', 'model-2.0.0', files), async (dev) => {
      const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
      assert.equal(r.result, 'failure');
      assert.match(r.error ?? '', /OTA_MODEL_INVALID: manifest.json: files.model.tflite.sha256/);
      assert.deepEqual(dev.notified, []);
    });
  });

  test('nothing is installed or rebooted while the scooter moves', async () => {
    await withDevice(osArtifact('2.0'), async (dev) => {
      dev.boot();
      let polls = 0;
      const slotB = dev.firmware.layout.slots.B.rootDevice;
      const u = await dev
        .updater(new CrashFs({ cutAt: null }), {
          isMoving: async () => {
            polls++;
            if (polls <= 4) assert.equal(dev.firmware.slotImage('B', 'root'), null, 'slot B untouched while moving');
            assert.equal(dev.firmware.rebootRequested, false);
            return polls <= 3;
          },
        })
        .init();
      const out = await u.install(ARTIFACT);
      assert.deepEqual(out, { kind: 'reboot' });
      assert.ok(polls >= 4, `isMoving asked ${polls} times`);
      assert.ok(readFileSync(slotB).length > 0);
      assert.equal(dev.firmware.slotImage('B', 'root')?.version, '2.0');
    });
  });

  test('the update gives up when the scooter keeps moving past the lock timeout', async () => {
    await withDevice(modelArtifact('2.0.0'), async (dev) => {
      dev.moving = true;
      dev.boot();
      let t = 0;
      const u = await dev.updater(new CrashFs({ cutAt: null }), { lockTimeoutMs: 1000, now: () => (t += 100) }).init();
      const out = await u.install(ARTIFACT);
      assert.equal(out.kind, 'idle');
      assert.match(out.kind === 'idle' ? (out.error ?? '') : '', /OTA_SCOOTER_MOVING/);
      assert.equal(currentModel(dev), join('versions', '1.0.0'));
      assert.deepEqual(dev.notified, []);
    });
  });

  test('a committed model and a committed OS can be rolled back by command', async () => {
    await withDevice(modelArtifact('2.0.0'), async (dev) => {
      const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
      assert.equal(r.result, 'success');
      assert.equal(currentModel(dev), join('versions', '2.0.0'));
      const back = await runWithCut(dev, (u) => u.rollbackNow('model'), { cutAt: null });
      assert.equal(back.result, 'success');
      assert.equal(currentModel(dev), join('versions', '1.0.0'));
    });
    await withDevice(osArtifact('2.0'), async (dev) => {
      const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
      assert.equal(r.bootedSlot, 'B');
      const back = await runWithCut(dev, (u) => u.rollbackNow('rootfs'), { cutAt: null });
      assert.equal(back.result, 'success');
      assert.equal(back.bootedSlot, 'A');
      assert.equal(back.bootedVersion, '1.0');
      assert.equal(dev.autobootDefaultSlot(), 'A');
      assert.equal(dev.provides().artifact_name, 'os-1.0');
    });
  });

  describe('the first install of each kind', () => {
    let empty: string;
    before(() => {
      empty = SimDevice.template({ emptyStores: true });
    });
    after(() => rmSync(empty, { recursive: true, force: true }));

    async function withEmptyDevice(artifact: FakeArtifact, fn: (dev: SimDevice) => Promise<void>): Promise<void> {
      const dev = SimDevice.fromTemplate(empty);
      dev.artifacts.set(ARTIFACT, artifact);
      try {
        await fn(dev);
      } finally {
        dev.remove();
      }
    }
    const links = (dev: SimDevice, kind: string) =>
      ['current', 'previous'].map((l) => (existsSync(join(dev.stateDir, 'stores', kind, l)) ? readlinkSync(join(dev.stateDir, 'stores', kind, l)) : null));
    const versions = (dev: SimDevice, kind: string) => readdirSync(join(dev.stateDir, 'stores', kind, 'versions'));

    for (const [kind, artifact] of [
      ['model', modelArtifact('2.0.0')],
      ['app', appArtifact('2.0.0')],
    ] as const) {
      test(`a first ${kind} install the runtime cannot be told of leaves no current ${kind}, and can be installed again`, async () => {
        await withEmptyDevice(artifact, async (dev) => {
          let fail = true;
          const notify = async (k: string) => {
            dev.notified.push(k);
            if (fail) throw new SidewalkError('OTA_RUNTIME_NOTIFY', 'systemctl reload exited 1');
          };
          const u = await dev.updater(new CrashFs({ cutAt: null }), { notifyRuntime: notify }).init();
          dev.boot();
          const out = await u.install(ARTIFACT);
          assert.equal(out.kind === 'idle' && out.result, 'failure');
          assert.match(out.kind === 'idle' ? (out.error ?? '') : '', /OTA_RUNTIME_NOTIFY.*could not be told of the rollback/);
          assert.deepEqual(links(dev, kind), [null, null], 'the store is as before: nothing current');
          assert.deepEqual(versions(dev, kind), [], 'the failed version is removed');
          assert.equal(dev.provides()[`rootfs-image.sidewalk-${kind}.version`], undefined);
          assert.equal(u.status().last?.result, 'failure');
          fail = false;
          assert.deepEqual(await u.install(ARTIFACT), { kind: 'idle', result: 'success' }, 'not refused as already installed');
          assert.deepEqual(links(dev, kind), [join('versions', '2.0.0'), null]);
          assert.equal(dev.provides()[`rootfs-image.sidewalk-${kind}.version`], '2.0.0');
          await assert.rejects(u.rollbackNow(kind), (err) => isSidewalkError(err, 'OTA_NOTHING_TO_ROLL_BACK'));
        });
      });

      test(`a first ${kind} failing its health window leaves no current ${kind}`, async () => {
        await withEmptyDevice(artifact, async (dev) => {
          dev.unhealthy.add(`${kind}-2.0.0`);
          const r = await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
          assert.equal(r.result, 'failure');
          assert.deepEqual(links(dev, kind), [null, null]);
          assert.deepEqual(dev.notified, [kind, kind], 'told to load it, then told it is gone');
          assert.equal(dev.provides()[`rootfs-image.sidewalk-${kind}.version`], undefined);
        });
      });
    }
  });

  test('a model rolled back by command provides the version that runs again, and keeps the OS provides', async () => {
    await withDevice(modelArtifact('2.0.0'), async (dev) => {
      await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null });
      dev.artifacts.set(ARTIFACT, modelArtifact('3.0.0'));
      assert.equal((await runWithCut(dev, (u) => u.install(ARTIFACT), { cutAt: null })).result, 'success');
      assert.equal(dev.provides()['rootfs-image.sidewalk-model.version'], '3.0.0');
      let status: ReturnType<Updater['status']> | null = null;
      const back = await runWithCut(
        dev,
        async (u) => {
          const out = await u.rollbackNow('model');
          status = u.status();
          return out;
        },
        { cutAt: null },
      );
      assert.equal(back.result, 'success');
      assert.equal(currentModel(dev), join('versions', '2.0.0'));
      assert.equal(dev.provides()['rootfs-image.sidewalk-model.version'], '2.0.0');
      assert.equal(dev.provides()['rootfs-image.version'], '1.0');
      assert.equal(status!.last?.artifactName, 'model 2.0.0 (rollback)');
    });
  });

  test('a second install while one is in progress is refused', async () => {
    await withDevice(osArtifact('2.0'), async (dev) => {
      dev.boot();
      const u = await dev.updater(new CrashFs({ cutAt: null })).init();
      assert.deepEqual(await u.install(ARTIFACT), { kind: 'reboot' });
      await assert.rejects(u.install(ARTIFACT), (err) => isSidewalkError(err, 'OTA_UPDATE_IN_PROGRESS'));
    });
  });
});
