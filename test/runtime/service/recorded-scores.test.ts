/**
 * `sidewalk replay RUN --recorded-scores` on legacy runs that python3 wrote as the legacy scooter did:
 * its decision set swFlag from imclass, both files written with its format strings.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPrng } from '../../../lib/prng.js';
import { expectCleanFailure, runSidewalk } from '../../helpers/cli-guard.js';
import { legacyPython, legacyRows, writeLegacyTexts } from '../../helpers/legacy-writer.js';
import type { RecordedAgreement, RecordedDecision } from '../../../runtime/service/recorded-scores.js';
import { makeTempDir } from '../../helpers/temp.js';

/** imclass at the 2 decimals the file keeps, summing to 1: street, sidewalk and ambiguous stretches. */
function legacyScores(seed: number, n: number): number[][] {
  const random = createPrng(seed);
  const out: number[][] = [];
  let lean = 0.2;
  for (let i = 0; i < n; i++) {
    if (i % 30 === 0) lean = [0.1, 0.9, 0.5, 0.45, 0.55][Math.floor(random() * 5)]!;
    const side = Math.round(lean * (0.6 + random() * 0.4) * 100);
    const cross = Math.round((lean * 100 - side) * random());
    const bike = Math.round((100 - side - cross) * random() * 0.3) || 1;
    out.push([bike / 100, cross / 100, side / 100, (100 - side - cross - bike) / 100]);
  }
  return out;
}

async function replayJson(args: string[]): Promise<RecordedAgreement> {
  const r = await runSidewalk(['replay', ...args, '--json'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as RecordedAgreement;
}

describe('replay --recorded-scores', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('recorded-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("a legacy run's recorded imclass reproduces its swFlag on every frame, reported per frame and in the summary", async () => {
    const run = join(dir, 'run1');
    const imclass = legacyScores(3, 600);
    const random = createPrng(4);
    const swFlags = legacyPython<number[]>({ cmd: 'ride', dir: run, imclass, speed: imclass.map(() => Number((random() * 0.5).toFixed(3))) });
    assert.ok(swFlags.filter((f) => f === 1).length > 60 && swFlags.filter((f) => f === 0).length > 60, 'both states occur');
    const out = join(dir, 'run1.jsonl');
    const s = await replayJson([run, '--recorded-scores', '--out', out]);
    assert.equal(s.kind, 'legacy-run');
    assert.deepEqual([s.frames, s.compared, s.agreeing, s.agreement], [600, 600, 600, 1]);
    assert.deepEqual(s.disagreeing_frames, []);
    const records = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RecordedDecision);
    assert.deepEqual(
      records.map((r) => r.frame),
      imclass.map((_, i) => i),
    );
    assert.deepEqual(
      records.map((r) => (r.on_sidewalk ? 1 : 0)),
      swFlags,
    );
    assert.ok(records.every((r) => r.agree === true && r.recorded_on_sidewalk === r.on_sidewalk));
    assert.ok(Math.abs(records[3]!.t_ms - 1000) < 1e-6, 'times from raw_data.txt (3 frames/s)');

    // The comparison has teeth: the earlier rule, from a config file, disagrees on some frames.
    const config = join(dir, 'earlier.yaml');
    await writeFile(config, 'model: { bundle: unused }\ndecision: { group_score: sum, warmup: partial }\n');
    const earlier = await replayJson([run, '--recorded-scores', '--config', config]);
    assert.ok(earlier.agreeing < 600 && earlier.disagreeing_frames.length === 600 - earlier.agreeing, `earlier rule agrees on ${earlier.agreeing}`);
  });

  test('runs it cannot replay fail with one coded line', async () => {
    const post = join(dir, 'run2');
    const { raw } = legacyRows(3);
    writeLegacyTexts(
      post,
      raw,
      raw.map((r) => ({ frame: r.frame, joystick: 1, scores: [0.1, 0.2, 0.3, 0.4], sidewalk: 0 as const })),
      { path: 'post-process', frame: 'space' },
    );
    await expectCleanFailure({ name: 'post-process run', args: ['replay', post, '--recorded-scores'], code: 'REPLAY_SCORES_INCOMPLETE' });
    const noOut = join(dir, 'run3');
    writeLegacyTexts(noOut, raw, null);
    await expectCleanFailure({
      name: 'no out_data',
      args: ['replay', noOut, '--recorded-scores', '--out', join(dir, 'x.jsonl')],
      code: 'REPLAY_NO_RECORDED_SCORES',
      mustNotExist: [join(dir, 'x.jsonl')],
    });
    await expectCleanFailure({ name: 'not a run', args: ['replay', dir, '--recorded-scores'], code: 'REPLAY_INPUT_UNKNOWN' });
    const both = join(dir, 'run4');
    writeLegacyTexts(
      both,
      raw,
      raw.map((r) => ({ frame: r.frame, joystick: 1, scores: [0, 0.2, 0.7, 0.1], sidewalk: 0 as const })),
    );
    await expectCleanFailure({ name: 'ambiguous layout', args: ['replay', both, '--recorded-scores'], code: 'DATA_LEGACY_LAYOUT_AMBIGUOUS' });
    assert.equal((await replayJson([both, '--recorded-scores', '--legacy-layout', 'live'])).compared, 3);
    await expectCleanFailure({ name: 'no model', args: ['replay', post], code: 'REPLAY_MODEL_REQUIRED' });
  });
  test('eval --rides DIR --recorded-scores: every legacy run in the folder, per run and in total, no model needed', async () => {
    const runs = join(dir, 'many');
    const flags = [1, 2].map((k) => legacyPython<number[]>({ cmd: 'ride', dir: join(runs, `run${k}`), imclass: legacyScores(10 + k, 200), speed: Array(200).fill(0.2) }));
    const out = join(dir, 'eval-out');
    const r = await runSidewalk(['eval', '--rides', runs, '--recorded-scores', '--out', out], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /recorded decision reproduced on 400 of 400 frames of 2 runs \(100\.00%\)/);
    const report = JSON.parse(await readFile(join(out, 'recorded-scores.json'), 'utf8')) as { runs: RecordedAgreement[]; agreement: number };
    assert.deepEqual(
      report.runs.map((x) => [x.frames, x.agreeing]),
      [
        [200, 200],
        [200, 200],
      ],
    );
    const lines = (await readFile(join(out, 'recorded-decisions.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RecordedDecision);
    assert.deepEqual(
      lines.map((l) => (l.on_sidewalk ? 1 : 0)),
      [...flags[0]!, ...flags[1]!],
    );
    await expectCleanFailure({ name: 'eval without model or recorded scores', args: ['eval', '--rides', runs], code: 'EVAL_ARGS_MISSING' });
  });
});
