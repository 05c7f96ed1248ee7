import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { synthesizeRides } from '../../../host-tools/data/synth.js';
import { RideWatcher, type WatchEvent } from '../../../host-tools/data/watch.js';
import { legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';
import { workspace, type Workspace } from './workspace.js';

describe('data watch', () => {
  let ws: Workspace;
  let sources: string[];
  before(async () => {
    ws = await workspace();
    sources = await synthesizeRides({ outDir: join(ws.dir, 'src'), rides: 2, seed: 11, script: 'side:1,street:1.8', fps: 5, width: 64, height: 48, location: 'LA' });
  });
  after(async () => {
    await ws.close();
  });

  test('a slowly uploaded ride is ingested once, only when complete; the trigger fires at the threshold', async () => {
    const upload = join(ws.dir, 'upload');
    await mkdir(upload);
    const marker = join(ws.dir, 'trigger.txt');
    const watcher = new RideWatcher({
      dir: upload,
      db: ws.db,
      store: ws.store,
      config: ws.config,
      stablePolls: 2,
      triggerFrames: 20,
      triggerCommand: `printf '%s %s' "$SIDEWALK_LOCATION" "$SIDEWALK_TRIGGER_ID" > '${marker}'`,
    });
    const events: WatchEvent[] = [];
    watcher.onEvent((e) => events.push(e));
    const scans = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await watcher.scanOnce();
    };
    const rides = (): number => (ws.db.prepare('SELECT COUNT(*) AS n FROM rides').get() as { n: number }).n;

    for (const [k, src] of sources.entries()) {
      const dest = join(upload, `ride${k}`);
      await mkdir(join(dest, 'frames'), { recursive: true });
      // The uploader sends ride.json first, still saying "recording"... then frames one by one.
      const meta = JSON.parse(await readFile(join(src, 'ride.json'), 'utf8'));
      await writeFile(join(dest, 'ride.json'), JSON.stringify({ ...meta, status: 'recording', ended_at: null }));
      await scans(3);
      for (const f of (await readdir(join(src, 'frames'))).sort()) {
        await copyFile(join(src, 'frames', f), join(dest, 'frames', f));
        await scans(3);
      }
      // ... a half-written sensor log (stable for several scans, e.g. a stalled upload) ...
      const sensors = await readFile(join(src, 'sensors.jsonl'), 'utf8');
      await writeFile(join(dest, 'sensors.jsonl'), sensors.slice(0, Math.floor(sensors.length / 2)));
      await scans(3);
      await writeFile(join(dest, 'ride.json'), JSON.stringify(meta).slice(0, 40)); // half-written final ride.json
      await scans(3);
      assert.equal(rides(), k, 'nothing ingested before the upload completes');
      await writeFile(join(dest, 'sensors.jsonl'), sensors);
      await copyFile(join(src, 'ride.json'), join(dest, 'ride.json'));
      await watcher.scanOnce();
      assert.equal(rides(), k, 'a ride that just changed is not ingested on the same scan');
      await scans(4);
      assert.equal(rides(), k + 1);
    }
    assert.deepEqual(
      events.filter((e) => e.type === 'ingested').map((e) => (e as { path: string }).path),
      [join(upload, 'ride0'), join(upload, 'ride1')],
    );
    assert.deepEqual(
      events.filter((e) => e.type === 'failed'),
      [],
    );
    const triggers = events.filter((e) => e.type === 'trigger') as Extract<WatchEvent, { type: 'trigger' }>[];
    assert.equal(triggers.length, 1, 'first ride has 14 labelled frames (< 20), the second brings 28');
    assert.equal(triggers[0]!.newFrames, 28);
    assert.equal(triggers[0]!.exitCode, 0);
    assert.equal(await readFile(marker, 'utf8'), `LA ${triggers[0]!.triggerId}`);
    const row = ws.db.prepare('SELECT labelled_frames, new_frames, exit_code FROM triggers').all();
    assert.deepEqual(row, [{ labelled_frames: 28, new_frames: 28, exit_code: 0 }]);
  });

  test('the polling loop picks up a legacy run dropped in while running', async () => {
    const upload = join(ws.dir, 'upload2');
    await mkdir(upload);
    const watcher = new RideWatcher({ dir: upload, db: ws.db, store: ws.store, config: ws.config, location: 'Niwot', pollMs: 20, stablePolls: 1 });
    const seen = new Promise<WatchEvent>((resolve) => watcher.onEvent(resolve));
    watcher.start();
    const staging = await writeLegacyRun(join(ws.dir, 'staging', 'run900'), legacyRows(3, { startFrame: 900 }));
    await mkdir(join(upload, 'run900'));
    // Images first, raw_data.txt (which makes the folder a run) last.
    const files = (await readdir(staging)).sort((a, b) => Number(a === 'raw_data.txt') - Number(b === 'raw_data.txt'));
    for (const f of files) await copyFile(join(staging, f), join(upload, 'run900', f));
    const e = await seen;
    await watcher.stop();
    assert.equal(e.type, 'ingested', JSON.stringify(e));
    assert.equal((e as { result: { frames: number } }).result.frames, 3);
    const loc = ws.db.prepare("SELECT COUNT(*) AS n FROM rides r JOIN locations l ON l.id = r.location_id WHERE l.name = 'Niwot'").get() as { n: number };
    assert.equal(loc.n, 1);
  });
});
