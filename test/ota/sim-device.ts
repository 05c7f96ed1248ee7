/**
 * A simulated Sidewalk Guard device for the updater's tests: file-backed partitions and the firmware
 * model (ota/boot/simulated.ts), a data partition with an OTA state folder, model and app stores, and
 * unrelated user data whose survival every test checks. Artifacts are in-memory stand-ins with the
 * reader's contract (payload streams that fail at their end on a checksum mismatch).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SidewalkError } from '../../lib/errors.js';
import type { ArtifactInfo, OpenedArtifact } from '../../ota/artifact/types.js';
import { parseAutoboot } from '../../ota/boot/autoboot.js';
import { makeSimImage } from '../../ota/boot/sim-image.js';
import { SimulatedBootControl, SimulatedFirmware, simulatedLayout, type BootOutcome } from '../../ota/boot/simulated.js';
import type { OtaFs } from '../../ota/fs.js';
import type { HealthResult } from '../../ota/install/health.js';
import { VersionStore } from '../../ota/install/store.js';
import { Updater, type UpdaterOptions } from '../../ota/install/updater.js';
import { makeTempDirSync } from '../helpers/temp.js';

export const BOOT_BYTES = 64 * 1024;
export const ROOT_BYTES = 320 * 1024;
export const CHUNK_BYTES = 8 * 1024;

export interface FakeArtifact {
  info: ArtifactInfo;
  files: { name: string; data: Buffer }[];
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function fakeArtifact(payloadType: string, name: string, files: { name: string; data: Buffer }[], provides: Record<string, string> = {}, clears: string[] = []): FakeArtifact {
  return {
    info: {
      formatVersion: 3,
      name,
      payloadType,
      deviceTypes: ['raspberrypi4'],
      provides: { artifact_name: name, ...provides },
      depends: {},
      clearsProvides: clears,
      metaData: {},
      files: files.map((f) => ({ name: f.name, size: f.data.length, sha256: sha(f.data) })),
      signature: null,
      compression: 'gzip',
    },
    files,
  };
}

/** Opens a fake artifact with the reader's contract (stream, or chunks lent until released); `corrupt` flips a byte of the named file's content. */
export function openFake(a: FakeArtifact, corrupt?: string): OpenedArtifact {
  return {
    info: a.info,
    async *payloads() {
      for (const f of a.files) {
        const want = a.info.files.find((x) => x.name === f.name)!.sha256;
        const data = Buffer.from(f.data);
        if (corrupt === f.name) data[data.length >> 1]! ^= 0xff;
        async function* chunks() {
          for (let off = 0; off < data.length; off += CHUNK_BYTES) yield data.subarray(off, off + CHUNK_BYTES);
          if (sha(data) !== want) throw new SidewalkError('ARTIFACT_PAYLOAD_CHECKSUM', `${f.name}: invalid checksum`);
        }
        const pieces = chunks();
        // Lent chunks are poisoned on release, as a pooled reader would read over them: a consumer
        // that releases a chunk before its write has landed writes garbage.
        async function* lent() {
          for await (const piece of pieces) {
            const data = Buffer.from(piece);
            yield { data, release: () => void data.fill(0xee) };
          }
        }
        yield { name: f.name, size: data.length, stream: Readable.from(pieces, { objectMode: false }), chunks: lent };
      }
    },
    close: async () => {},
  };
}

export function osArtifact(version: string, options: { panics?: boolean } = {}): FakeArtifact {
  return fakeArtifact(
    'rootfs-image',
    `os-${version}`,
    [
      { name: 'boot.vfat', data: makeSimImage({ version: `boot-${version}`, bodyBytes: 24 * 1024 }) },
      { name: 'root.ext4', data: makeSimImage({ version, bodyBytes: 200 * 1024, panics: options.panics ?? false }) },
    ],
    { 'rootfs-image.version': version },
    ['rootfs-image.*', 'artifact_group'],
  );
}

