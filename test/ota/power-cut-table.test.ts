/**
 * The updater's state table (ota/install/states.ts), walked. Every scenario runs once without a cut:
 * each journaled transition must be an edge of the table, and together the scenarios and commands
 * must take every edge. Then the power is cut at every file operation of each scenario, keeping and
 * losing what was not durable (file content without its fsync, names without their folder's fsync:
 * crash-dirs.ts), and for some the updater is killed instead. Per cut, by the table row the journal
 * was in: the next start takes that row's power-loss edge, the outcome is the row's, the device boots
 * a good slot, a committed update left the other slot (or previous bundle) intact, and the user's
 * files, which a recorder keeps appending to through the same cut model, keep every synced line.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { OtaFs } from '../../ota/fs.js';
import { parseJournal, type OtaState } from '../../ota/journal.js';
import { STATE_TABLE, tableEdges } from '../../ota/install/states.js';
import type { JournalData, Outcome, Updater, UpdaterOptions } from '../../ota/install/updater.js';
import { CrashFs, isPowerLoss } from './crash-fs.js';
import { runWithCut, type CutRun } from './power-cut-harness.js';
import { SimDevice } from './sim-device.js';
import { ARTIFACT, SCENARIOS, modesFor, rowOutcome, type Result, type Scenario } from './power-cut-scenarios.js';

/** The user's recorder: one synced line per journal append of the updater, through the same file system. */
class RecorderFs {
  static readonly FILE = join('recordings', 'ride-2', 'track.csv');
  synced = 0;
  written = 0;
  readonly path: string;

  constructor(readonly dataDir: string) {
    this.path = join(dataDir, RecorderFs.FILE);
  }

  line(n: number): string {
    return `${n},${(n * 7) % 23}\n`;
  }

  wrap(inner: OtaFs): OtaFs {
    return {
      open: async (path, flags) => {
        if (flags === 'a' && basename(path) === 'journal.log') await this.#append(inner);
        return inner.open(path, flags);
      },
      readFile: (p) => inner.readFile(p),
      rename: (a, b) => inner.rename(a, b),
      unlink: (p) => inner.unlink(p),
      rm: (p) => inner.rm(p),
      mkdir: (p) => inner.mkdir(p),
      symlink: (t, p) => inner.symlink(t, p),
      chmod: (p, m) => inner.chmod(p, m),
      readlink: (p) => inner.readlink(p),
      readdir: (p) => inner.readdir(p),
      stat: (p) => inner.stat(p),
      syncDir: (p) => inner.syncDir(p),
    };
  }

  async #append(fs: OtaFs): Promise<void> {
    const first = this.written === 0;
    if (first) await fs.mkdir(join(this.path, '..'));
    const handle = await fs.open(this.path, 'a');
    try {
      this.written++;
      await handle.write(Buffer.from(this.line(this.written)));
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (first) {
      await fs.syncDir(join(this.path, '..'));
      await fs.syncDir(join(this.path, '..', '..'));
    }
    this.synced = this.written;
  }

