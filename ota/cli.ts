/**
 * `sidewalk ota install|status|commit|rollback|daemon|sim init|sim-boot`: the updater's command line and the
 * service loop that sidewalk-ota.service runs.
 */
import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type Command, Option } from 'commander';
import { SidewalkError, errorMessage, relayedCode } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { createNotifier } from '../lib/sd-notify.js';
import { serveMetrics, type MetricsServer } from '../telemetry/runtime-metrics.js';
import type { DeviceAgent } from '../telemetry/fleet/device/agent.js';
import { DEFAULT_CONFIG_PATH, loadOtaConfig, type OtaConfig } from './config.js';
import { acquireLock, createBootControl, createUpdater, readVerifyKeys, simulatedFirmware } from './device.js';
import { download, retryBudgetText } from './download.js';
import { nodeFs } from './fs.js';
import { readProvides } from './install/provides.js';
import { OtaMetrics } from './metrics.js';
import { initSimDevice } from './sim-init.js';
import { VersionStore } from './install/store.js';
import type { Outcome, ProgressEvent, UpdateKind, Updater } from './install/updater.js';

const log = createLogger('ota:cli');

const configOption = () => new Option('-c, --config <file>', 'OTA config (YAML)').default(DEFAULT_CONFIG_PATH);

/** Progress on stderr, at most once a second (and at 100 %). */
function progressPrinter(label: string): (done: number, total: number | null) => void {
  let lastMs = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - lastMs < 1000 && done !== total) return;
    lastMs = now;
    const mib = (n: number) => (n / 1048576).toFixed(1);
    const pct = total ? ` ${Math.floor((done / total) * 100)}%` : '';
    process.stderr.write(`${label}${pct} (${mib(done)}${total ? `/${mib(total)}` : ''} MiB)\n`);
  };
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** Fetches a URL into <state_dir>/downloads (resumable), or returns the local file. */
async function fetchArtifact(config: OtaConfig, source: string, options: { tellRetries?: boolean } = {}): Promise<{ path: string; owned: boolean; downloadedBytes: number }> {
  if (!isUrl(source)) {
    await stat(source).catch((err: Error) => {
      throw new SidewalkError('OTA_ARTIFACT_MISSING', `${source}: ${err.message}`);
    });
    return { path: source, owned: false, downloadedBytes: 0 };
  }
  const name = basename(new URL(source).pathname) || 'artifact.mender';
  const dest = join(config.state_dir, 'downloads', name);
  const retry = {
    retries: config.download.retries,
    backoffMs: config.download.backoff_s * 1000,
    maxBackoffMs: config.download.max_backoff_s * 1000,
    idleTimeoutMs: config.download.idle_timeout_s * 1000,
  };
  // On a scooter this runs in the background; at a terminal, say how long an unreachable server is retried.
  if (options.tellRetries) process.stderr.write(`download ${source}: if it cannot be reached, retrying for up to ${retryBudgetText(retry)}; Ctrl-C stops (download.retries in the OTA config)\n`);
  const r = await download({ url: source, dest, ...retry, onProgress: progressPrinter('download') });
  log.info(`downloaded ${source} (${r.bytes} bytes, ${r.attempts} attempt(s))`);
  return { path: dest, owned: true, downloadedBytes: r.bytes };
}

