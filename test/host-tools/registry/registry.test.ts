import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { isSidewalkError } from '../../../lib/errors.js';
import { registerRegistryCommands } from '../../../host-tools/registry/cli.js';
import { checkGates, GateCode } from '../../../host-tools/registry/gates.js';
import { codeRevision } from '../../../host-tools/registry/lineage.js';
import { Registry } from '../../../host-tools/registry/registry.js';
import { loadModelBundle } from '../../../runtime/inference/bundle.js';
import { fixtureBundle, report, DATASET_HASH } from './fixtures.js';
import { makeTempDir } from '../../helpers/temp.js';

const GATES = { accuracyTolerance: 0.01, sidewalkRecallMin: 0.9, roadFalseLimitMax: 0.1 };
const GOOD = { accuracy: 0.9, sidewalkRecall: 0.95, roadFalseLimit: 0.05 };

describe('model registry', () => {
  let root: string;
  let registry: Registry;
  const bundles = new Map<string, { dir: string; modelSha: string }>();

  async function add(version: string, figures = GOOD, location = 'LA'): Promise<void> {
    const b = bundles.get(`${location}/${version}`) ?? (await fixtureBundle(join(root, `bundle-${location}-${version}`), location, version));
    bundles.set(`${location}/${version}`, b);
    const candidate = report(version, figures, { sha256: b.modelSha, location });
    const gates = checkGates(location, candidate, registry.current(location, 'production')?.metrics ?? null, GATES);
    assert.ok(gates.passed, `gates for ${version}: ${JSON.stringify(gates.failures)}`);
    await registry.register({ bundleDir: b.dir, report: candidate, gates, datasetHash: DATASET_HASH, codeRevision: 'abc123', trainParams: { arch: 'tiny', epochs: 1 } });
  }

  before(async () => {
    root = await makeTempDir('sidewalk-registry-');
    registry = Registry.open(join(root, 'registry'));
  });
  after(async () => {
    registry.close();
    await rm(root, { recursive: true, force: true });
  });

  test('registration records lineage and copies the files into the content-addressed store', async () => {
    await add('1.0.0');
    const m = registry.get('LA', '1.0.0');
    assert.equal(m.stage, 'candidate');
    assert.equal(m.name, 'la-ground');
    assert.equal(m.datasetHash, DATASET_HASH);
    assert.equal(m.codeRevision, 'abc123');
    assert.deepEqual(m.trainParams, { arch: 'tiny', epochs: 1 });
    assert.equal(m.metrics.accuracy, 0.9);
    assert.equal(m.gates?.passed, true);
    assert.deepEqual(
      m.files.map((f) => f.name),
      ['manifest.json', 'model.tflite'],
    );
    assert.equal(m.files.find((f) => f.name === 'model.tflite')!.sha256, bundles.get('LA/1.0.0')!.modelSha);
    // The source bundle changing afterwards does not change the registered model.
    const src = bundles.get('LA/1.0.0')!.dir;
    await writeFile(join(src, 'model.tflite'), 'overwritten');
    const out = join(root, 'fetched');
    await registry.materialize(m, out);
    const loaded = await loadModelBundle(out, { appVersion: '99.0.0' });
    assert.equal(loaded.manifest.version, '1.0.0');
    assert.equal(registry.get('la-ground', '1.0.0').id, m.id, 'found by model name too');
    bundles.delete('LA/1.0.0');
  });

  test('a tampered store object is refused, not handed out', async () => {
    const m = registry.get('LA', '1.0.0');
    const obj = registry.store.pathOf(m.files[1]!.sha256);
    const original = await readFile(obj);
    await chmod(obj, 0o644);
    await writeFile(obj, Buffer.concat([original, Buffer.from('x')]));
    await assert.rejects(registry.materialize(m, join(root, 'tampered')), (err: unknown) => isSidewalkError(err, 'REGISTRY_OBJECT_CORRUPT'));
    await writeFile(obj, original);
  });

  test('gates reject a worse model and nothing is registered', async () => {
    await add('1.1.0');
    registry.promote('LA', '1.1.0', 'canary');
    registry.promote('LA', '1.1.0', 'production');
    const before = registry.list().length;
    const worse = await fixtureBundle(join(root, 'worse'), 'LA', '1.2.0');
    const worseReport = report('1.2.0', { accuracy: 0.8, sidewalkRecall: 0.85, roadFalseLimit: 0.05 }, { sha256: worse.modelSha });
    const gates = checkGates('LA', worseReport, registry.current('LA', 'production')!.metrics, GATES);
    assert.equal(gates.passed, false);
    assert.deepEqual(
      gates.failures.map((f) => f.code),
      [GateCode.GATE_ACCURACY_REGRESSION, GateCode.GATE_SIDEWALK_RECALL_FLOOR],
    );
    assert.equal(gates.production?.version, '1.1.0');
    await assert.rejects(
      registry.register({ bundleDir: worse.dir, report: worseReport, gates }),
      (err: unknown) => isSidewalkError(err, 'REGISTRY_GATES_NOT_PASSED') && /GATE_ACCURACY_REGRESSION, GATE_SIDEWALK_RECALL_FLOOR/.test(err.message),
    );
    // A passed decision about another model does not let this one in either.
    const good = checkGates('LA', report('1.2.0', GOOD, { sha256: 'another-model' }), null, GATES);
    await assert.rejects(
      registry.register({ bundleDir: worse.dir, report: worseReport, gates: good }),
      (err: unknown) => isSidewalkError(err, 'REGISTRY_GATES_NOT_PASSED') && /not this report/.test(err.message),
    );
    assert.equal(registry.list().length, before);
    assert.equal(registry.find('LA', '1.2.0'), undefined);
  });

  test('stage rules: canary first, one production per location, the old one retired, rollback allowed', async () => {
    await add('1.2.0');
    await add('1.3.0');
    assert.throws(
      () => registry.promote('LA', '1.2.0', 'production'),
      (err: unknown) => isSidewalkError(err, 'REGISTRY_STAGE_TRANSITION') && /only the canary/.test(err.message),
    );
    registry.promote('LA', '1.2.0', 'canary');
    // A new canary replaces the old one.
    const c = registry.promote('LA', '1.3.0', 'canary');
    assert.deepEqual(
      c.retired.map((m) => [m.version, m.stage]),
      [['1.2.0', 'retired']],
    );
    const p = registry.promote('LA', '1.3.0', 'production', 'canary healthy');
    assert.deepEqual(
      p.retired.map((m) => [m.version, m.stage]),
      [['1.1.0', 'retired']],
    );
    assert.deepEqual(
      registry.list({ location: 'LA', stage: 'production' }).map((m) => m.version),
      ['1.3.0'],
    );
    // Rollback: the retired former production model may come back; a never-production one may not.
    assert.throws(() => registry.promote('LA', '1.2.0', 'production'), /REGISTRY_STAGE_TRANSITION|only the canary/);
    const back = registry.promote('LA', '1.1.0', 'production', 'rollback');
    assert.equal(back.model.stage, 'production');
    assert.equal(registry.get('LA', '1.3.0').stage, 'retired');
    assert.deepEqual(
      registry.history(registry.get('LA', '1.1.0')).map((e) => `${e.from ?? '-'}>${e.to}:${e.reason}`),
      ['->candidate:registered', 'candidate>canary:promoted', 'canary>production:promoted', 'production>retired:replaced by 1.3.0', 'retired>production:rollback'],
    );
    assert.throws(() => registry.promote('LA', '1.3.0', 'canary'), /only a candidate can become canary/);
    registry.retire('LA', '1.1.0', 'bad rides');
    assert.equal(registry.current('LA', 'production'), undefined);
    assert.throws(() => registry.retire('LA', '1.1.0'), /already retired/);
  });

  test('versions are unique per location and the next version bumps the minor', async () => {
    assert.equal(registry.nextVersion('LA'), '1.4.0');
    assert.equal(registry.nextVersion('Denver'), '1.0.0');
    const again = await fixtureBundle(join(root, 'again'), 'LA', '1.3.0');
    const againReport = report('1.3.0', GOOD, { sha256: again.modelSha });
    await assert.rejects(registry.register({ bundleDir: again.dir, report: againReport, gates: checkGates('LA', againReport, null, GATES) }), (err: unknown) =>
      isSidewalkError(err, 'REGISTRY_VERSION_EXISTS'),
    );
    const other = await fixtureBundle(join(root, 'other'), 'LA', '1.9.0');
    const otherReport = report('1.9.0', GOOD, { sha256: 'not-this-model' });
    await assert.rejects(registry.register({ bundleDir: other.dir, report: otherReport, gates: checkGates('LA', otherReport, null, GATES) }), (err: unknown) =>
      isSidewalkError(err, 'REGISTRY_REPORT_MISMATCH'),
    );
    await add('1.0.0', GOOD, 'Denver');
    assert.deepEqual(
      registry.list({ location: 'Denver' }).map((m) => m.version),
      ['1.0.0'],
    );
  });

  test('the code revision comes from git when the tree is a checkout', () => {
    const rev = codeRevision();
    if (rev !== null) assert.match(rev, /^[0-9a-f]{40}(-dirty)?$/);
    assert.equal(codeRevision(root), null);
  });

  test('`sidewalk models` list, show, promote and retire', async () => {
    const run = async (...args: string[]): Promise<string> => {
      const program = new Command('sidewalk').exitOverride();
      registerRegistryCommands(program);
      let out = '';
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = ((chunk: string) => {
        out += chunk;
        return true;
      }) as typeof process.stdout.write;
      try {
        await program.parseAsync(args.includes('--registry') ? args : [...args, '--registry', registry.dir], { from: 'user' });
      } finally {
        process.stdout.write = write;
      }
      return out;
    };
    const listed = JSON.parse(await run('models', 'list', '--location', 'LA', '--json')) as { version: string; stage: string; dataset_hash: string }[];
    assert.deepEqual(
      listed.map((m) => `${m.version}:${m.stage}`),
      ['1.0.0:candidate', '1.1.0:retired', '1.2.0:retired', '1.3.0:retired'],
    );
    assert.equal(listed[0]!.dataset_hash, DATASET_HASH);
    assert.match(await run('models', 'list'), /^LOCATION\s+VERSION\s+NAME\s+STAGE[\s\S]*Denver\s+1\.0\.0\s+denver-ground\s+candidate\s+90\.0%/m);
    assert.match(await run('models', 'promote', 'Denver', '1.0.0', '--to', 'canary'), /Denver 1\.0\.0 is now canary/);
    assert.match(await run('models', 'promote', 'Denver', '1.0.0', '--to', 'production'), /Denver 1\.0\.0 is now production/);
    const shown = await run('models', 'show', 'Denver', '1.0.0');
    assert.match(shown, /code revision:\s+abc123/);
    assert.match(shown, /canary -> production/);
    assert.match(shown, /model\.tflite\s+\d+ bytes\s+sha256 [0-9a-f]{64}/);
    const full = JSON.parse(await run('models', 'show', 'Denver', '1.0.0', '--json')) as { metrics: { format: string }; history: unknown[] };
    assert.equal(full.metrics.format, 'sidewalk-eval/1');
    assert.equal(full.history.length, 3);
    assert.match(await run('models', 'retire', 'Denver', '1.0.0'), /Denver 1\.0\.0 is now retired/);
    await assert.rejects(run('models', 'show', 'Denver', '9.9.9'), (err: unknown) => isSidewalkError(err, 'REGISTRY_MODEL_UNKNOWN'));
    await assert.rejects(run('models', 'show', 'Denver', '1.0.0', '--registry', join(root, 'typo')), (err: unknown) => isSidewalkError(err, 'REGISTRY_MISSING'));
    assert.equal(await run('models', 'list', '--registry', join(root, 'typo')), 'no models registered\n', 'a fresh setup lists nothing');
    assert.equal(await run('models', 'list', '--json', '--registry', join(root, 'typo')), '[]\n');
    await assert.rejects(stat(join(root, 'typo')), 'a read command does not create a registry');
  });
});
