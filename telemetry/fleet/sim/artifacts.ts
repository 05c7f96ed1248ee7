/**
 * Model artifacts for a simulated fleet, written by build/ with the real mender-artifact CLI from the
 * repository's float fixture model (test/fixtures/models/float): signed with the fleet's key, unsigned,
 * or signed with a foreign key. Host-side simulation, never shipped to a device.
 */
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModelArtifact } from '../../../build/artifact-model.js';
import { REPO_ROOT } from '../../../lib/paths.js';

export interface Artifacts {
  dir: string;
  /** The devices' artifact verification key (SPKI PEM). */
  publicKeyPem: string;
  /** The private key the signed artifacts use (SEC1 PEM file). */
  signingKeyPath: string;
  signed(version: string): Promise<string>;
  unsigned(version: string): Promise<string>;
  foreignSigned(version: string): Promise<string>;
}

/** An EC P-256 signing key pair in `dir`: the private key file and the public key PEM. */
async function signingKey(dir: string): Promise<{ privatePath: string; publicPem: string }> {
  const ec = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'sec1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const privatePath = join(dir, 'signing-ec.key');
  await writeFile(privatePath, ec.privateKey, { mode: 0o600 });
  return { privatePath, publicPem: ec.publicKey };
}

export async function modelArtifacts(dir: string): Promise<Artifacts> {
  const own = await signingKey(dir);
  const foreign = await signingKey(await mkdtemp(join(dir, 'foreign-')));
  const build = async (version: string, key: string | undefined, tag: string): Promise<string> => {
    const bundle = join(dir, `bundle-${version}-${tag}`);
    const src = join(REPO_ROOT, 'test', 'fixtures', 'models', 'float');
    await mkdir(bundle, { recursive: true });
    await cp(join(src, 'model.tflite'), join(bundle, 'model.tflite'));
    const manifest = JSON.parse(await readFile(join(src, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    delete manifest.min_app_version;
    await writeFile(join(bundle, 'manifest.json'), JSON.stringify({ ...manifest, name: 'sidewalk-la', version, location: 'LA', demo_only: false }));
    const out = join(dir, `model-${version}-${tag}.mender`);
    await buildModelArtifact({ bundleDir: bundle, deviceTypes: ['raspberrypi4'], output: out, ...(key ? { privateKeyPath: key } : {}) });
    return out;
  };
  return {
    dir,
    publicKeyPem: own.publicPem,
    signingKeyPath: own.privatePath,
    signed: (v) => build(v, own.privatePath, 'signed'),
    unsigned: (v) => build(v, undefined, 'unsigned'),
    foreignSigned: (v) => build(v, foreign.privatePath, 'foreign'),
  };
}
