/**
 * The bad-input guard for the host and updater commands (`data`, `models`, `ota`, `train`, `eval`,
 * `pipeline`): every subcommand is run as a child process with a table of bad inputs (missing path,
 * empty file, wrong kind of file, truncated file, a folder that cannot exist even for root, invalid
 * config, unknown key, wrong key type), and each must end the way every command ends on bad input:
 * non-zero exit within seconds, one `sidewalk: CODE: message` line, no stack trace, and nothing
 * written where its output would have gone (test/helpers/cli-guard.ts). New commands join the table.
 */
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase } from '../../host-tools/data/db.js';
import { configureLogging } from '../../lib/log.js';
import { initSimDevice } from '../../ota/sim-init.js';
import { expectCleanFailure, type BadInputCase } from '../helpers/cli-guard.js';
import { FIXTURES, MENDER_REAL_DIR } from '../helpers/paths.js';
import { makeTempDirSync } from '../helpers/temp.js';

configureLogging({ level: 'silent' });

/** A path no one can create, root included: its parent is a regular file. */
const UNREACHABLE = '/etc/hostname/sidewalk-guard';

const dir = makeTempDirSync('sidewalk-guard-host-');
const p = (...parts: string[]) => join(dir, ...parts);
const MISSING = p('missing');

function fixtures(): void {
  writeFileSync(p('empty'), '');
  writeFileSync(p('text.txt'), 'not what any command expects\n');
  mkdirSync(p('folder'));
  writeFileSync(p('bad.yaml'), 'filters: [\n');
  writeFileSync(p('data-unknown.yaml'), 'labeling:\n  modelThreshold: 0.5\n');
  writeFileSync(p('data-typo.yaml'), 'filters:\n  blurMinVar: 10\n');
  writeFileSync(p('data-type.yaml'), 'filters:\n  darkMaxLuma: dark\n');
  writeFileSync(p('pipeline-unknown.yaml'), 'train:\n  epoch: 3\n');
  writeFileSync(p('pipeline-type.yaml'), 'train:\n  epochs: many\n');
  // A real dataset database cut short (the first page is incomplete).
  openDatabase(p('dataset.db')).close();
  writeFileSync(p('truncated.db'), readFileSync(p('dataset.db')).subarray(0, 1500));
  // A registry folder whose registry.db is not a registry, and one that is plain text.
  mkdirSync(p('foreign-registry'));
  openDatabase(p('foreign-registry', 'registry.db')).close();
  mkdirSync(p('text-registry'));
  writeFileSync(p('text-registry', 'registry.db'), 'hello\n');
  // A simulated scooter, and configs broken in each way.
  initSimDevice(p('scooter'));
  const good = readFileSync(p('scooter', 'ota.yaml'), 'utf8');
  writeFileSync(p('scooter', 'unknown.yaml'), `${good}bogus: 1\n`);
  writeFileSync(p('scooter', 'type.yaml'), good.replace('state_dir: state', 'state_dir: [1, 2]'));
  writeFileSync(p('scooter', 'no-disk.yaml'), good.replace('simulated_dir: disk', 'simulated_dir: no-disk'));
  writeFileSync(p('scooter', 'private-key.yaml'), good.replace('keys: [verify-key.pem]', 'keys: [host-signing-key.pem]'));
  writeFileSync(p('scooter', 'bad.yaml'), 'device_type: [\n');
  const artifact = readFileSync(join(MENDER_REAL_DIR, 'cli_artifact.mender'));
  writeFileSync(p('truncated.mender'), artifact.subarray(0, Math.floor(artifact.length / 2)));
  truncateSync(p('empty'), 0);
}

const data = (sub: string[], extra: Partial<BadInputCase> = {}): Omit<BadInputCase, 'name' | 'code'> => ({ args: ['data', ...sub], ...extra });

const CASES: BadInputCase[] = [];
function add(name: string, code: string | RegExp, c: Omit<BadInputCase, 'name' | 'code'>): void {
  CASES.push({ name, code, ...c });
}

