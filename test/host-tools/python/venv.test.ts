import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSidewalkError } from '../../../lib/errors.js';
import { EVAL_REQUIREMENTS_PATH, REQUIREMENTS_PATH, defaultVenvDir, ensureEvalVenv, ensureTrainVenv, parsePythonVersion } from '../../../host-tools/python/venv.js';
import { makeTempDir } from '../../helpers/temp.js';

describe('trainer venv', () => {
  let root: string;
  before(async () => {
    root = await makeTempDir('sidewalk-venv-');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('parses python versions', () => {
    assert.deepEqual(parsePythonVersion('Python 3.11.7'), [3, 11, 7]);
    assert.deepEqual(parsePythonVersion('3.9'), [3, 9, 0]);
    assert.equal(parsePythonVersion('no version here'), undefined);
  });

  test('default location honours SIDEWALK_TRAIN_VENV and XDG_CACHE_HOME', () => {
    assert.equal(defaultVenvDir({ SIDEWALK_TRAIN_VENV: '/opt/v' }), '/opt/v');
    assert.equal(defaultVenvDir({ XDG_CACHE_HOME: '/c' }), '/c/sidewalk/train-venv');
  });

  test('the pinned requirements name tensorflow-cpu 2.21.0, pillow and numpy exactly', async () => {
    const text = await readFile(REQUIREMENTS_PATH, 'utf8');
    for (const pin of ['tensorflow_cpu==2.21.0', 'numpy==', 'pillow==', 'keras==']) assert.ok(text.includes(pin), pin);
    const unpinned = text.split('\n').filter((l) => l.trim() && !l.startsWith('#') && !/^[A-Za-z0-9_.-]+==[^\s]+$/.test(l.trim()));
    assert.deepEqual(unpinned, []);
  });

  test('created once, reused, and re-created when requirements.txt changes', async () => {
    const requirements = join(root, 'requirements.txt');
    const dir = join(root, 'venv');
    await writeFile(requirements, '# nothing to install\n');
    const first = await ensureTrainVenv({ venvDir: dir, requirementsPath: requirements });
    assert.equal(first.created, true);
    const probe = spawnSync(first.python, ['-c', 'import sys; print(sys.prefix)'], { encoding: 'utf8' });
    assert.equal(probe.stdout.trim(), dir, 'the venv interpreter runs inside the venv');
    const marker = join(dir, 'marker');
    await writeFile(marker, 'x');

    const second = await ensureTrainVenv({ venvDir: dir, requirementsPath: requirements });
    assert.equal(second.created, false);
    await stat(marker); // untouched

    await writeFile(requirements, '# nothing to install, but a different file\n');
    const third = await ensureTrainVenv({ venvDir: dir, requirementsPath: requirements });
    assert.equal(third.created, true);
    await assert.rejects(stat(marker), /ENOENT/);
  });

  test('the evaluation extras are pinned, installed on top once, again when their file changes, and never re-create the venv', async () => {
    const pins = (await readFile(EVAL_REQUIREMENTS_PATH, 'utf8')).split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    assert.deepEqual(
      pins.map((l) => l.split('==')[0]),
      ['opencv-python-headless'],
    );
    assert.ok(
      pins.every((l) => /^[A-Za-z0-9_.-]+==[^\s]+$/.test(l.trim())),
      pins.join(),
    );

    const requirements = join(root, 'req-eval-base.txt');
    const extras = join(root, 'req-eval-extras.txt');
    const dir = join(root, 'venv-eval');
    await writeFile(requirements, '# base\n');
    await writeFile(extras, '# extras, nothing to install\n');
    const first = await ensureEvalVenv({ venvDir: dir, requirementsPath: requirements, evalRequirementsPath: extras });
    assert.equal(first.created, true);
    const hashFile = join(dir, '.sidewalk-eval-requirements.sha256');
    const installed = await stat(hashFile);
    const again = await ensureEvalVenv({ venvDir: dir, requirementsPath: requirements, evalRequirementsPath: extras });
    assert.equal(again.created, false);
    assert.equal((await stat(hashFile)).mtimeMs, installed.mtimeMs, 'not installed twice');
    const marker = join(dir, 'marker');
    await writeFile(marker, 'x');
    const before = await readFile(hashFile, 'utf8');
    await writeFile(extras, '# extras changed, still nothing to install\n');
    const changed = await ensureEvalVenv({ venvDir: dir, requirementsPath: requirements, evalRequirementsPath: extras });
    assert.equal(changed.created, false, 'the venv itself is kept');
    await stat(marker);
    assert.notEqual(await readFile(hashFile, 'utf8'), before, 'installed again for the changed file');
    await assert.rejects(
      ensureEvalVenv({ venvDir: dir, requirementsPath: requirements, evalRequirementsPath: join(root, 'missing.txt') }),
      (err: unknown) => isSidewalkError(err, 'TRAIN_REQUIREMENTS_MISSING') && err.message.includes('missing.txt'),
    );
  });

  test('a missing interpreter is reported with what to install', async () => {
    await assert.rejects(
      ensureTrainVenv({ venvDir: join(root, 'none'), python: join(root, 'no-such-python3') }),
      (err: unknown) => isSidewalkError(err, 'TRAIN_PYTHON_MISSING') && /python3 >= 3\.10/.test(err.message),
    );
  });

  test('refuses to replace a folder that is not a venv', async () => {
    const requirements = join(root, 'req-other.txt');
    await writeFile(requirements, '# x\n');
    const dir = join(root, 'precious');
    await mkdir(dir);
    await writeFile(join(dir, 'data.txt'), 'keep me');
    await assert.rejects(ensureTrainVenv({ venvDir: dir, requirementsPath: requirements }), (err: unknown) => isSidewalkError(err, 'TRAIN_VENV_NOT_A_VENV') && err.message.includes(dir));
    assert.equal(await readFile(join(dir, 'data.txt'), 'utf8'), 'keep me');
  });
});
