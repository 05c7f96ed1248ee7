/**
 * Coral Edge TPU availability. Passing the Coral external delegate when libedgetpu.so.1 cannot be
 * loaded segfaults Node inside TfLiteInterpreterCreate (runtime.md §0 item 5), which no try/catch
 * survives; so the library (and an accelerator) are probed here, in JS, before the delegate is
 * ever handed to the interpreter. A failed probe is EDGETPU_UNAVAILABLE.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../../lib/errors.js';
import { runProcess } from '../../lib/run-process.js';
import { InferenceErrorCode } from './errors.js';

export const EDGETPU_LIBRARY = 'libedgetpu.so.1';

/** Directories searched when `ldconfig -p` does not know the library (Debian multiarch first). */
const DEFAULT_LIBRARY_DIRS = ['/usr/lib/aarch64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/local/lib', '/usr/lib', '/lib'];

/** USB ids of the Coral USB Accelerator before (Global Unichip) and after (Google) firmware load. */
const CORAL_USB_IDS = new Set(['1a6e:089a', '18d1:9302']);

export interface EdgeTpuProbeOptions {
  /** Directories to search instead of LD_LIBRARY_PATH + DEFAULT_LIBRARY_DIRS. */
  libraryDirs?: string[];
  /** Whether to ask `ldconfig -p` (default true). */
  useLdconfig?: boolean;
  /** Root for /dev and /sys lookups (tests point it at a temporary tree). */
  sysRoot?: string;
}

export interface EdgeTpuInfo {
  libraryPath: string;
  /** 'usb' or 'pci' accelerators found. */
  devices: Array<'usb' | 'pci'>;
}

/** Resolves the library and at least one accelerator, or throws EDGETPU_UNAVAILABLE saying what is missing. */
export async function probeEdgeTpu(options: EdgeTpuProbeOptions = {}): Promise<EdgeTpuInfo> {
  const libraryPath = await findEdgeTpuLibrary(options);
  if (libraryPath === undefined) {
    const dirs = searchDirs(options);
    throw new SidewalkError(
      InferenceErrorCode.EDGETPU_UNAVAILABLE,
      `${EDGETPU_LIBRARY} not found (ldconfig -p${options.useLdconfig === false ? ' skipped' : ''}; searched ${dirs.join(', ')}): ` +
        'install the Coral runtime (libedgetpu1-std) or use the xnnpack delegate',
      { details: { library: EDGETPU_LIBRARY, searched: dirs } },
    );
  }
  const devices = await findAccelerators(options.sysRoot ?? '/');
  if (devices.length === 0) {
    throw new SidewalkError(
      InferenceErrorCode.EDGETPU_UNAVAILABLE,
      `${libraryPath} is installed but no Coral accelerator was found (no /dev/apex_* and no USB device ${[...CORAL_USB_IDS].join(' or ')})`,
      { details: { library: libraryPath } },
    );
  }
  return { libraryPath, devices };
}

export async function findEdgeTpuLibrary(options: EdgeTpuProbeOptions = {}): Promise<string | undefined> {
  if (options.useLdconfig !== false && options.libraryDirs === undefined) {
    const fromCache = await ldconfigLookup(EDGETPU_LIBRARY);
    if (fromCache !== undefined) return fromCache;
  }
  for (const dir of searchDirs(options)) {
    const candidate = join(dir, EDGETPU_LIBRARY);
    if (await exists(candidate)) return candidate;
  }
  return undefined;
}

function searchDirs(options: EdgeTpuProbeOptions): string[] {
  if (options.libraryDirs !== undefined) return options.libraryDirs;
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return [...fromEnv, ...DEFAULT_LIBRARY_DIRS];
}

/** Path of `name` in the dynamic linker cache, matching this machine's word size. */
async function ldconfigLookup(name: string): Promise<string | undefined> {
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      const { stdout, code } = await runProcess(ldconfig, ['-p']);
      if (code !== 0) continue;
      // Lines look like: "\tlibedgetpu.so.1 (libc6,AArch64) => /usr/lib/aarch64-linux-gnu/libedgetpu.so.1"
      for (const line of stdout.split('\n')) {
        const match = /^\s*(\S+) \(([^)]*)\) => (.+)$/.exec(line);
        if (match === null || match[1] !== name) continue;
        const is64 = /x86-64|AArch64|64bit/.test(match[2]!);
        if (is64 === (process.arch === 'x64' || process.arch === 'arm64')) return match[3]!.trim();
      }
      return undefined;
    } catch {
      // Not on PATH under this name: try the next spelling.
    }
  }
  return undefined;
}

async function findAccelerators(root: string): Promise<Array<'usb' | 'pci'>> {
  const devices: Array<'usb' | 'pci'> = [];
  const dev = await readdir(join(root, 'dev')).catch(() => [] as string[]);
  if (dev.some((name) => /^apex_\d+$/.test(name))) devices.push('pci');
  const usbRoot = join(root, 'sys/bus/usb/devices');
  for (const entry of await readdir(usbRoot).catch(() => [] as string[])) {
    const vendor = await readFile(join(usbRoot, entry, 'idVendor'), 'utf8').catch(() => '');
    const product = await readFile(join(usbRoot, entry, 'idProduct'), 'utf8').catch(() => '');
    if (CORAL_USB_IDS.has(`${vendor.trim()}:${product.trim()}`)) {
      devices.push('usb');
      break;
    }
  }
  return devices;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