// data ------------------------------------------------------------------------------------------------
add('data ingest: missing input (no database left behind)', 'DATA_INPUT_UNKNOWN', data(['ingest', MISSING, '--db', p('out', 'ingest.db')], { mustNotExist: [p('out', 'ingest.db')] }));
add('data ingest: wrong kind of input', 'DATA_INPUT_UNKNOWN', data(['ingest', p('text.txt'), '--db', p('out', 'ingest2.db')], { mustNotExist: [p('out', 'ingest2.db')] }));
add('data ingest: database folder cannot exist', 'DATA_DB_OPEN', data(['ingest', p('folder'), '--db', join(UNREACHABLE, 'd.db')]));
add('data ingest: invalid config', 'DATA_CONFIG_INVALID', data(['ingest', p('folder'), '--db', p('out', 'i3.db'), '--config', p('bad.yaml')], { mustNotExist: [p('out', 'i3.db')] }));
add('data stats: missing database (not created)', 'DATA_DB_MISSING', data(['stats', '--db', p('out', 'stats.db')], { mustNotExist: [p('out', 'stats.db')] }));
add('data stats: empty file', 'DATA_DB_NOT_DATABASE', data(['stats', '--db', p('empty')]));
add('data stats: wrong kind of file', 'DATA_DB_NOT_DATABASE', data(['stats', '--db', p('text.txt')]));
add('data stats: a folder', 'DATA_DB_OPEN', data(['stats', '--db', p('folder')]));
add('data stats: truncated database', 'DATA_DB_NOT_DATABASE', data(['stats', '--db', p('truncated.db')]));
add('data stats: a registry is not a dataset', 'DATA_DB_NOT_DATABASE', data(['stats', '--db', p('text-registry', 'registry.db')]));
add('data filter: unknown key', 'DATA_CONFIG_INVALID', data(['filter', '--db', p('dataset.db'), '--config', p('data-unknown.yaml')]));
add('data filter: misspelt key', 'DATA_CONFIG_INVALID', data(['filter', '--db', p('dataset.db'), '--config', p('data-typo.yaml')]));
add('data filter: wrong key type', 'DATA_CONFIG_INVALID', data(['filter', '--db', p('dataset.db'), '--config', p('data-type.yaml')]));
add('data filter: missing config', 'DATA_CONFIG_UNREADABLE', data(['filter', '--db', p('dataset.db'), '--config', MISSING]));
add('data filter: unreachable database', 'DATA_DB_OPEN', data(['filter', '--db', join(UNREACHABLE, 'd.db')]));
add('data label: missing model bundle (no database left behind)', 'MODEL_FILE_MISSING', data(['label', '--model', MISSING, '--db', p('out', 'label.db')], { mustNotExist: [p('out', 'label.db')] }));
add('data label: truncated database', 'DATA_DB_NOT_DATABASE', data(['label', '--db', p('truncated.db')]));
add('data split: wrong kind of database', 'DATA_DB_NOT_DATABASE', data(['split', '--location', 'LA', '--db', p('text.txt')]));
add('data split: unknown location', 'DATA_LOCATION_UNKNOWN', data(['split', '--location', 'Nowhere', '--db', p('dataset.db')]));
add('data split: --unfreeze of a split never frozen', 'DATA_LOCATION_UNKNOWN', data(['split', '--location', 'Nowhere', '--unfreeze', '--db', p('dataset.db')]));
add('data split: bad fractions', 'DATA_BAD_OPTION', data(['split', '--location', 'LA', '--fractions', '1,x', '--db', p('dataset.db')]));
add(
  'data export: wrong kind of database',
  'DATA_DB_NOT_DATABASE',
  data(['export', '--location', 'LA', '--out', p('out', 'export'), '--manifest', join(FIXTURES, 'models', 'float'), '--db', p('text.txt')], { mustNotExist: [p('out', 'export')] }),
);
add('data review: truncated database', 'DATA_DB_NOT_DATABASE', data(['review', '--port', '0', '--db', p('truncated.db')]));
add('data watch: wrong kind of database', 'DATA_DB_NOT_DATABASE', data(['watch', p('folder'), '--db', p('text.txt')]));
add(
  'data map: missing database (not created)',
  'DATA_DB_MISSING',
  data(['map', '1', '--out', p('out', 'map'), '--db', p('out', 'map.db')], { mustNotExist: [p('out', 'map.geojson'), p('out', 'map.db')] }),
);
add('data map: unknown ride', /^DATA_RIDE_/, data(['map', 'nope', '--out', p('out', 'map2'), '--db', p('dataset.db')], { mustNotExist: [p('out', 'map2.geojson')] }));
add('data synth: output folder cannot exist', 'DATA_OUTPUT_UNWRITABLE', data(['synth', '--out', UNREACHABLE, '--rides', '1']));
add('data synth: bad size', 'DATA_BAD_OPTION', data(['synth', '--out', p('out', 'synth'), '--size', 'big'], { mustNotExist: [p('out', 'synth')] }));