export function modelBundle(version: string): { name: string; data: Buffer }[] {
  const model = Buffer.alloc(40 * 1024, version);
  const labels = Buffer.from('bike_lane\ncrosswalk\nside\nstreet\n');
  const manifest = {
    name: 'sidewalk-classifier',
    version,
    files: { 'model.tflite': { sha256: sha(model), bytes: model.length }, 'labels.txt': { sha256: sha(labels), bytes: labels.length } },
  };
  return [
    { name: 'model.tflite', data: model },
    { name: 'labels.txt', data: labels },
    { name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) },
  ];
}

export function modelArtifact(version: string): FakeArtifact {
  return fakeArtifact('sidewalk-model', `model-${version}`, modelBundle(version), { 'rootfs-image.sidewalk-model.version': version }, ['rootfs-image.sidewalk-model.*']);
}

/** A gzipped app tarball as `artifact app` packs it. */
function appTarball(version: string): Buffer {
  const dir = makeTempDirSync('sidewalk-app-');
  try {
    mkdirSync(join(dir, 'dist', 'runtime'), { recursive: true });
    writeFileSync(join(dir, 'main.js'), `console.log("app ${version}")\n`);
    writeFileSync(join(dir, 'dist', 'runtime', 'service.js'), Buffer.alloc(30 * 1024, version));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sidewalk-guard', version }));
    return execFileSync('tar', ['-cz', '-C', dir, '.'], { maxBuffer: 1 << 24 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function appArtifact(version: string): FakeArtifact {
  return fakeArtifact('sidewalk-app', `app-${version}`, [{ name: 'sidewalk-app.tar.gz', data: appTarball(version) }], { 'rootfs-image.sidewalk-app.version': version }, [
    'rootfs-image.sidewalk-app.*',
  ]);
}

/** Checks a model store version folder against its manifest; null when good, else the problem. */
export function modelProblem(dir: string): string | null {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, { sha256: string }> };
    for (const [name, f] of Object.entries(manifest.files)) if (sha(readFileSync(join(dir, name))) !== f.sha256) return `${name} damaged`;
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

type TreeEntry = { rel: string; kind: 'dir' } | { rel: string; kind: 'link'; target: string } | { rel: string; kind: 'file'; data: Buffer };
const snapshots = new Map<string, TreeEntry[]>();

/** The template in memory (copying it file by file with cpSync is several times slower). */
function snapshotTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = join(rel, name);
      const st = lstatSync(join(root, r));
      if (st.isSymbolicLink()) out.push({ rel: r, kind: 'link', target: readlinkSync(join(root, r)) });
      else if (st.isDirectory()) {
        out.push({ rel: r, kind: 'dir' });
        walk(r);
      } else out.push({ rel: r, kind: 'file', data: readFileSync(join(root, r)) });
    }
  };
  walk('');
  return out;
}

export class SimDevice {
  readonly dir: string;
  readonly firmware: SimulatedFirmware;
  readonly dataDir: string;
  readonly stateDir: string;
  /** Artifacts by path, opened through openFake. */
  readonly artifacts = new Map<string, FakeArtifact>();
  lastBoot: BootOutcome | null = null;
  /** Health verdicts the fake runtime gives, by version (default: healthy). */
  readonly unhealthy = new Set<string>();
  moving = false;
  notified: string[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.firmware = new SimulatedFirmware(simulatedLayout(dir));
    this.dataDir = join(dir, 'data');
    this.stateDir = join(this.dataDir, 'ota');
  }

  /**
   * A factory-fresh device: slot A = OS 1.0, model 1.0.0 and app 1.0.0 installed, some user data.
   * `emptyStores`: no model or app installed yet (their first install is still to come).
   */
  static template(options: { emptyStores?: boolean } = {}): string {
    const dir = makeTempDirSync('sidewalk-ota-template-');
    const dev = new SimDevice(dir);
    SimulatedFirmware.createDisk(dev.firmware.layout, {
      bootBytes: BOOT_BYTES,
      rootBytes: ROOT_BYTES,
      bootA: makeSimImage({ version: 'boot-1.0', bodyBytes: 24 * 1024 }),
      rootA: makeSimImage({ version: '1.0', bodyBytes: 200 * 1024 }),
    });
    mkdirSync(join(dev.dataDir, 'recordings', 'ride-1'), { recursive: true });
    writeFileSync(join(dev.dataDir, 'recordings', 'ride-1', 'sensors.log'), 'time,speed\n1,10\n2,11\n');
    writeFileSync(join(dev.dataDir, 'device.yaml'), 'device: {id: sc-1, location: denver}\n');
    for (const [kind, files] of [
      ['model', modelBundle('1.0.0')],
      ['app', [{ name: 'main.js', data: Buffer.from('console.log("app 1.0.0")\n') }]],
    ] as const) {
      if (options.emptyStores) break;
      const root = join(dev.stateDir, 'stores', kind);
      mkdirSync(join(root, 'versions', '1.0.0'), { recursive: true });
      for (const f of files) writeFileSync(join(root, 'versions', '1.0.0', f.name), f.data);
      symlinkSync(join('versions', '1.0.0'), join(root, 'current'));
    }
    mkdirSync(dev.stateDir, { recursive: true });
    writeFileSync(join(dev.stateDir, 'provides.json'), JSON.stringify({ current: { artifact_name: 'os-1.0', 'rootfs-image.version': '1.0' }, previous: null }));
    return dir;
  }

  static fromTemplate(template: string): SimDevice {
    const dir = makeTempDirSync('sidewalk-ota-dev-');
    let snapshot = snapshots.get(template);
    if (!snapshot) {
      snapshot = snapshotTree(template);
      snapshots.set(template, snapshot);
    }
    for (const e of snapshot) {
      const p = join(dir, e.rel);
      if (e.kind === 'dir') mkdirSync(p, { recursive: true });
      else if (e.kind === 'link') symlinkSync(e.target, p);
      else writeFileSync(p, e.data);
    }
    return new SimDevice(dir);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  boot(): BootOutcome {
    this.lastBoot = this.firmware.boot();
    return this.lastBoot;
  }

  store(fs: OtaFs, kind: 'model' | 'app'): VersionStore {
    return new VersionStore(fs, join(this.stateDir, 'stores', kind), kind);
  }

  updater(fs: OtaFs, overrides: Partial<UpdaterOptions> = {}): Updater {
    const verdict = (what: string): HealthResult => (this.unhealthy.has(what) ? { ok: false, reason: `${what} is unhealthy` } : { ok: true, polls: 1 });
    return new Updater({
      fs,
      stateDir: this.stateDir,
      stores: { model: this.store(fs, 'model'), app: this.store(fs, 'app') },
      boot: new SimulatedBootControl({ fs, firmware: this.firmware }),
      openArtifact: async (path) => {
        const a = this.artifacts.get(path);
        if (!a) throw new SidewalkError('ARTIFACT_READ_FAILED', `${path}: no such artifact`);
        return openFake(a);
      },
      health: {
        os: async () => verdict(this.lastBoot?.ok ? this.lastBoot.os.version : '?'),
        model: async (v) => verdict(`model-${v}`),
        app: async (v) => verdict(`app-${v}`),
      },
      notifyRuntime: async (kind) => {
        this.notified.push(kind);
      },
      isMoving: async () => this.moving,
      lockPollMs: 0,
      sleep: async () => {},
      ...overrides,
    });
  }

  autobootDefaultSlot(): 'A' | 'B' {
    const a = parseAutoboot(readFileSync(join(this.firmware.layout.selectorDir, 'autoboot.txt'), 'utf8'));
    return a.defaultPartition === 2 ? 'A' : 'B';
  }

  provides(): Record<string, string> {
    return (JSON.parse(readFileSync(join(this.stateDir, 'provides.json'), 'utf8')) as { current: Record<string, string> }).current;
  }

  /** Content of every file on the data partition outside the OTA folder (the user's data). */
  userData(): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (p === this.stateDir) continue;
        if (statSync(p).isDirectory()) walk(p);
        else out.set(p.slice(this.dataDir.length), sha(readFileSync(p)));
      }
    };
    walk(this.dataDir);
    return out;
  }
}