function report(out: Outcome, what: string): void {
  if (out.kind === 'reboot') process.stdout.write(`${what}: rebooting (the updater continues after the boot)\n`);
  else if (out.result === 'failure') {
    process.exitCode = 1;
    // Refused while reading the artifact: nothing was changed, and the reader's own code says why.
    const refused = /^download: ([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(out.error ?? '');
    if (refused) throw new SidewalkError(relayedCode(refused[1]!, 'OTA_UPDATE_FAILED'), `${what} refused, nothing was changed: ${refused[2]!}`);
    throw new SidewalkError('OTA_UPDATE_FAILED', `${what} failed and was rolled back: ${out.error ?? ''}`);
  } else process.stdout.write(`${what}: ${out.result === 'success' ? 'done' : 'nothing to do'}\n`);
}

/** One updater at a time in this process too (the daemon's inbox and its fleet agent share it). */
let turn: Promise<unknown> = Promise.resolve();

async function withUpdater<T>(config: OtaConfig, fn: (u: Updater) => Promise<T>, onProgress?: (e: ProgressEvent) => void): Promise<T> {
  const run = turn.then(async () => {
    const release = await acquireLock(config.state_dir);
    try {
      const print = progressPrinter('install');
      const u = await createUpdater(config, { onProgress: onProgress ?? ((e: ProgressEvent) => print(e.doneBytes, e.totalBytes)) }).init();
      return await fn(u);
    } finally {
      await release();
    }
  });
  turn = run.catch(() => {});
  return run;
}

async function statusReport(config: OtaConfig): Promise<Record<string, unknown>> {
  const u = await createUpdater(config).init({ readOnly: true });
  const s = u.status();
  const boot = createBootControl(config);
  let booted: unknown = null;
  let autoboot: unknown = null;
  if (boot) {
    booted = await boot.booted().catch((err: unknown) => ({ error: errorMessage(err) }));
    autoboot = await boot.readAutoboot().catch((err: unknown) => ({ error: errorMessage(err) }));
  }
  const stores: Record<string, unknown> = {};
  for (const kind of ['model', 'app'] as const) {
    const store = new VersionStore(nodeFs, config.stores[kind], kind);
    stores[kind] = { current: await store.current(), previous: await store.previous() };
  }
  return { state: s.state, update: s.update, last: s.last, booted, autoboot, stores, provides: (await readProvides(nodeFs, u.providesPath, config.factory_provides)).current };
}

type RunUpdater = <T>(fn: (u: Updater) => Promise<T>, onProgress?: (e: ProgressEvent) => void) => Promise<T>;

/** Installs what arrives in the inbox: *.mender files, or *.url files holding one URL. */
async function processInbox(config: OtaConfig, run: RunUpdater, metrics: OtaMetrics): Promise<Outcome | null> {
  const inbox = config.daemon.inbox_dir!;
  const names = (await readdir(inbox).catch(() => [] as string[])).filter((n) => n.endsWith('.mender') || n.endsWith('.url')).sort();
  const name = names[0];
  if (!name) return null;
  const taken = join(inbox, `${name}.taken`);
  await rename(join(inbox, name), taken);
  const source = name.endsWith('.url') ? (await readFile(taken, 'utf8')).trim() : taken;
  log.info(`installing ${name} from the inbox`);
  const { path, owned, downloadedBytes } = await fetchArtifact(config, source);
  metrics.downloadBytes.inc(downloadedBytes);
  return run((u) => u.install(path, { ownsArtifact: owned || !name.endsWith('.url') }));
}

/**
 * The daemon's /metrics server; a port that cannot be bound is logged, never fatal: the updater must
 * still resume or roll back whatever its journal holds.
 */
async function serveOtaMetrics(config: OtaConfig, metrics: OtaMetrics): Promise<MetricsServer | null> {
  const { host, port } = config.metrics;
  if (port === null) return null;
  return serveMetrics(metrics.registry, { host, port }).catch((err: unknown) => {
    log.error(`OTA_METRICS_LISTEN: ${host}:${port}: cannot serve /metrics (${errorMessage(err)}); the updater runs on without them (metrics.port in the OTA config)`);
    return null;
  });
}

async function daemon(config: OtaConfig, options: { once?: boolean; fleet?: string }): Promise<void> {
  const notifier = createNotifier();
  let stopping = false;
  let wake: (() => void) | null = null;
  const stop = () => {
    stopping = true;
    wake?.();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const watchdog = notifier.watchdogIntervalMs > 0 ? setInterval(() => void notifier.notify({ WATCHDOG: 1 }), notifier.watchdogIntervalMs / 2) : null;
  let agent: DeviceAgent | null = null;
  const readStatus = async () => (await createUpdater(config).init({ readOnly: true })).status();
  const metrics = new OtaMetrics(readStatus);
  metrics.seed(await readStatus());
  // A one-shot pass (--once) is over before anything could scrape it.
  const server = options.once ? null : await serveOtaMetrics(config, metrics);
  // Every updater run of the daemon and its fleet agent: a result not seen before is counted.
  const run: RunUpdater = (fn, onProgress) =>
    withUpdater(
      config,
      async (u) => {
        try {
          return await fn(u);
        } finally {
          metrics.observe(u.status());
        }
      },
      onProgress,
    );
  try {
    await notifier.notify({ READY: 1, STATUS: 'resuming from the journal' });
    let out = await run((u) => u.resume());
    // The fleet agent (telemetry/fleet) holds the broker connection here, never in the runtime.
    if (options.fleet && out?.kind !== 'reboot') {
      const { startFleetAgent } = await import('../telemetry/fleet/device/host.js');
      agent = await startFleetAgent(options.fleet, config, (onProgress, fn) => run(fn, onProgress), { onReboot: stop, onDownloaded: (bytes) => metrics.downloadBytes.inc(bytes) });
    }
    while (!stopping && out?.kind !== 'reboot') {
      const s = await run(async (u) => u.status());
      await notifier.notify({ STATUS: `${s.state}${s.last ? `; last ${s.last.artifactName}: ${s.last.result}` : ''}` });
      try {
        out = (await processInbox(config, run, metrics)) ?? { kind: 'idle', result: 'nothing' };
      } catch (err) {
        log.error(errorMessage(err));
      }
      if (options.once) break;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, config.daemon.poll_s * 1000).unref();
      });
    }
    if (out?.kind === 'reboot') await notifier.notify({ STATUS: 'rebooting' });
  } finally {
    await agent?.stop();
    await server?.close();
    if (watchdog) clearInterval(watchdog);
    await notifier.notify({ STOPPING: 1 });
    notifier.close();
  }
}

