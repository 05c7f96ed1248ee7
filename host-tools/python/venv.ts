/**
 * The host tools' Python virtual environment: the trainer (host-tools/train), the Keras evaluation
 * (host-tools/eval) and the OpenCV reference of the tests run in it. Created on first use from requirements.txt and
 * re-created whenever that file (or the base interpreter) changes, tracked by a hash file written
 * last, so an interrupted install is redone rather than trusted.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type ErrorCode, SidewalkError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { describeExit, outputTail, runProcess } from '../../lib/run-process.js';

const log = createLogger('python:venv');

export const TRAIN_DIR = resolve(REPO_ROOT, 'host-tools', 'train');
export const REQUIREMENTS_PATH = join(TRAIN_DIR, 'requirements.txt');
/** Test/evaluation extras (OpenCV as the reference of `resize: area`), installed on top by ensureEvalVenv. */
export const EVAL_REQUIREMENTS_PATH = join(TRAIN_DIR, 'requirements-eval.txt');
/** tensorflow-cpu 2.21 publishes no wheels for CPython 3.9. */
const MIN_PYTHON: readonly [number, number] = [3, 10];
const HASH_FILE = '.sidewalk-requirements.sha256';
const EVAL_HASH_FILE = '.sidewalk-eval-requirements.sha256';
const LOCK_WAIT_MS = 30 * 60 * 1000;
/** What is kept of pip's output to explain a failure. */
const OUTPUT_TAIL_CHARS = 64 * 1024;

export interface TrainVenvOptions {
  /** Default: $SIDEWALK_TRAIN_VENV, else $XDG_CACHE_HOME/sidewalk/train-venv (~/.cache/...). */
  venvDir?: string;
  requirementsPath?: string;
  /** Base interpreter. Default: $SIDEWALK_PYTHON, else python3 on PATH. */
  python?: string;
}

export interface TrainVenv {
  dir: string;
  /** The venv's interpreter; run tools as `<python> -m ...` (scripts' shebangs pin the path). */
  python: string;
  /** True when this call (re)built the environment. */
  created: boolean;
}

export function defaultVenvDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SIDEWALK_TRAIN_VENV) return resolve(env.SIDEWALK_TRAIN_VENV);
  const cache = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(cache, 'sidewalk', 'train-venv');
}

