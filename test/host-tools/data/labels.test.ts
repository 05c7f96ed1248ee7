import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { isSidewalkError } from '../../../lib/errors.js';
import { join } from 'node:path';
import { DEFAULT_DATA_CONFIG, loadDataConfig } from '../../../host-tools/data/config.js';
import { ingestPaths } from '../../../host-tools/data/ingest.js';
import { decideLabel, mapRiderInput, relabelAll, reviewQueue } from '../../../host-tools/data/labels.js';
import { scoreFrames } from '../../../host-tools/data/score.js';
import { createTfliteClassifier } from '../../../runtime/inference/classifier.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { encodeTestJpegs, legacyRows, writeLegacyRun } from '../../helpers/legacy-writer.js';
import { workspace, type Workspace } from './workspace.js';

const cfg = DEFAULT_DATA_CONFIG;

describe('labelling', () => {
  test('rider joystick mapping follows the legacy default and the config', async () => {
    assert.equal(mapRiderInput(0, cfg), 'crosswalk');
    assert.equal(mapRiderInput(1, cfg), 'side');
    assert.equal(mapRiderInput('2', cfg), 'street');
    assert.equal(mapRiderInput('bike_lane', cfg), 'bike_lane');
    assert.equal(mapRiderInput(5, cfg), null);
    const ws = await workspace();
    try {
      const file = join(ws.dir, 'data.yaml');
      await writeFile(file, 'labelling:\n  riderMap: { "0": street, "3": bike_lane }\nfilters:\n  legacyMinSpeed: 4\n');
      const custom = loadDataConfig(file);
      assert.equal(mapRiderInput(0, custom), 'street');
      assert.equal(mapRiderInput(3, custom), 'bike_lane');
      assert.equal(custom.filters.legacyMinSpeed, 4);
      assert.equal(custom.filters.darkMaxLuma, cfg.filters.darkMaxLuma);
      await writeFile(file, 'labelling:\n  riderMap: { "0": lava }\n');
      assert.throws(() => loadDataConfig(file), /riderMap\.0 = "lava"/);
    } finally {
      await ws.close();
    }
  });

  test('agreement, threshold and conflicts decide the label or the review queue', () => {
    const s = (side: number, street: number) => ({ bike_lane: 0, crosswalk: 0, side, street });
    assert.deepEqual(decideLabel({ riderInput: 1, scores: s(0.8, 0.2), trueLabel: null }, cfg), { riderLabel: 'side', label: 'side', source: 'agreed', reviewState: null });
    assert.deepEqual(decideLabel({ riderInput: 1, scores: s(0.3, 0.7), trueLabel: null }, cfg), { riderLabel: 'side', label: null, source: null, reviewState: 'queued' });
    assert.deepEqual(decideLabel({ riderInput: null, scores: s(0.05, 0.95), trueLabel: null }, cfg), { riderLabel: null, label: null, source: 'model', reviewState: null });
    assert.deepEqual(decideLabel({ riderInput: null, scores: s(0.4, 0.6), trueLabel: null }, cfg), { riderLabel: null, label: null, source: null, reviewState: 'queued' });
    assert.equal(decideLabel({ riderInput: 2, scores: null, trueLabel: null }, cfg).source, 'rider');
    const strict = { ...cfg, labelling: { ...cfg.labelling, trustRiderAlone: false } };
    assert.equal(decideLabel({ riderInput: 2, scores: null, trueLabel: null }, strict).reviewState, 'queued');
    assert.equal(decideLabel({ riderInput: 2, scores: s(1, 0), trueLabel: 'bike_lane' }, cfg).label, 'bike_lane');
  });

  test('a model label is a proposal: no final label unless accepted, and a fixed share is sampled for review', () => {
    const scores = { bike_lane: 0, crosswalk: 0, side: 0.97, street: 0.03 };
    const keys = Array.from({ length: 2000 }, (_, i) => createHash('sha256').update(`frame ${i}`).digest('hex'));
    const decisions = keys.map((sampleKey) => decideLabel({ riderInput: null, scores, trueLabel: null, sampleKey }, cfg));
    assert.ok(
      decisions.every((d) => d.label === null && d.source === 'model'),
      'never a final label',
    );
    const queued = decisions.filter((d) => d.reviewState === 'queued').length / keys.length;
    assert.ok(Math.abs(queued - cfg.labelling.modelReviewShare) < 0.04, `sampled share ${queued}`);
    assert.deepEqual(
      keys.map((k) => decideLabel({ riderInput: null, scores, trueLabel: null, sampleKey: k }, cfg).reviewState),
      decisions.map((d) => d.reviewState),
      'the same frames every time',
    );
    const accepting = { ...cfg, labelling: { ...cfg.labelling, acceptModelLabels: true } };
    assert.deepEqual(decideLabel({ riderInput: null, scores, trueLabel: null, sampleKey: keys[0]! }, accepting), { riderLabel: null, label: 'side', source: 'model', reviewState: null });
    const none = { ...cfg, labelling: { ...cfg.labelling, modelReviewShare: 0 } };
    assert.equal(
      keys.some((k) => decideLabel({ riderInput: null, scores, trueLabel: null, sampleKey: k }, none).reviewState === 'queued'),
      false,
    );
  });

  test('the data config refuses unknown keys and wrong types, naming each', async () => {
    const ws = await workspace();
    try {
      const file = join(ws.dir, 'data.yaml');
      for (const [text, problem] of [
        ['labeling:\n  modelThreshold: 0.5\n', /labeling: unknown field/],
        ['filters:\n  blurMinVar: 10\n', /filters\.blurMinVar: unknown field/],
        ['filters:\n  darkMaxLuma: dark\n', /filters\.darkMaxLuma: must be number/],
        ['labelling:\n  modelThreshold: 2\n', /labelling\.modelThreshold: must be <= 1/],
        ['labels: [side]\n', /labels: must NOT have fewer than 2 items/],
        ['filters: [\n', /not valid YAML/],
      ] as const) {
        await writeFile(file, text);
        assert.throws(
          () => loadDataConfig(file),
          (err: unknown) => isSidewalkError(err, 'DATA_CONFIG_INVALID') && problem.test(err.message),
          text,
        );
      }
      assert.throws(
        () => loadDataConfig(join(ws.dir, 'missing.yaml')),
        (err: unknown) => isSidewalkError(err, 'DATA_CONFIG_UNREADABLE'),
      );
      await writeFile(file, 'labelling:\n  acceptModelLabels: true\n');
      assert.equal(loadDataConfig(file).labelling.acceptModelLabels, true);
      assert.equal(loadDataConfig(file).labelling.modelThreshold, cfg.labelling.modelThreshold, 'defaults fill the rest');
    } finally {
      await ws.close();
    }
  });

  describe('with the current model (real TFLite)', () => {
    let ws: Workspace;
    before(async () => {
      ws = await workspace();
    });
    after(async () => {
      await ws.close();
    });

    test('frames are scored by the model bundle, then labelled by agreement with the rider', async () => {
      const solid = (r: number, g: number, b: number) => {
        const rgb = new Uint8Array(96 * 64 * 3);
        for (let i = 0; i < rgb.length; i += 3) {
          rgb[i] = r;
          rgb[i + 1] = g;
          rgb[i + 2] = b;
        }
        return { width: 96, height: 64, rgb };
      };
      // Fixture model: street = dark asphalt, side = light concrete. The rider pressed "sidewalk" (1) on both.
      const jpegs = await encodeTestJpegs([solid(45, 45, 45), solid(175, 175, 165)]);
      const { raw, out } = legacyRows(2, { joystick: () => 1 });
      await writeLegacyRun(join(ws.dir, 'in', 'run1'), {
        raw,
        out,
        images: new Map([
          [0, jpegs[0]!],
          [1, jpegs[1]!],
        ]),
      });
      await ingestPaths([join(ws.dir, 'in')], { db: ws.db, store: ws.store, config: ws.config, location: 'LA', progress: false });
      const classifier = await createTfliteClassifier(join(REPO_ROOT, 'test', 'fixtures', 'models', 'float'), { delegate: 'cpu', numThreads: 1 });
      try {
        assert.equal(await scoreFrames(ws.db, ws.store, classifier, { location: 'LA', progress: false }), 2);
      } finally {
        await classifier.close();
      }
      const rows = ws.db.prepare('SELECT model_scores, model_version FROM frames ORDER BY idx').all() as { model_scores: string; model_version: string }[];
      const scores = rows.map((r) => JSON.parse(r.model_scores) as Record<string, number>);
      assert.deepEqual(Object.keys(scores[0]!).sort(), ['bike_lane', 'crosswalk', 'side', 'street']);
      assert.ok(Math.abs(Object.values(scores[0]!).reduce((a, b) => a + b, 0) - 1) < 1e-3);
      assert.equal(rows[0]!.model_version, 'fixture-float@1.0.0');
      assert.ok(scores[0]!.street! > scores[0]!.side!, JSON.stringify(scores[0]));
      assert.ok(scores[1]!.side! > scores[1]!.street!, JSON.stringify(scores[1]));
      assert.equal(relabelAll(ws.db, ws.config), 2);
      const labels = ws.db.prepare('SELECT label, label_source, review_state FROM frames ORDER BY idx').all();
      assert.deepEqual(labels, [
        { label: null, label_source: null, review_state: 'queued' },
        { label: 'side', label_source: 'agreed', review_state: null },
      ]);
      const queue = reviewQueue(ws.db);
      assert.equal(queue.length, 1);
      assert.equal(queue[0]!.riderLabel, 'side');
      assert.equal(queue[0]!.modelVersion, 'fixture-float@1.0.0');
    });
  });
});
