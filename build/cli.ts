import type { Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type ErrorCode, SidewalkError } from '../lib/errors.js';
import { inspectArtifact, type ArtifactInfo } from '../ota/artifact/index.js';
import { buildAppArtifact, buildRootfsArtifact } from './artifact-app.js';
import { buildModelArtifact } from './artifact-model.js';
import { buildBundleArtifact } from './bundle/artifact.js';
import { buildAppBundle, packBundle } from './bundle/index.js';
import { writeSigningKey, type KeyType } from './keys.js';
import type { CliCompression } from './mender-artifact-cli.js';

interface WriteOpts {
  key?: string;
  unsigned?: boolean;
  deviceType: string[];
  out: string;
  compression?: string;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** A file named on the command line must exist and be a file: `code` naming it otherwise. */
async function checkInputFile(path: string, what: string, code: ErrorCode): Promise<void> {
  const info = await stat(path).catch((err: Error) => {
    throw new SidewalkError(code, `${what} ${path} cannot be read: ${err.message}`, { cause: err, details: { path } });
  });
  if (!info.isFile()) throw new SidewalkError(code, `${what} ${path} is a folder, not a file`, { details: { path } });
}

/** The output must not be an existing folder (mender-artifact would fail late with its own words). */
async function checkOutputPath(path: string): Promise<void> {
  if ((await stat(path).catch(() => null))?.isDirectory()) throw new SidewalkError('BUILD_INVALID_OPTION', `--out ${path} is a folder; give a .mender file path`, { details: { path } });
  const folder = await stat(dirname(resolve(path))).catch(() => null);
  if (!folder?.isDirectory()) throw new SidewalkError('BUILD_INVALID_OPTION', `--out ${path}: its folder ${dirname(resolve(path))} does not exist or is not a folder`, { details: { path } });
}

function common(o: WriteOpts): { deviceTypes: string[]; output: string; privateKeyPath?: string; compression?: CliCompression } {
  if (!o.key && !o.unsigned) throw new SidewalkError('BUILD_INVALID_OPTION', '--key PEM is required (or --unsigned for test builds)');
  if (o.compression && !['gzip', 'lzma', 'none'].includes(o.compression)) {
    throw new SidewalkError('BUILD_INVALID_OPTION', `--compression ${o.compression}: use gzip, lzma or none (mender-artifact 3.9.0 has no zstd)`);
  }
  return {
    deviceTypes: o.deviceType,
    output: o.out,
    ...(o.key ? { privateKeyPath: o.key } : {}),
    ...(o.compression ? { compression: o.compression as CliCompression } : {}),
  };
}

function writeCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .option('-k, --key <pem>', 'private signing key (EC P-256 or RSA; see `artifact keygen`)')
    .option('--unsigned', 'write an unsigned artifact (tests only; devices refuse it)')
    .requiredOption('-t, --device-type <type>', 'compatible device type (repeatable)', collect)
    .requiredOption('-o, --out <file>', 'output .mender file')
    .option('--compression <kind>', 'gzip (default), lzma or none')
    .hook('preAction', async (cmd) => {
      const o = cmd.opts<{ out: string; key?: string }>();
      await checkOutputPath(o.out);
      if (o.key) await checkInputFile(o.key, 'signing key', 'BUILD_INVALID_OPTION');
      process.stderr.write(`writing ${cmd.opts<{ out: string }>().out} with mender-artifact ...\n`);
    });
}