/** "Python 3.11.7" or "3.11.7" -> [3, 11, 7]. */
export function parsePythonVersion(text: string): [number, number, number] | undefined {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

interface BasePython {
  path: string;
  version: [number, number, number];
}

function probeBasePython(python: string): BasePython {
  const probe = spawnSync(python, ['-c', 'import sys; print(sys.executable); print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new SidewalkError(
      'TRAIN_PYTHON_MISSING',
      `cannot run ${python} (${probe.error?.message ?? probe.stderr.trim()}): training needs python3 >= ${MIN_PYTHON.join('.')}; ` +
        'install it (Debian: apt-get install python3 python3-venv) or point SIDEWALK_PYTHON at one',
    );
  }
  const [path = python, versionText = ''] = probe.stdout.trim().split('\n');
  const version = parsePythonVersion(versionText);
  if (!version || version[0] < MIN_PYTHON[0] || (version[0] === MIN_PYTHON[0] && version[1] < MIN_PYTHON[1])) {
    throw new SidewalkError(
      'TRAIN_PYTHON_TOO_OLD',
      `${path} is Python ${versionText || '?'}; training needs python3 >= ${MIN_PYTHON.join('.')} (tensorflow-cpu 2.21 wheels); set SIDEWALK_PYTHON to a newer interpreter`,
    );
  }
  const modules = spawnSync(python, ['-c', 'import venv, ensurepip'], { encoding: 'utf8' });
  if (modules.status !== 0) {
    throw new SidewalkError(
      'TRAIN_VENV_UNAVAILABLE',
      `${path} has no venv/ensurepip module (${modules.stderr.trim().split('\n').pop() ?? ''}); install it (Debian: apt-get install python3-venv python3-pip)`,
    );
  }
  return { path, version };
}

/** One installer at a time per venv dir (test files run concurrently); a dead holder's lock is taken over. */
async function withLock<T>(venvDir: string, work: () => Promise<T>): Promise<T> {
  const lockDir = `${venvDir}.lock`;
  await mkdir(dirname(lockDir), { recursive: true });
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(holder) && !isAlive(holder)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > LOCK_WAIT_MS) {
        throw new SidewalkError('TRAIN_VENV_LOCKED', `${lockDir} is held by process ${holder}; remove it if that process is gone`);
      }
      if (!announced) log.info(`waiting for another process (pid ${holder}) to finish setting up ${venvDir}`);
      announced = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Returns the trainer's venv, creating or re-creating it (with pip progress on stderr) when needed. */
export async function ensureTrainVenv(options: TrainVenvOptions = {}): Promise<TrainVenv> {
  const dir = resolve(options.venvDir ?? defaultVenvDir());
  const requirementsPath = options.requirementsPath ?? REQUIREMENTS_PATH;
  const requirements = await readFile(requirementsPath, 'utf8').catch((err: unknown) => {
    throw new SidewalkError('TRAIN_REQUIREMENTS_MISSING', `cannot read ${requirementsPath}: ${(err as Error).message}`);
  });
  const base = probeBasePython(options.python ?? process.env.SIDEWALK_PYTHON ?? 'python3');
  const wanted = createHash('sha256')
    .update(`${base.path}\n${base.version.join('.')}\n${requirements}`)
    .digest('hex');
  const python = join(dir, 'bin', 'python');
  const current = async (): Promise<boolean> => (await readFile(join(dir, HASH_FILE), 'utf8').catch(() => '')).trim() === wanted && existsSync(python);

  if (await current()) return { dir, python, created: false };
  return withLock(dir, async () => {
    if (await current()) return { dir, python, created: false };
    if (existsSync(dir)) {
      if (!existsSync(join(dir, 'pyvenv.cfg'))) {
        throw new SidewalkError('TRAIN_VENV_NOT_A_VENV', `${dir} exists but is not a Python venv (no pyvenv.cfg); choose another SIDEWALK_TRAIN_VENV`);
      }
      log.info(`requirements changed: re-creating ${dir}`);
      await rm(dir, { recursive: true, force: true });
    }
    log.info(`creating the training environment in ${dir} (Python ${base.version.join('.')}); the first install takes a few minutes`);
    await step(base.path, ['-m', 'venv', dir], 'TRAIN_VENV_FAILED', `${base.path} -m venv ${dir}`);
    await step(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', '-r', requirementsPath], 'TRAIN_PIP_FAILED', `pip install -r ${requirementsPath}`);
    await writeFile(join(dir, HASH_FILE), `${wanted}\n`);
    log.info(`training environment ready: ${dir}`);
    return { dir, python, created: true };
  });
}

/**
 * The trainer's venv plus requirements-eval.txt, installed once (and again when that file changes,
 * tracked by its own hash file; re-creating the venv for requirements.txt removes it too).
 */
export async function ensureEvalVenv(options: TrainVenvOptions & { evalRequirementsPath?: string } = {}): Promise<TrainVenv> {
  const venv = await ensureTrainVenv(options);
  const path = options.evalRequirementsPath ?? EVAL_REQUIREMENTS_PATH;
  const requirements = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new SidewalkError('TRAIN_REQUIREMENTS_MISSING', `cannot read ${path}: ${(err as Error).message}`);
  });
  const wanted = createHash('sha256').update(requirements).digest('hex');
  const current = async (): Promise<boolean> => (await readFile(join(venv.dir, EVAL_HASH_FILE), 'utf8').catch(() => '')).trim() === wanted;
  if (await current()) return venv;
  return withLock(venv.dir, async () => {
    if (!(await current())) {
      log.info(`installing ${path} into ${venv.dir}`);
      await step(venv.python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', '-r', path], 'TRAIN_PIP_FAILED', `pip install -r ${path}`);
      await writeFile(join(venv.dir, EVAL_HASH_FILE), `${wanted}\n`);
    }
    return venv;
  });
}

async function step(command: string, args: string[], code: ErrorCode, what: string): Promise<void> {
  const echo = (line: string): void => {
    if (line.trim()) process.stderr.write(`[train:venv] ${line}\n`);
  };
  const result = await runProcess(command, args, { onStdoutLine: echo, onStderrLine: echo, errorCode: code, maxOutputChars: OUTPUT_TAIL_CHARS });
  if (result.code !== 0) {
    throw new SidewalkError(code, `${what} failed (${describeExit(result)}): ${outputTail({ stdout: '', stderr: result.stderr })}`);
  }
}