  /** Every synced line is there, then at most the lines written after, the last possibly torn. */
  check(ctx: string): void {
    const text = existsSync(this.path) ? readFileSync(this.path, 'utf8') : '';
    const all = Array.from({ length: this.written }, (_, i) => this.line(i + 1)).join('');
    assert.ok(all.startsWith(text), `${ctx}: recorder file holds only what was written: ${JSON.stringify(text)}`);
    const whole = this.synced === 0 ? 0 : Array.from({ length: this.synced }, (_, i) => this.line(i + 1)).join('').length;
    assert.ok(text.length >= whole, `${ctx}: recorder lost synced lines (${text.length} of ${whole} bytes)`);
  }
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const journalOf = (dev: SimDevice) => {
  const path = join(dev.stateDir, 'journal.log');
  return existsSync(path) ? parseJournal<JournalData>(readFileSync(path)).records : [];
};
const link = (dev: SimDevice, kind: string, name: string) => {
  try {
    return basename(readlinkSync(join(dev.stateDir, 'stores', kind, name)));
  } catch {
    return '';
  }
};

/** Transitions seen in journals, as "from -> to" (a journal starts from idle). */
const seen = new Set<string>();
function noteTransitions(dev: SimDevice, ctx: string): void {
  let from: OtaState = 'idle';
  const allowed = new Set(tableEdges().map((e) => `${e.from} -> ${e.to}`));
  for (const r of journalOf(dev)) {
    const edge = `${from} -> ${r.state}`;
    assert.ok(allowed.has(edge), `${ctx}: journal took ${edge}, not an edge of the state table`);
    seen.add(edge);
    from = r.state;
  }
}

const cutPoints = new Set<string>();

describe('the OTA state table under power cuts', () => {
  const templates = new Map<boolean, string>();
  before(() => {
    for (const empty of [false, true]) templates.set(empty, SimDevice.template({ emptyStores: empty }));
  });
  after(() => {
    for (const t of templates.values()) rmSync(t, { recursive: true, force: true });
  });

  async function device(s: Scenario): Promise<SimDevice> {
    const dev = SimDevice.fromTemplate(templates.get(s.emptyStores ?? false)!);
    dev.artifacts.set(ARTIFACT, s.artifact);
    if (s.prepare) {
      await s.prepare(dev);
      // Prepared devices start from a clean journal history but keep the committed update.
    }
    if (s.unhealthy) dev.unhealthy.add(s.unhealthy);
    return dev;
  }

  /** `started`: the run journaled its update (else the device must be as before it). */
  function checkDevice(dev: SimDevice, s: Scenario, r: CutRun, started: boolean, userData: Map<string, string>, slotA: string, ctx: string): void {
    const want = !started ? s.versions.none : r.result === 'success' ? s.versions.success : s.versions.failure;
    assert.equal(dev.autobootDefaultSlot(), r.bootedSlot, `${ctx}: the booted slot is the committed default`);
    if (s.kind === 'os') {
      assert.equal(r.bootedVersion, want, ctx);
      assert.equal(dev.provides()['rootfs-image.version'], r.bootedVersion, `${ctx}: provides match the running OS`);
      // After a committed update the slot it came from is intact (what a rollback returns to).
      const other = r.bootedSlot === 'A' ? 'B' : 'A';
      if (started && r.result === 'success' && !s.prepare) {
        assert.equal(sha(readFileSync(dev.firmware.layout.slots[other].rootDevice)), slotA, `${ctx}: slot ${other} intact`);
        assert.equal(dev.firmware.slotImage(other, 'root')?.version, '1.0', ctx);
      }
    } else {
      const current = link(dev, s.kind, 'current');
      assert.equal(current, want, `${ctx}: current ${s.kind}`);
      // Provides name the running bundle once any update of it was committed.
      const committed = s.prepare !== undefined || (started && r.result === 'success');
      assert.equal(dev.provides()[`rootfs-image.sidewalk-${s.kind}.version`], committed ? want : undefined, `${ctx}: provides`);
      if (s.kind === 'model' && current) assert.equal(modelOk(dev, current), true, `${ctx}: current model bundle complete`);
      const previous = link(dev, s.kind, 'previous');
      if (r.result === 'success' && previous && s.kind === 'model') assert.equal(modelOk(dev, previous), true, `${ctx}: previous model bundle intact`);
    }
    const now = dev.userData();
    now.delete(`/${RecorderFs.FILE}`);
    assert.deepEqual(now, userData, `${ctx}: user files intact`);
  }

  const modelOk = (dev: SimDevice, v: string) => {
    const dir = join(dev.stateDir, 'stores', 'model', 'versions', v);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, { sha256: string }> };
    return Object.entries(m.files).every(([n, f]) => sha(readFileSync(join(dir, n))) === f.sha256);
  };

  for (const s of SCENARIOS) {
    const what = s.uncutOnly ? 'without a cut' : `a cut at every operation${s.kills ? ', and a kill,' : ''} ends as its row says`;
    test(`${s.name}: every edge it takes is in the table; ${what}`, async (t) => {
      // The uncut run: its transitions, its operations, and the slot A every commit must keep.
      const probe = await device(s);
      const userData = probe.userData();
      const slotA = sha(readFileSync(probe.firmware.layout.slots.A.rootDevice));
      const before = journalOf(probe).length;
      const recorder = new RecorderFs(probe.dataDir);
      const clean = await runWithCut(probe, s.start, { cutAt: null, wrapFs: (fs) => recorder.wrap(fs) });
      assert.equal(clean.result, s.expect, `${s.name} without a cut: ${clean.error}`);
      checkDevice(probe, s, clean, true, userData, slotA, `${s.name} uncut`);
      recorder.check(`${s.name} uncut`);
      noteTransitions(probe, s.name);
      probe.remove();
      if (s.uncutOnly) return;
      // Count the cut run's operations (recorder included).
      const ops = await countOps(s);
      const tally: Record<string, number> = {};
      for (let cutAt = 1; cutAt <= ops; cutAt++) {
        for (const mode of modesFor(s, cutAt)) {
          const dev = await device(s);
          const rec = new RecorderFs(dev.dataDir);
          let atCut: { state: OtaState | null; seq: number; last: Result; started: boolean } = { state: null, seq: 0, last: 'none', started: false };
          try {
            const r = await runWithCut(dev, s.start, {
              cutAt,
              seed: cutAt,
              loseUnsynced: mode === 'lose',
              processCrash: mode === 'kill',
              wrapFs: (fs) => rec.wrap(fs),
              afterCut: () => {
                const records = journalOf(dev);
                const lastRec = records.at(-1);
                const started = records.length > before;
                atCut = { state: started ? lastRec!.state : null, seq: lastRec?.seq ?? 0, last: lastRec?.data.last?.result ?? 'none', started };
              },
            });
            const ctx = `${s.name}, ${mode} at #${cutAt} (${r.cutOp}) in ${atCut.state}: ${r.error ?? ''}`;
            cutPoints.add(`${s.name}|${cutAt}|${mode}`);
            tally[atCut.state ?? 'none'] = (tally[atCut.state ?? 'none'] ?? 0) + 1;
            // The row's power-loss edge: the first record the next start wrote.
            const next = journalOf(dev).find((x) => x.seq === atCut.seq + 1);
            if (atCut.state && atCut.state !== 'idle') {
              assert.ok(next && STATE_TABLE[atCut.state].powerLoss.includes(next.state), `${ctx}: went to ${next?.state}, table says ${STATE_TABLE[atCut.state].powerLoss.join('|')}`);
            }
            const allowed = rowOutcome(atCut.state, s, mode === 'kill', atCut.last);
            assert.ok(allowed.includes(r.result), `${ctx}: ended ${r.result}, the row allows ${allowed.join('|')}`);
            checkDevice(dev, s, r, atCut.started, userData, slotA, ctx);
            rec.check(ctx);
            noteTransitions(dev, ctx);
          } finally {
            dev.remove();
          }
        }
      }
      t.diagnostic(`${s.name}: ${ops} operations; cuts by journal state ${JSON.stringify(tally)}`);
    });
  }

  /** The operations of the run that is cut (prepare and later boots not counted). */
  async function countOps(s: Scenario): Promise<number> {
    const dev = await device(s);
    try {
      dev.boot();
      const crash = new CrashFs({ cutAt: null });
      const fs = new RecorderFs(dev.dataDir).wrap(crash);
      let out = await s.start(await dev.updater(fs).init());
      while (out.kind === 'reboot') {
        dev.boot();
        out = await (await dev.updater(fs).init()).resume();
      }
      return crash.ops;
    } finally {
      dev.remove();
    }
  }

  /** Leaves the journal in `state` by killing the updater in the work after it, then runs `command`. */
  async function commandFrom(s: Scenario, kill: (fs: CrashFs) => Partial<UpdaterOptions>, command: (u: Updater) => Promise<Outcome>, bootFirst = false): Promise<CutRun> {
    const dev = await device(s);
    try {
      dev.boot();
      const fs = new CrashFs({ cutAt: null });
      try {
        await (await dev.updater(fs, kill(fs)).init()).install(ARTIFACT);
      } catch (err) {
        if (!isPowerLoss(err)) throw err;
      }
      if (bootFirst) dev.boot();
      let out = await command(await dev.updater(new CrashFs({ cutAt: null })).init());
      while (out.kind === 'reboot') {
        dev.boot();
        out = await (await dev.updater(new CrashFs({ cutAt: null })).init()).resume();
      }
      noteTransitions(dev, `${s.name}: command`);
      const u = await dev.updater(new CrashFs({ cutAt: null })).init();
      return {
        cutOp: null,
        ops: 0,
        result: u.status().last?.result ?? 'none',
        error: u.status().last?.error ?? null,
        bootedSlot: dev.lastBoot?.ok ? dev.lastBoot.slot : 'A',
        bootedVersion: dev.lastBoot?.ok ? dev.lastBoot.os.version : '?',
        boots: 0,
      };
    } finally {
      dev.remove();
    }
  }

  test('commands take their edges: commit and abort from every state they are allowed in', async () => {
    const model = SCENARIOS.find((x) => x.name === 'model update')!;
    const os = SCENARIOS.find((x) => x.name === 'OS update')!;
    // The updater killed while it waits for something that is not a file operation: the journal rests there.
    const restIn: Record<string, (fs: CrashFs) => Partial<UpdaterOptions>> = {
      download: (fs) => ({ openArtifact: async () => Promise.reject(fs.kill('opening the artifact')) }),
      install: (fs) => ({ isMoving: async () => Promise.reject(fs.kill('waiting to install')) }),
      switch: (fs) => {
        let asked = 0;
        return { isMoving: async () => (++asked === 2 ? Promise.reject(fs.kill('waiting to switch')) : false) };
      },
      verify: (fs) => ({
        health: { os: async () => Promise.reject(fs.kill('os checks')), model: async () => Promise.reject(fs.kill('model checks')), app: async () => Promise.reject(fs.kill('app checks')) },
      }),
    };
    for (const [state, kill] of Object.entries(restIn)) {
      const r = await commandFrom(model, kill, (u) => u.rollbackNow());
      assert.equal(r.result, 'failure', `abort from ${state}: ${r.error}`);
    }
    assert.equal((await commandFrom(model, restIn.verify!, (u) => u.commitNow())).result, 'success', 'commit from verify');
    // The OS rests in reboot after install: aborted there, or committed from inside its trial boot.
    assert.equal(
      (
        await commandFrom(
          os,
          () => ({}),
          (u) => u.rollbackNow(),
        )
      ).bootedVersion,
      '1.0',
    );
    const committed = await commandFrom(
      os,
      () => ({}),
      (u) => u.commitNow(),
      true,
    );
    assert.equal(committed.result, 'success');
    assert.equal(committed.bootedVersion, '2.0');
    // A commit that fails (provides.json unreadable) takes commit's failure edge.
    const broken = { ...model, prepare: async (dev: SimDevice) => writeFileSync(join(dev.stateDir, 'provides.json'), '{') };
    const r = await commandFrom(
      broken,
      () => ({}),
      (u) => u.resume(),
    );
    assert.match(r.error ?? '', /commit: .*OTA_PROVIDES_INVALID/);
  });

  test('every edge of the table was taken, and the suite cut the power at over 1,000 distinct points', (t) => {
    const missing = tableEdges()
      .map((e) => `${e.from} -> ${e.to}`)
      .filter((e) => !seen.has(e) && e !== 'idle -> idle');
    assert.deepEqual([...new Set(missing)], [], 'edges no scenario took');
    assert.ok(cutPoints.size >= 1000, `distinct cut points: ${cutPoints.size}`);
    t.diagnostic(`distinct cut points: ${cutPoints.size}; edges taken: ${seen.size}`);
  });
});
