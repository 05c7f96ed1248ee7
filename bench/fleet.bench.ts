/**
 * npm run bench:fleet — the MQTT control plane at fleet scale, one real TLS Mosquitto on 127.0.0.1:
 *   (1) connect: N simulated device agents (own client certificate each, SimulatedUpdaterBackend that
 *       really downloads the artifact over HTTP and checks its sha256) started at once, until the fleet
 *       tool has every device online with its retained reported state;
 *   (2) rollout: `deploy` of a 100 % single-step rollout to all N devices until every device reported
 *       committed (as the controller's store sees it), and the OTA events/s the fleet tool ingested;
 *   (3) floor: the same number of messages of the same mean size through the same broker with bare
 *       `mosquitto_pub -l` → `mosquitto_sub -C` (QoS 1, TLS, fleet-tool certificate), interleaved
 *       with (2); the verdict is the median of same-round ratios fleet events/s ÷ floor messages/s.
 * The broker, PKI, artifact host and agents are the simulated fleet the tests use (telemetry/fleet/sim/).
 * The simulated devices' folders (event spool fsync'd per event, agent state) live on tmpfs when
 * /dev/shm exists: N devices share one disk and one event loop here, where a real fleet has N disks,
 * so per-device fsyncs would otherwise serialise the whole fleet and hide the broker and fleet tool.
 * The fleet tool's SQLite store stays on the ordinary temp folder (its real cost).
 * `--check`: exit non-zero when a target is missed.
 * `--devices N` or env BENCH_FLEET_DEVICES (default 1000); BENCH_FLEET_ROUNDS (default 3, plus one warm-up).
 * Each device holds one TLS socket, and during the rollout an HTTP download on both ends and its files, in
 * this process: 10,000 devices want `ulimit -n` near 26,000 (a warning at start says so).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetController } from '../host-tools/fleet/controller.js';
import { publishArtifact } from '../host-tools/fleet/publish.js';
import type { RolloutPlan } from '../host-tools/fleet/store.js';
import { FLEET_TOOL_USER } from '../telemetry/fleet/acl.js';
import type { ArtifactRef } from '../telemetry/fleet/protocol/messages.js';
import { TOPIC_ROOT } from '../telemetry/fleet/protocol/topics.js';
import { simAgent, type SimAgent } from '../telemetry/fleet/sim/agents.js';
import { modelArtifacts } from '../telemetry/fleet/sim/artifacts.js';
import { removeBroker, startBroker, type SimBroker } from '../telemetry/fleet/sim/broker.js';
import { tempDir, waitFor } from '../telemetry/fleet/sim/common.js';
import { artifactHost } from '../telemetry/fleet/sim/node-host.js';
import { formatRatios, interleavedRounds, median, sameRoundRatios, Targets } from './report.js';

/** `--devices N` on the command line, else BENCH_FLEET_DEVICES, else 1000. */
function deviceCount(argv: readonly string[]): number {
  const i = argv.indexOf('--devices');
  const text = i >= 0 ? argv[i + 1] : (process.env.BENCH_FLEET_DEVICES ?? '1000');
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--devices / BENCH_FLEET_DEVICES: ${JSON.stringify(text)} is not a positive whole number`);
  return n;
}

const N = deviceCount(process.argv);
const ROUNDS = Number(process.env.BENCH_FLEET_ROUNDS ?? 3);
const LOCATION = 'bench';
const CONNECT_TARGET_S = 60;
const ROLLOUT_TARGET_S = 60;
const RATIO_TARGET = 0.1;
const PLAN: RolloutPlan = { steps: [100], min_finished: 1, soak_s: 0, max_failure_percent: 100, min_devices_before_decision: N, in_progress_timeout_s: 3600, auto_advance: false };

const since = (t0: number) => (performance.now() - t0) / 1000;
const say = (line: string) => process.stdout.write(`${line}\n`);

interface RolloutRun {
  seconds: number;
  events: number;
  meanBytes: number;
}

/** Deploys `artifact` to every device at 100 % and waits until all of them reported committed. */
async function rollout(ctl: FleetController, artifact: ArtifactRef, agents: readonly SimAgent[]): Promise<RolloutRun> {
  const t0 = performance.now();
  const r = await ctl.deploy({ location: LOCATION, artifact, plan: PLAN });
  // status() reads every device's outcome from SQLite: poll it every 200 ms, not waitFor's 25 ms, so the
  // bench's own polling does not compete with the fleet it measures (adds at most 0.2 s to ~20 s).
  const deadline = Date.now() + 150_000;
  while (ctl.status(r.id).counts.succeeded < N) {
    if (Date.now() > deadline) throw new Error(`rollout ${r.id}: not every device committed within 150 s: ${JSON.stringify(ctl.status(r.id).counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const seconds = since(t0);
  const status = ctl.status(r.id);
  if (status.counts.failed + status.counts.rejected > 0) throw new Error(`rollout ${r.id}: ${JSON.stringify(status.counts)}`);
  let events = 0;
  let bytes = 0;
  for (const a of agents) {
    for (const e of ctl.store.events(a.id)) {
      if (e.rollout_id !== r.id) continue;
      events++;
      bytes += Buffer.byteLength(JSON.stringify(e));
    }
  }
  const done = await ctl.tick();
  if (!done.includes(`${r.id}: completed`)) throw new Error(`rollout ${r.id} did not complete: ${done.join('; ')}`);
  return { seconds, events, meanBytes: Math.round(bytes / events) };
}

/** Bare Mosquitto clients: `count` QoS 1 messages of `size` bytes from one mosquitto_pub to one mosquitto_sub. */
async function floor(broker: SimBroker, count: number, size: number): Promise<number> {
  const tls = await broker.tls(FLEET_TOOL_USER);
  const common = ['-h', '127.0.0.1', '-p', String(broker.port), '--cafile', tls.ca, '--cert', tls.cert, '--key', tls.key, '-V', 'mqttv5', '-q', '1'];
  const topic = `${TOPIC_ROOT}/bench-floor/${Date.now()}`;
  // Line-buffered so the SUBACK debug line arrives before the first publish (a pipe is block-buffered).
  const sub = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...common, '-t', topic, '-C', String(count), '-d'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let subscribed = false;
  sub.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!subscribed) subscribed = /SUBACK/.test(out);
  });
  const subExit = new Promise<number | null>((resolve) => sub.once('exit', resolve));
  await waitFor('mosquitto_sub subscribed', () => subscribed || sub.exitCode !== null, 10_000);
  const t0 = performance.now();
  const pub = spawn('mosquitto_pub', [...common, '-t', topic, '-l'], { stdio: ['pipe', 'ignore', 'pipe'] });
  const pubExit = new Promise<number | null>((resolve) => pub.once('exit', resolve));
  const line = `${'x'.repeat(Math.max(1, size))}\n`;
  pub.stdin.end(line.repeat(count));
  const [subCode, pubCode] = await Promise.all([subExit, pubExit]);
  const seconds = since(t0);
  if (subCode !== 0 || pubCode !== 0) throw new Error(`floor clients failed: mosquitto_sub exit ${subCode}, mosquitto_pub exit ${pubCode}`);
  return seconds;
}

