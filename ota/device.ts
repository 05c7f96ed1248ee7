/**
 * Builds the updater from the OTA config: boot backend, artifact reader with the device's keys and
 * provides, runtime probe (status file or /metrics), health criteria, update lock, runtime commands.
 * Also the process lock that keeps the CLI and the daemon from driving the journal at the same time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { runProcess } from '../lib/run-process.js';
import { openArtifactFile } from './artifact/index.js';
import { parsePublicKeys } from './artifact/signature.js';
import { RealBootControl } from './boot/real.js';
import { SimulatedBootControl, SimulatedFirmware, simulatedLayout } from './boot/simulated.js';
import type { BootControl, SlotConfig, SlotName } from './boot/types.js';
import type { HealthConfig, OtaConfig, SlotYaml } from './config.js';
import { nodeFs } from './fs.js';
import { metricsProbe, runHealthWindow, statusFileProbe, type HealthCriteria, type RuntimeProbe } from './install/health.js';
import { readProvides } from './install/provides.js';
import { VersionStore } from './install/store.js';
import { Updater, type ProgressEvent } from './install/updater.js';

const log = createLogger('ota:device');

function slots(y: { A: SlotYaml; B: SlotYaml }): Record<SlotName, SlotConfig> {
  const one = (s: SlotYaml): SlotConfig => ({ bootPartition: s.boot_partition, bootDevice: s.boot_device, rootDevice: s.root_device });
  return { A: one(y.A), B: one(y.B) };
}

export function simulatedFirmware(config: OtaConfig): SimulatedFirmware {
  const dir = config.boot.simulated_dir!;
  const selector = config.boot.selector_device ?? join(simulatedLayout(dir).selectorDir, 'autoboot.txt');
  if (!existsSync(selector)) {
    throw new SidewalkError('OTA_SIM_MISSING', `boot.simulated_dir ${dir}: no simulated disk there (${selector} is missing); create one with \`sidewalk ota sim init DIR\``);
  }
  return new SimulatedFirmware(simulatedLayout(dir, { selectorImage: config.boot.selector_device }), { persistFlagFile: join(dir, 'tryboot-flag') });
}

export function createBootControl(config: OtaConfig): BootControl | null {
  switch (config.boot.backend) {
    case 'none':
      return null;
    case 'simulated':
      return new SimulatedBootControl({ fs: nodeFs, firmware: simulatedFirmware(config) });
    case 'real':
      return new RealBootControl({
        selectorDir: config.boot.selector_dir,
        selectorDevice: config.boot.selector_device,
        slots: slots(config.boot.slots!),
        dtRoot: config.boot.dt_root,
        trybootMethod: config.boot.tryboot_method,
      });
  }
}

function runtimeProbe(config: OtaConfig): RuntimeProbe {
  return config.runtime.source === 'metrics' ? metricsProbe(config.runtime.metrics_url) : statusFileProbe(config.runtime.status_file);
}

function criteria(h: HealthConfig, expect: Partial<HealthCriteria> = {}): HealthCriteria {
  return {
    readyTimeoutMs: h.ready_timeout_s * 1000,
    windowMs: h.window_s * 1000,
    pollMs: h.poll_s * 1000,
    staleAfterMs: h.stale_after_s * 1000,
    maxRestarts: h.max_restarts,
    maxUnreadable: h.max_unreadable,
    ...(h.min_confidence !== null ? { minConfidence: h.min_confidence } : {}),
    ...(h.max_inference_ms !== null ? { maxInferenceMs: h.max_inference_ms } : {}),
    commands: h.commands,
    ...expect,
  };
}

/** Runs the runtime's reload or restart command; OTA_RUNTIME_NOTIFY when it cannot start or fails. */
async function run(argv: string[]): Promise<void> {
  await runProcess(argv[0]!, argv.slice(1), { errorCode: 'OTA_RUNTIME_NOTIFY', check: true, maxOutputChars: 1000 });
}

/** The PEM text of the config's `keys`; each must be a usable public key (never the private signing key). */
export function readVerifyKeys(config: OtaConfig): string[] {
  const pems = config.keys.map((k) => {
    try {
      return readFileSync(k, 'utf8');
    } catch (err) {
      throw new SidewalkError('CONFIG_KEY_UNREADABLE', `keys: cannot read ${k}: ${(err as Error).message}`);
    }
  });
  parsePublicKeys(
    pems,
    config.keys.map((k) => `keys: ${k}`),
  );
  return pems;
}

export function createUpdater(config: OtaConfig, options: { onProgress?: (e: ProgressEvent) => void } = {}): Updater {
  const probe = runtimeProbe(config);
  const providesPath = join(config.state_dir, 'provides.json');
  return new Updater({
    fs: nodeFs,
    stateDir: config.state_dir,
    stores: { model: new VersionStore(nodeFs, config.stores.model, 'model'), app: new VersionStore(nodeFs, config.stores.app, 'app') },
    boot: createBootControl(config),
    verifySlot: config.boot.verify_slot,
    async openArtifact(path) {
      const publicKeys = readVerifyKeys(config);
      const deviceProvides = (await readProvides(nodeFs, providesPath, config.factory_provides)).current;
      return openArtifactFile(path, { publicKeys, publicKeyNames: config.keys, allowUnsigned: config.allow_unsigned, deviceType: config.device_type, deviceProvides });
    },
    health: {
      os: () => runHealthWindow(probe, criteria(config.health.os)),
      model: (version) => runHealthWindow(probe, criteria(config.health.model, { expectModelVersion: version })),
      app: (version) => runHealthWindow(probe, criteria(config.health.app, { expectAppVersion: version })),
    },
    notifyRuntime: (kind) => run(kind === 'model' ? config.runtime.reload_command : config.runtime.restart_command),
    async isMoving() {
      try {
        const s = await probe.read();
        if (s.speedKph === null) return config.lock.unknown_speed_is_moving;
        return s.speedKph > config.lock.max_speed_kph;
      } catch (err) {
        log.debug(`speed unknown: ${(err as Error).message}`);
        return config.lock.unknown_speed_is_moving;
      }
    },
    factoryProvides: config.factory_provides,
    lockPollMs: config.lock.poll_s * 1000,
    lockTimeoutMs: config.lock.timeout_s * 1000,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
}

/**
 * One driver of the journal at a time: `<state_dir>/lock` holds the owner's pid and boot id. An owner
 * that is gone, or that ran before the last reboot (pids are reused), is replaced.
 */
export async function acquireLock(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, 'lock');
  await nodeFs.mkdir(stateDir);
  const me = `${process.pid} ${await bootId()}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${me}\n`);
      await handle.close();
      return async () => {
        await unlink(path).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pidText, owner] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
      const pid = Number(pidText);
      let alive = false;
      if (Number.isInteger(pid) && pid > 0 && owner === (await bootId())) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) throw new SidewalkError('OTA_OTHER_UPDATER_RUNNING', `${path}: another updater (pid ${pid}) is working; try again when it is done`);
      log.warn(`${path}: removing a stale lock (pid ${pidText}${owner === (await bootId()) ? '' : ', from an earlier boot'})`);
      await unlink(path).catch(() => {});
    }
  }
  throw new SidewalkError('OTA_OTHER_UPDATER_RUNNING', `${path}: could not take the lock`);
}