add('an unknown command, even with --help', 'CLI_UNKNOWN_COMMAND', { args: ['nosuch', '--help'] });
add('usage: a required option missing', 'CLI_USAGE', { args: ['data', 'export', '--location', 'LA', '--db', p('dataset.db')] });
add('eval: --model without --data (or --rides with --recorded-scores)', 'EVAL_ARGS_MISSING', { args: ['eval', '--model', MISSING, '--rides', MISSING] });
add('usage: an option value of the wrong type', 'CLI_USAGE', { args: ['train', '--data', p('folder'), '--out', p('out', 'train'), '--epochs', 'many'], mustNotExist: [p('out', 'train')] });
add('usage: an unknown option', 'CLI_USAGE', { args: ['data', 'stats', '--bogus', '--db', p('dataset.db')] });
add('usage: a choice not offered', 'CLI_USAGE', { args: ['models', 'promote', 'LA', '1.0.0', '--to', 'heaven', '--registry', MISSING] });

// models ----------------------------------------------------------------------------------------------
const models = (...args: string[]) => ({ args: ['models', ...args] });
add('models list: registry path is a file', 'REGISTRY_OPEN', models('list', '--registry', p('text.txt')));
add('models list: registry.db is not a database', 'REGISTRY_NOT_DATABASE', models('list', '--registry', p('text-registry')));
add('models list: registry.db is another SQLite file (left unchanged)', 'REGISTRY_NOT_DATABASE', models('list', '--registry', p('foreign-registry')));
add('models show: missing registry', 'REGISTRY_MISSING', models('show', 'LA', '1.0.0', '--registry', MISSING));
add('models promote: missing registry', 'REGISTRY_MISSING', models('promote', 'LA', '1.0.0', '--to', 'canary', '--registry', MISSING));
add('models promote: foreign SQLite file', 'REGISTRY_NOT_DATABASE', models('promote', 'LA', '1.0.0', '--to', 'canary', '--registry', p('foreign-registry')));
add('models retire: registry.db is not a database', 'REGISTRY_NOT_DATABASE', models('retire', 'LA', '1.0.0', '--registry', p('text-registry')));
add('models bundle: missing registry', 'REGISTRY_MISSING', { ...models('bundle', 'LA', '1.0.0', '--out', p('out', 'bundle'), '--registry', MISSING), mustNotExist: [p('out', 'bundle')] });

// ota -------------------------------------------------------------------------------------------------
const sc = (name: string) => p('scooter', name);
const ota = (...args: string[]) => ({ args: ['ota', ...args] });
add('ota status: missing config', 'CONFIG_UNREADABLE', ota('status', '-c', MISSING));
add('ota status: empty config', 'CONFIG_INVALID', ota('status', '-c', p('empty')));
add('ota status: invalid YAML', 'CONFIG_INVALID', ota('status', '-c', sc('bad.yaml')));
add('ota status: unknown key', 'CONFIG_INVALID', ota('status', '-c', sc('unknown.yaml')));
add('ota status: wrong key type', 'CONFIG_INVALID', ota('status', '-c', sc('type.yaml')));
add('ota status: simulated disk missing', 'OTA_SIM_MISSING', ota('status', '-c', sc('no-disk.yaml')));
add('ota install: missing artifact', 'OTA_ARTIFACT_MISSING', ota('install', MISSING, '-c', sc('ota.yaml')));
add('ota install: empty artifact', 'ARTIFACT_TRUNCATED', ota('install', p('empty'), '-c', sc('ota.yaml')));
add('ota install: wrong kind of file', 'ARTIFACT_TRUNCATED', ota('install', p('text.txt'), '-c', sc('ota.yaml')));
add('ota install: truncated artifact', /^ARTIFACT_/, ota('install', p('truncated.mender'), '-c', sc('ota.yaml')));
add('ota install: a folder', 'ARTIFACT_READ_FAILED', ota('install', p('folder'), '-c', sc('ota.yaml')));
add('ota install: a private key among the keys', 'ARTIFACT_KEY_PRIVATE', ota('install', join(MENDER_REAL_DIR, 'cli_artifact.mender'), '-c', sc('private-key.yaml')));
add('ota commit: nothing to commit', 'OTA_NOTHING_TO_COMMIT', ota('commit', '-c', sc('ota.yaml')));
add('ota rollback: nothing to roll back', 'OTA_NOTHING_TO_ROLL_BACK', ota('rollback', '-c', sc('ota.yaml')));
add('ota rollback --kind model: no previous model', 'OTA_NOTHING_TO_ROLL_BACK', ota('rollback', '--kind', 'model', '-c', sc('ota.yaml')));
add('ota daemon: unknown key', 'CONFIG_INVALID', ota('daemon', '--once', '-c', sc('unknown.yaml')));
add('ota sim init: folder not empty', 'OTA_SIM_EXISTS', ota('sim', 'init', p('scooter')));
add('ota sim init: folder cannot exist', 'OTA_SIM_UNWRITABLE', ota('sim', 'init', UNREACHABLE));
add('ota sim-boot: simulated disk missing', 'OTA_SIM_MISSING', ota('sim-boot', '-c', sc('no-disk.yaml')));