function printInfo(file: string, i: ArtifactInfo): void {
  const kv = (o: Record<string, unknown>): string =>
    Object.entries(o)
      .map(([k, v]) => `\n    ${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)
      .join('') || ' -';
  const sig = i.signature ? `${i.signature.scheme}, ${i.signature.verified ? 'verified' : 'NOT verified (no key given)'}` : 'unsigned';
  process.stdout.write(
    `${file}\n  name: ${i.name}\n  type: ${i.payloadType || '(none: bootstrap)'}\n  device types: ${i.deviceTypes.join(', ')}\n` +
      `  signature: ${sig}\n  compression: ${i.compression}\n  provides:${kv(i.provides)}\n  depends:${kv(i.depends)}\n` +
      `  clears provides: ${i.clearsProvides.join(', ') || '-'}\n  meta-data: ${JSON.stringify(i.metaData)}\n` +
      (i.scripts?.length ? `  state scripts: ${i.scripts.join(', ')}\n` : '') +
      `  files:${i.files.map((f) => `\n    ${f.name}  ${f.size} bytes  sha256 ${f.sha256}`).join('') || ' -'}\n`,
  );
}

const say = (msg: string): void => void process.stderr.write(`[bundle] ${msg}\n`);

function done(file: string, info: ArtifactInfo): void {
  process.stderr.write(`wrote ${file}: ${info.name} (${info.payloadType}, ${info.signature ? info.signature.scheme : 'unsigned'}), validated by mender-artifact and our reader\n`);
}

export function registerArtifactCommands(program: Command): void {
  const artifact = program.command('artifact').description('write, sign and verify Mender v3 artifacts (models, app, OS images)');

  writeCommand(artifact, 'model <bundle>', 'module-image of type sidewalk-model from a model bundle directory (manifest.json + files)')
    .option('--allow-demo', 'allow a demo_only model (test fleets only)')
    .action(async (bundle: string, o: WriteOpts & { allowDemo?: boolean }) => {
      const info = await buildModelArtifact({ bundleDir: bundle, ...common(o), ...(o.allowDemo ? { allowDemo: true } : {}) });
      done(o.out, info);
    });

  writeCommand(artifact, 'app', 'module-image of type sidewalk-app: a tarball of dist/, package.json and package-lock.json (host arch), or with --arm64/--bundle the arm64 app bundle')
    .option('--arm64', 'payload = the arm64 app bundle, built now (see `artifact bundle`)')
    .option('--bundle <dir>', 'payload = this already built arm64 app bundle (checked against its manifest first)')
    .action(async (o: WriteOpts & { arm64?: boolean; bundle?: string }) => {
      const info = o.arm64 || o.bundle ? await buildBundleArtifact({ ...common(o), ...(o.bundle ? { bundleDir: o.bundle } : { build: { say } }) }) : await buildAppArtifact(common(o));
      done(o.out, info);
    });

  artifact
    .command('bundle')
    .description('build the arm64 app bundle folder (pinned Node, arm64 addons, device code; what the image installs as /opt/sidewalk)')
    .requiredOption('-o, --out <dir>', 'output folder (replaced if it holds an earlier bundle)')
    .option('--tar <file>', 'also write its reproducible .tar.gz')
    .option('--cache <dir>', 'cache for the pinned Node package (default ~/.cache/sidewalk)')
    .action(async (o: { out: string; tar?: string; cache?: string }) => {
      const started = Date.now();
      const r = await buildAppBundle({ out: o.out, say, ...(o.cache ? { cacheDir: join(o.cache, 'arm64') } : {}) });
      if (o.tar) await packBundle(r.dir, o.tar, r.manifest.epoch);
      const m = r.manifest;
      process.stdout.write(
        `${r.dir}\n  ${m.app.name} ${m.app.version} ${m.arch}, node ${m.node.version}, ${m.files.length} files, ${(r.bytes / 1e6).toFixed(1)} MB` +
          `${o.tar ? `\n  ${o.tar}` : ''}\n  ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    });

  writeCommand(artifact, 'rootfs <image>', 'OS image for the inactive A/B slot: rootfs-image, or module rootfs-tryboot with --tryboot')
    .requiredOption('-n, --name <name>', 'artifact name (e.g. os-2025.01)')
    .option('--software-version <v>', 'rootfs-image.version value (default: the name)')
    .option('--tryboot', 'write module-image rootfs-tryboot (correct type-info type) providing rootfs-image.version')
    .action(async (image: string, o: WriteOpts & { name: string; softwareVersion?: string; tryboot?: boolean }) => {
      const info = await buildRootfsArtifact({
        image,
        name: o.name,
        ...common(o),
        ...(o.softwareVersion ? { softwareVersion: o.softwareVersion } : {}),
        ...(o.tryboot ? { tryboot: true } : {}),
      });
      done(o.out, info);
    });

  artifact
    .command('keygen')
    .description('generate a signing key pair in the formats mender-artifact 3.9.0 accepts (SEC1 EC P-256 / PKCS#1 RSA-3072)')
    .requiredOption('--type <ec|rsa>', 'key type')
    .requiredOption('--out <dir>', 'directory for <type>-private.pem (0600) and <type>-public.pem')
    .action(async (o: { type: string; out: string }) => {
      if (o.type !== 'ec' && o.type !== 'rsa') throw new SidewalkError('BUILD_INVALID_OPTION', `--type ${o.type}: use ec or rsa`);
      const paths = await writeSigningKey(o.out, o.type as KeyType);
      process.stdout.write(`${paths.privateKeyPath}\n${paths.publicKeyPath}\n`);
    });

  artifact
    .command('verify <file>')
    .description('read and verify an artifact completely (signature, checksums, header, device type); print what it is')
    .option('-k, --key <pem>', 'public key (repeatable); the signature must verify with one of them', collect)
    .option('-t, --device-type <type>', 'refuse unless the artifact is compatible with this device type')
    .option('--allow-unsigned', 'accept unsigned artifacts (and signed ones without --key, unverified)')
    .option('--json', 'print the description as JSON')
    .action(async (file: string, o: { key?: string[]; deviceType?: string; allowUnsigned?: boolean; json?: boolean }) => {
      await checkInputFile(file, 'artifact', 'ARTIFACT_READ_FAILED');
      for (const k of o.key ?? []) await checkInputFile(k, 'public key', 'ARTIFACT_KEY_INVALID');
      const publicKeys = await Promise.all((o.key ?? []).map((k) => readFile(k, 'utf8')));
      const info = await inspectArtifact(file, {
        publicKeys,
        ...(o.allowUnsigned ? { allowUnsigned: true } : {}),
        ...(o.deviceType ? { deviceType: o.deviceType } : {}),
      });
      if (o.json) process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      else printInfo(file, info);
    });
}
