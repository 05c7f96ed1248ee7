/**
 * An OS update on a built card, end to end: `sidewalk artifact rootfs --tryboot` turns the card's root A
 * (with a new version stamp) into a signed artifact; the updater, with its simulated firmware backend
 * pointed at the card's partitions (card-device.ts), installs it into slot B, boots B by tryboot and
 * commits it; before that, a trial whose health check fails is rolled back to A. Every step is checked
 * by reading the card: sfdisk --json, mtype (autoboot.txt), debugfs and e2fsck (root slots).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configureLogging } from '../../lib/log.js';
import { openArtifactFile } from '../../ota/artifact/index.js';
import { SimulatedBootControl } from '../../ota/boot/simulated.js';
import { VersionStore } from '../../ota/install/store.js';
import { Updater, type Outcome } from '../../ota/install/updater.js';
import { runSidewalk } from '../helpers/cli-guard.js';
import { mbrPartuuid } from '../../image/layout.js';
import { CardFirmware, cardFs } from './card-device.js';
import { Card, e2fsck, fsckFat, makeAppBundle, makeSyntheticTar, makeVerifyKey } from './image-fixtures.js';
import { makeTempDirSync } from '../helpers/temp.js';

const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
const FACTORY = { artifact_name: 'os-1.0', 'rootfs-image.version': '1.0' };

describe('OS update on a built card: rootfs-tryboot artifact from root A into slot B', () => {
  let work: string;
  let card: Card;
  let firmware: CardFirmware;
  let artifact: string;
  let keys: { publicPem: string; privatePem: string };
  let tableBefore: string;
  const unhealthy = new Set<string>();

  const updater = async () => {
    const fs = cardFs(card);
    const state = join(work, 'data');
    return new Updater({
      fs,
      stateDir: join(state, 'ota'),
      stores: { model: new VersionStore(fs, join(state, 'models'), 'model'), app: new VersionStore(fs, join(state, 'app'), 'app') },
      boot: new SimulatedBootControl({ fs, firmware }),
      openArtifact: (path) => openArtifactFile(path, { publicKeys: [readFileSync(keys.publicPem, 'utf8')], deviceType: 'raspberrypi4', deviceProvides: FACTORY }),
      health: {
        os: async () => {
          const b = lastBoot;
          const version = b?.ok ? b.os.version : '?';
          return unhealthy.has(version) ? { ok: false, reason: `runtime on ${version} never became ready` } : { ok: true, polls: 1 };
        },
        model: async () => ({ ok: true, polls: 1 }),
        app: async () => ({ ok: true, polls: 1 }),
      },
      notifyRuntime: async () => {},
      isMoving: async () => false,
      lockPollMs: 0,
      sleep: async () => {},
      // The read-back opens the device path itself (O_DIRECT), not through OtaFs; e2fsck checks the slot here instead.
      verifySlot: 'off',
      factoryProvides: FACTORY,
    }).init();
  };
  let lastBoot: ReturnType<CardFirmware['boot']> | null = null;
  const powerOn = () => {
    lastBoot = firmware.boot();
    assert.ok(lastBoot.ok, `card does not boot: ${JSON.stringify(lastBoot)}`);
    return lastBoot;
  };
  const autoboot = () => card.fatRead(1, 'autoboot.txt');
  const version = (n: number) => card.debugfs(n, 'cat /etc/sidewalk-os-version').trim();

  before(async () => {
    configureLogging({ level: 'silent' });
    work = makeTempDirSync('sidewalk-image-ota-');
    keys = makeVerifyKey(work);
    makeAppBundle(join(work, 'app'));
    const out = join(work, 'card.img');
    const built = await runSidewalk(
      ['image', 'build', '-o', out, '--app', join(work, 'app'), '--verify-key', keys.publicPem, '--base-tar', makeSyntheticTar(work), '--boot-size', '64', '--root-size', '48', '--data-size', '32'],
      { timeoutMs: 120_000 },
    );
    assert.equal(built.code, 0, built.stderr);
    card = new Card(out);
    tableBefore = JSON.stringify(card.table);
    firmware = new CardFirmware(card, mbrPartuuid);

    // Version 2.0: root A with a new stamp, exactly the slot's size.
    const root = card.extract(5, join(work, 'root-2.0.ext4'));
    writeFileSync(join(work, 'v2'), '2.0\n');
    execFileSync('debugfs', ['-w', '-R', 'rm /etc/sidewalk-os-version', root], { env: ENV, stdio: 'ignore' });
    execFileSync('debugfs', ['-w', '-R', `write ${join(work, 'v2')} /etc/sidewalk-os-version`, root], { env: ENV, stdio: 'ignore' });
    assert.equal(e2fsck(root).status, 0);
    artifact = join(work, 'os-2.0.mender');
    const made = await runSidewalk(
      ['artifact', 'rootfs', root, '--tryboot', '-n', 'os-2.0', '--software-version', '2.0', '-k', keys.privatePem, '-t', 'raspberrypi4', '--compression', 'none', '-o', artifact],
      { timeoutMs: 60_000 },
    );
    assert.equal(made.code, 0, made.stderr);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('the factory card boots slot A, version 1.0; slot B is empty and unbootable', () => {
    const b = powerOn();
    assert.deepEqual(b.ok && [b.slot, b.tryboot, b.os.version], ['A', false, '1.0']);
    assert.equal(firmware.slotImage('B', 'root'), null);
  });

  test('a trial whose health check fails is rolled back: the card boots A again, autoboot.txt untouched', async () => {
    unhealthy.add('2.0');
    let out: Outcome = await (await updater()).install(artifact);
    assert.equal(out.kind, 'reboot');
    assert.equal(version(6), '2.0', 'slot B written on the card');
    assert.equal(e2fsck(`${card.path}?offset=${card.offset(6)}`).status, 0);
    assert.equal(version(5), '1.0');
    assert.match(autoboot(), /^\[all\]\ntryboot_a_b=1\nboot_partition=2\n/);
    const trial = powerOn();
    assert.deepEqual(trial.ok && [trial.slot, trial.tryboot, trial.os.version], ['B', true, '2.0']);
    out = await (await updater()).resume();
    assert.equal(out.kind, 'reboot', 'reboots back to A');
    const back = powerOn();
    assert.deepEqual(back.ok && [back.slot, back.tryboot], ['A', false]);
    out = await (await updater()).resume();
    assert.equal(out.kind, 'idle');
    assert.equal(out.kind === 'idle' && out.result, 'failure');
    assert.match(out.kind === 'idle' ? (out.error ?? '') : '', /never became ready/);
    assert.equal(autoboot(), '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n');
    unhealthy.delete('2.0');
  });

  test('installed into B, booted by tryboot, committed: autoboot.txt now defaults to B, in place', async () => {
    let out: Outcome = await (await updater()).install(artifact);
    assert.equal(out.kind, 'reboot');
    const trial = powerOn();
    assert.deepEqual(trial.ok && [trial.slot, trial.tryboot], ['B', true]);
    out = await (await updater()).resume();
    while (out.kind === 'reboot') {
      powerOn();
      out = await (await updater()).resume();
    }
    assert.deepEqual(out, { kind: 'idle', result: 'success' });
    assert.equal(autoboot(), '[all]\ntryboot_a_b=1\nboot_partition=3\n[tryboot]\nboot_partition=2\n');
    const fsck = fsckFat(card.extract(1, join(work, 'p1-after.vfat')));
    assert.equal(fsck.status, 0, fsck.output);
    assert.equal(JSON.stringify(new Card(card.path).table), tableBefore, 'partition table unchanged');
    const next = powerOn();
    assert.deepEqual(next.ok && [next.slot, next.tryboot, next.os.version], ['B', false, '2.0']);
    assert.equal(version(5), '1.0', 'slot A kept for the next update');
  });
});