export function registerOtaCommands(program: Command): void {
  const ota = program
    .command('ota')
    .description('Over-the-air updates: install Mender artifacts (OS to the inactive A/B slot with a tryboot trial, models and the app to A/B stores), with automatic rollback.');

  ota
    .command('install')
    .description('Install an artifact from a file or an http(s) URL (downloaded with resume). OS updates end in a trial reboot; the daemon (or `ota daemon --once`) verifies and commits after it.')
    .argument('<source>', '.mender file or http(s) URL')
    .addOption(configOption())
    .action(async (source: string, opts: { config: string }) => {
      const config = loadOtaConfig(opts.config);
      readVerifyKeys(config); // a bad or private key is refused before anything is downloaded
      const { path, owned } = await fetchArtifact(config, source, { tellRetries: true });
      report(await withUpdater(config, (u) => u.install(path, { ownsArtifact: owned })), `install ${basename(path)}`);
    });

  ota
    .command('status')
    .description('Show the update state (journal), the booted slot, autoboot.txt, store versions and device provides.')
    .addOption(configOption())
    .option('--json', 'print one JSON object')
    .action(async (opts: { config: string; json?: boolean }) => {
      const r = await statusReport(loadOtaConfig(opts.config));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const last = r.last as { artifactName: string; result: string; error: string | null } | null;
      const lines = [
        `state:    ${String(r.state)}`,
        `update:   ${r.update ? JSON.stringify(r.update) : '-'}`,
        `last:     ${last ? `${last.artifactName}: ${last.result}${last.error ? ` (${last.error})` : ''}` : '-'}`,
        `booted:   ${JSON.stringify(r.booted)}`,
        `autoboot: ${JSON.stringify(r.autoboot)}`,
        `stores:   ${JSON.stringify(r.stores)}`,
        `provides: ${JSON.stringify(r.provides)}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  ota
    .command('commit')
    .description('Commit the update under trial now (skips the rest of its health checks).')
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const config = loadOtaConfig(opts.config);
      report(await withUpdater(config, (u) => u.commitNow()), 'commit');
    });

  ota
    .command('rollback')
    .description('Abort the update in progress, or (with --kind, when idle) return to the previous OS slot, model or app.')
    .addOption(configOption())
    .addOption(new Option('--kind <kind>', 'what to roll back when no update is in progress').choices(['os', 'model', 'app']))
    .action(async (opts: { config: string; kind?: 'os' | 'model' | 'app' }) => {
      const config = loadOtaConfig(opts.config);
      const kind: UpdateKind | undefined = opts.kind === 'os' ? 'rootfs' : opts.kind;
      const out = await withUpdater(config, (u) => u.rollbackNow(kind));
      if (out.kind === 'reboot') process.stdout.write('rollback: rebooting\n');
      else process.stdout.write(`rollback: ${out.result === 'nothing' ? 'nothing to do' : 'done'}\n`);
    });

  ota
    .command('daemon')
    .description(
      'The service loop (sidewalk-ota.service): resume or roll back from the journal, then install artifacts dropped in the inbox (*.mender, or *.url holding a URL). Sends READY/WATCHDOG to systemd; serves /metrics on metrics.host:metrics.port (127.0.0.1:9102).',
    )
    .addOption(configOption())
    .option('--once', 'resume and process the inbox once, then exit (no /metrics)')
    .option('--fleet <file>', 'also run the fleet agent (MQTT desired state, reported state, events) with this config')
    .action(async (opts: { config: string; once?: boolean; fleet?: string }) => {
      await daemon(loadOtaConfig(opts.config), { once: opts.once ?? false, ...(opts.fleet ? { fleet: opts.fleet } : {}) });
    });

  ota
    .command('sim')
    .description('A simulated scooter for trying the updater on a host (ota/README.md, "Trying it on a host").')
    .command('init')
    .description('Create a simulated device in DIR: disk with OS 1.0 in slot A, empty model and app stores, a key pair, a stand-in runtime and DIR/ota.yaml.')
    .argument('<dir>', 'new or empty folder')
    .action((dir: string) => {
      const f = initSimDevice(dir);
      process.stdout.write(
        `simulated device in ${dir}\n  config:      ${f.config}\n  verify key:  ${f.verifyKey}\n  signing key: ${f.signingKey} (for \`sidewalk artifact ... -k\`; never on a real scooter)\n` +
          `next: sidewalk ota sim-boot -c ${f.config}\n`,
      );
    });

  ota
    .command('sim-boot')
    .description('Simulated boot backend only: power the simulated device on (or complete its reboot) and print the slot the firmware model boots.')
    .addOption(configOption())
    .option('--power-cut', 'lose power first (clears the one-shot tryboot flag)')
    .action(async (opts: { config: string; powerCut?: boolean }) => {
      const config = loadOtaConfig(opts.config);
      if (config.boot.backend !== 'simulated') throw new SidewalkError('OTA_NOT_SIMULATED', `${opts.config}: boot.backend is ${config.boot.backend}, not simulated`);
      const fw = simulatedFirmware(config);
      if (opts.powerCut) fw.powerCut();
      const b = fw.boot();
      if (!b.ok) {
        process.exitCode = 1;
        throw new SidewalkError('OTA_SIM_BRICKED', `the simulated device does not boot: ${b.reason}`);
      }
      process.stdout.write(`booted slot ${b.slot} (partition ${b.partition}${b.tryboot ? ', tryboot' : ''}), OS ${b.os.version}\n`);
    });
}