// train, eval, pipeline -------------------------------------------------------------------------------
add('train: --out is a file', 'TRAIN_OUT_NOT_DIR', { args: ['train', '--data', p('folder'), '--out', p('text.txt')] });
add('eval: missing model bundle', 'MODEL_FILE_MISSING', { args: ['eval', '--model', MISSING, '--data', p('folder'), '--out', p('out', 'eval')], mustNotExist: [p('out', 'eval')] });
add('eval: wrong kind of bundle', 'MODEL_FILE_MISSING', { args: ['eval', '--model', p('folder'), '--data', p('folder'), '--out', p('out', 'eval2')], mustNotExist: [p('out', 'eval2')] });
// A pipeline run records every run, failed ones too (WORK/runs/<id>/run.json, by design): its output
// proper is the registry, which a failed run must not create.
const pipeline = (name: string, code: string, extra: string[]) =>
  add(name, code, {
    args: ['pipeline', 'run', '--location', 'LA', '--work', p('out', `work-${CASES.length}`), '--registry', p('out', `reg-${CASES.length}`), ...extra],
    mustNotExist: [p('out', `reg-${CASES.length}`)],
  });
pipeline('pipeline run: invalid YAML', 'PIPELINE_CONFIG_INVALID', ['--config', p('bad.yaml'), '--db', p('dataset.db')]);
pipeline('pipeline run: unknown key', 'PIPELINE_CONFIG_INVALID', ['--config', p('pipeline-unknown.yaml'), '--db', p('dataset.db')]);
pipeline('pipeline run: wrong key type', 'PIPELINE_CONFIG_INVALID', ['--config', p('pipeline-type.yaml'), '--db', p('dataset.db')]);
pipeline('pipeline run: missing config', 'PIPELINE_CONFIG_UNREADABLE', ['--config', MISSING, '--db', p('dataset.db')]);

describe('bad input to the host and updater commands', () => {
  before(fixtures);
  after(() => rmSync(dir, { recursive: true, force: true }));

  // The updater takes a lock on its state folder: the cases on the one simulated scooter run in turn.
  describe('host tools', { concurrency: 4 }, () => {
    for (const c of CASES.filter((x) => x.args[0] !== 'ota')) test(c.name, async () => void (await expectCleanFailure(c)));
  });
  describe('updater', () => {
    for (const c of CASES.filter((x) => x.args[0] === 'ota')) test(c.name, async () => void (await expectCleanFailure(c)));
  });

  test('a foreign SQLite file given as the registry is left unchanged', async () => {
    const before = readFileSync(p('foreign-registry', 'registry.db'));
    await expectCleanFailure({ name: 'models retire', code: 'REGISTRY_NOT_DATABASE', args: ['models', 'retire', 'LA', '1.0.0', '--registry', p('foreign-registry')] });
    if (!readFileSync(p('foreign-registry', 'registry.db')).equals(before)) throw new Error('registry.db was changed');
  });
});
