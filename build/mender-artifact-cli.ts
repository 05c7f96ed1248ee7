import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { describeExit, outputTail, runProcess, type ProcessResult } from '../lib/run-process.js';
import { inspectArtifact } from '../ota/artifact/index.js';
import type { ArtifactInfo } from '../ota/artifact/index.js';
import { publicKeyPemOf, toCliPrivateKeyPem } from './keys.js';

/**
 * Wrapper around the real `mender-artifact` CLI (Debian 3.9.0). Its exit code is not trusted:
 * invalid parameters exit 0 and `read` exits 0 on failed verification, so every write is followed by
 * `validate` (whose success line is checked, not its exit code) and by our own reader.
 */
const log = createLogger('build:mender-artifact');
const MENDER_ARTIFACT_BIN = process.env.SIDEWALK_MENDER_ARTIFACT ?? 'mender-artifact';

export type CliResult = ProcessResult;

/** Runs `mender-artifact args`; its exit code is the caller's to judge (see above). */
export async function runMenderArtifact(args: string[], timeoutMs = 300_000): Promise<CliResult> {
  log.debug(() => `${MENDER_ARTIFACT_BIN} ${args.join(' ')}`);
  return runProcess(MENDER_ARTIFACT_BIN, args, { timeoutMs, errorCode: 'BUILD_CLI_FAILED', installPackage: 'mender-artifact' });
}

export type CliCompression = 'gzip' | 'lzma' | 'none';

export interface WriteArtifactOptions {
  kind: 'module-image' | 'rootfs-image' | 'bootstrap-artifact';
  /** module-image payload type (-T). */
  type?: string;
  name: string;
  deviceTypes: string[];
  output: string;
  files?: string[];
  provides?: Record<string, string>;
  depends?: Record<string, string>;
  artifactNameDepends?: string[];
  providesGroup?: string;
  dependsGroups?: string[];
  clearsProvides?: string[];
  noDefaultClearsProvides?: boolean;
  noDefaultSoftwareVersion?: boolean;
  softwareName?: string;
  softwareVersion?: string;
  /** Flat JSON object for headers/0000/meta-data. */
  metaData?: Record<string, unknown>;
  scripts?: string[];
  compression?: CliCompression;
  /** PEM private key file (PKCS#1, SEC1 or PKCS#8: converted for 3.9.0). Unsigned when absent. */
  privateKeyPath?: string;
}

function writeArgs(o: WriteArtifactOptions, tmp: { key?: string; meta?: string }): string[] {
  const a = ['write', o.kind, '-n', o.name, '-o', o.output];
  // 3.9.0: module-image has no --no-progress (and fails with exit 1 on it).
  if (o.kind === 'module-image') a.push('-T', o.type ?? '');
  else a.push('--no-progress');
  for (const t of o.deviceTypes) a.push('-t', t);
  for (const f of o.files ?? []) a.push('-f', f);
  for (const [k, v] of Object.entries(o.provides ?? {})) a.push('-p', `${k}:${v}`);
  for (const [k, v] of Object.entries(o.depends ?? {})) a.push('-d', `${k}:${v}`);
  for (const n of o.artifactNameDepends ?? []) a.push('-N', n);
  if (o.providesGroup) a.push('-g', o.providesGroup);
  for (const g of o.dependsGroups ?? []) a.push('-G', g);
  for (const c of o.clearsProvides ?? []) a.push('--clears-provides', c);
  if (o.noDefaultClearsProvides) a.push('--no-default-clears-provides');
  if (o.noDefaultSoftwareVersion) a.push('--no-default-software-version');
  if (o.softwareName) a.push('--software-name', o.softwareName);
  if (o.softwareVersion) a.push('--software-version', o.softwareVersion);
  if (tmp.meta) a.push('-m', tmp.meta);
  for (const s of o.scripts ?? []) a.push('-s', s);
  if (o.compression) a.push('--compression', o.compression);
  if (tmp.key) a.push('-k', tmp.key);
  return a;
}

function describe(r: CliResult): string {
  return outputTail(r) || describeExit(r);
}

/**
 * Runs `mender-artifact write ...`, then validates the file with `mender-artifact validate` and with
 * our reader (same key). Returns what our reader sees.
 */
export async function writeArtifact(o: WriteArtifactOptions): Promise<ArtifactInfo> {
  if (o.deviceTypes.length === 0) throw new SidewalkError('BUILD_INVALID_OPTION', 'at least one device type is required');
  if (o.kind === 'module-image' && !o.type) throw new SidewalkError('BUILD_INVALID_OPTION', 'module-image needs a payload type');
  const tmpDir = await mkdtemp(join(tmpdir(), 'sidewalk-artifact-'));
  try {
    const tmp: { key?: string; meta?: string } = {};
    let publicKeyPem: string | undefined;
    if (o.privateKeyPath) {
      const pem = await readFile(o.privateKeyPath, 'utf8');
      tmp.key = join(tmpDir, 'key.pem');
      await writeFile(tmp.key, toCliPrivateKeyPem(pem, o.privateKeyPath), { mode: 0o600 });
      publicKeyPem = publicKeyPemOf(pem, o.privateKeyPath);
    }
    if (o.metaData) {
      tmp.meta = join(tmpDir, 'meta-data.json');
      await writeFile(tmp.meta, JSON.stringify(o.metaData));
    }
    await rm(o.output, { force: true }); // a stale file must not pass for a fresh one
    const r = await runMenderArtifact(writeArgs(o, tmp));
    const written = await stat(o.output).then(
      (s) => s.size > 0,
      () => false,
    );
    if (r.code !== 0 || !written || /\b(error|invalid|failed|can ?not)\b/i.test(r.stderr)) {
      await rm(o.output, { force: true });
      throw new SidewalkError('BUILD_CLI_FAILED', `mender-artifact write ${o.kind} ${o.output}: ${describe(r)}`);
    }
    let publicKeyPath: string | undefined;
    if (publicKeyPem) {
      publicKeyPath = join(tmpDir, 'public.pem');
      await writeFile(publicKeyPath, publicKeyPem);
    }
    await validateWithCli(o.output, publicKeyPath);
    return await inspectArtifact(o.output, { publicKeys: publicKeyPem ? [publicKeyPem] : [], allowUnsigned: !publicKeyPem });
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

/** `mender-artifact validate [-k key] file`, trusting only its "validated successfully" line. */
export async function validateWithCli(file: string, publicKeyPath?: string): Promise<void> {
  const r = await runMenderArtifact(['validate', ...(publicKeyPath ? ['-k', publicKeyPath] : []), file]);
  if (r.code !== 0 || !/validated successfully/.test(r.stdout) || r.stderr.trim() !== '') {
    throw new SidewalkError('BUILD_VALIDATE_FAILED', `mender-artifact validate ${file}: ${describe(r)}`);
  }
}
