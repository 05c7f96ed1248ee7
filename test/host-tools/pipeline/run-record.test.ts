import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../../lib/errors.js';
import { hashOf, RunRecorder, StepFailed, type RunRecord } from '../../../host-tools/pipeline/run-record.js';
import { makeTempDir } from '../../helpers/temp.js';

describe('pipeline run records and step skipping', () => {
  let root: string;
  let n = 0;
  before(async () => {
    root = await makeTempDir('sidewalk-runrec-');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function recorder(): Promise<RunRecorder> {
    const id = `run-${++n}`;
    const rec = new RunRecorder(
      {
        format: 'sidewalk-pipeline-run/1',
        id,
        location: 'LA',
        status: 'running',
        started_at: new Date().toISOString(),
        code_revision: null,
        paths: { db: 'db', work: root, registry: 'reg', config: null },
        config: {},
        steps: [],
      },
      join(root, 'runs', id),
      join(root, 'state.json'),
    );
    await rec.start();
    return rec;
  }

  test('hashes do not depend on key order', () => {
    assert.equal(hashOf({ a: 1, b: { c: [1, 2], d: 'x' } }), hashOf({ b: { d: 'x', c: [1, 2] }, a: 1 }));
    assert.notEqual(hashOf({ a: 1 }), hashOf({ a: 2 }));
  });

  test('unchanged inputs skip a step and reuse its outputs; changed inputs or vanished outputs run it again', async () => {
    let runs = 0;
    let valid = true;
    const step = (epochs: number) => ({
      name: 'train' as const,
      inputs: () => ({ dataset: 'sha256:abc', epochs }),
      stillValid: async () => valid,
      run: async () => ({ version: `1.${runs++}.0` }),
    });
    const first = await recorder();
    assert.deepEqual(await first.run(step(1)), { version: '1.0.0' });
    const second = await recorder();
    assert.deepEqual(await second.run(step(1)), { version: '1.0.0' });
    assert.equal(second.step('train').status, 'skipped');
    assert.equal(second.step('train').reason, 'inputs unchanged since run run-1');
    assert.equal(second.step('train').input_hash, first.step('train').input_hash);
    assert.deepEqual(await (await recorder()).run(step(2)), { version: '1.1.0' }, 'changed inputs');
    valid = false;
    const fourth = await recorder();
    assert.deepEqual(await fourth.run(step(2)), { version: '1.2.0' }, 'outputs gone');
    assert.equal(fourth.step('train').status, 'done');
    assert.equal(runs, 3);
  });

  test('a failing step is recorded with its code and reason, and the steps after it are not run', async () => {
    const rec = await recorder();
    await assert.rejects(
      rec.run({
        name: 'export',
        inputs: () => ({}),
        run: async (ctx) => {
          ctx.log('starting');
          throw new SidewalkError('DATA_EXPORT_EMPTY', 'location "LA" has nothing to export');
        },
      }),
      (err: unknown) => err instanceof StepFailed && err.step === 'export',
    );
    const record = await rec.finish('failed', 'export failed');
    const onDisk = JSON.parse(await readFile(join(rec.runDir, 'run.json'), 'utf8')) as RunRecord;
    assert.deepEqual(onDisk, record);
    assert.deepEqual(onDisk.steps[0]!.error, { code: 'DATA_EXPORT_EMPTY', message: 'location "LA" has nothing to export' });
    assert.equal(onDisk.steps[0]!.status, 'failed');
    assert.deepEqual(
      onDisk.steps.slice(1).map((s) => s.status),
      ['not-run', 'not-run', 'not-run', 'not-run', 'not-run'],
    );
    const log = await readFile(join(rec.runDir, 'logs', 'export.log'), 'utf8');
    assert.match(log, /starting\n.*failed: DATA_EXPORT_EMPTY: location "LA" has nothing to export/);
    // A failed step leaves no state behind: the next run does not skip it.
    const next = await recorder();
    let ran = false;
    await next.run({
      name: 'export',
      inputs: () => ({}),
      run: async () => {
        ran = true;
        return {};
      },
    });
    assert.equal(ran, true);
  });
});