let brokerLog = '';

/** The open-files limit (soft) of this process, from /proc (Linux). */
function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

async function main(): Promise<void> {
  // Per device: its TLS socket, its HTTP download and spool files open at once, plus the broker's side.
  const needed = N * 2.5 + 1000;
  if (openFilesLimit() < needed) say(`warning: ${N} devices may need ~${needed} open files at the download burst; the limit is ${openFilesLimit()} (ulimit -n ${Math.ceil(needed)})`);
  const root = await tempDir('sidewalk-bench-fleet-');
  const deviceRoot = existsSync('/dev/shm') ? await mkdtemp('/dev/shm/sidewalk-bench-fleet-devices-') : join(root, 'devices');
  const devices = Array.from({ length: N }, (_, i) => ({ id: `bd-${String(i).padStart(5, '0')}`, location: LOCATION }));
  const targets = new Targets();
  let broker: SimBroker | null = null;
  let host: Awaited<ReturnType<typeof artifactHost>> | null = null;
  let ctl: FleetController | null = null;
  const agents: SimAgent[] = [];
  try {
    say(`fleet bench: ${N} simulated devices, ${ROUNDS} rounds (+1 warm-up), TLS Mosquitto on 127.0.0.1, device folders in ${deviceRoot}`);
    let t0 = performance.now();
    broker = await startBroker(devices);
    say(`  PKI (${N + 2} certificates, one openssl each) + broker start: ${since(t0).toFixed(1)} s`);
    host = await artifactHost(join(root, 'www'));
    const artifacts = await modelArtifacts(root);
    const refs: ArtifactRef[] = [];
    for (let i = 0; i <= ROUNDS; i++) refs.push(await publishArtifact(await artifacts.signed(`2.${i}.0`), join(root, 'www'), host.base));
    say(`  artifact host + ${ROUNDS + 1} signed model artifacts (mender-artifact) published: ${since(t0).toFixed(1)} s since start`);
    ctl = await FleetController.open({ broker: { ...(await broker.tls(FLEET_TOOL_USER)), client_id: 'fleet-bench' }, dbPath: join(root, 'fleet.db') });

    t0 = performance.now();
    const started = await Promise.all(devices.map((d) => simAgent(broker!, deviceRoot, d.id, d.location)));
    agents.push(...started);
    const c = ctl;
    await waitFor(`all ${N} devices online and reported`, () => c.store.devices(LOCATION).filter((d) => d.online && d.reported).length === N, 120_000);
    const connectS = since(t0);
    say(`  connect: ${N} devices online with retained status + reported at the fleet tool in ${connectS.toFixed(2)} s`);
    targets.row(`connect ${N} devices`, `${connectS.toFixed(2)} s`, `< ${CONNECT_TARGET_S} s`, connectS < CONNECT_TARGET_S);

    let last: RolloutRun | null = null;
    const runs: RolloutRun[] = [];
    const floors: number[] = [];
    const { a: fleetRates, b: floorRates } = await interleavedRounds(
      ROUNDS,
      {
        a: async (round) => {
          last = await rollout(c, refs[round]!, agents);
          runs[round] = last;
          say(`  round ${round}: deploy → ${N} committed in ${last.seconds.toFixed(2)} s; ${last.events} events (mean ${last.meanBytes} B) = ${(last.events / last.seconds).toFixed(0)} events/s`);
          return last.events / last.seconds;
        },
        b: async (round) => {
          const ref = last!;
          const s = await floor(broker!, ref.events, ref.meanBytes);
          floors[round] = s;
          say(`  round ${round}: floor mosquitto_pub → mosquitto_sub, ${ref.events} × ${ref.meanBytes} B in ${s.toFixed(2)} s = ${(ref.events / s).toFixed(0)} msg/s`);
          return ref.events / s;
        },
      },
      { warmup: 1, onRound: (round, counted) => !counted && say(`  round ${round}: warm-up (not counted)`) },
    );

    const rolloutS = median(runs.slice(1).map((r) => r.seconds));
    const ratios = sameRoundRatios(fleetRates, floorRates);
    say('');
    say(`deploy → all committed: median ${rolloutS.toFixed(2)} s (floor for the same messages: median ${median(floors.slice(1)).toFixed(2)} s)`);
    say(`fleet tool events/s: median ${median(fleetRates).toFixed(0)}; bare broker floor msg/s: median ${median(floorRates).toFixed(0)}`);
    say(`fleet ÷ floor throughput: ${formatRatios(ratios, 3)}`);
    say(`invalid messages at the fleet tool: ${c.link.invalid.total}; duplicate events dropped: ${c.duplicateEvents}`);
    targets.row(`deploy 100 % → ${N} committed`, `${rolloutS.toFixed(2)} s`, `< ${ROLLOUT_TARGET_S} s`, rolloutS < ROLLOUT_TARGET_S);
    targets.row('fleet events/s ÷ bare floor', ratios.median.toFixed(3), `>= ${RATIO_TARGET}`, ratios.median >= RATIO_TARGET);
    say('');
    for (const l of targets.lines()) say(l);
    targets.finish();
  } finally {
    await Promise.all(agents.map((a) => a.agent.stop().catch(() => {})));
    await ctl?.close();
    await host?.close();
    if (broker) {
      brokerLog = broker.log();
      await removeBroker(broker);
    }
    await rm(root, { recursive: true, force: true });
    await rm(deviceRoot, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:fleet failed: ${err instanceof Error ? err.message : String(err)}\n${brokerLog.slice(-2000)}\n`);
  process.exitCode = 1;
});
