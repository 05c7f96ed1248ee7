/**
 * One MQTT 5 connection over TLS with a client certificate, as used by both the device agent and the
 * fleet tool. Inbound messages go through the codec (decode) before any handler sees them; publishing
 * validates the outgoing payload against the same map and never throws into the caller (it resolves
 * false when the message could not be handed to the broker). A lost or failed connection is retried with
 * exponential back-off and jitter (reconnectDelayMs), so that a fleet that lost its broker together does
 * not come back as one wave of TLS handshakes every few seconds.
 */
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { SidewalkError, errorMessage } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { InvalidCounter, decode, schemaProblems, type Inbound } from './protocol/codec.js';
import type { PayloadTypes } from './protocol/messages.js';
import type { ParsedTopic, TopicKind } from './protocol/topics.js';

const log = createLogger('telemetry:fleet:link');

export interface TlsFiles {
  /** mqtts://host:port */
  url: string;
  ca: string;
  cert: string;
  key: string;
}

export interface LinkOptions extends TlsFiles {
  clientId: string;
  /** First reconnect delay (then doubling, with jitter); default 2 s. */
  reconnectMs?: number;
  /** Longest reconnect delay; default 60 s. */
  reconnectMaxMs?: number;
  connectTimeoutMs?: number;
  /** How long a QoS 1 publish may wait for its PUBACK before it counts as not delivered. */
  publishTimeoutMs?: number;
  /**
   * Keep the session (subscriptions, queued QoS 1 messages) this long while disconnected: the fleet
   * tool's watcher uses it so device events sent while it is away wait for it at the broker.
   */
  sessionExpiryS?: number;
  /** The last will, rebuilt before every (re)connect so it can carry the session counter. */
  will?: () => { topic: string; payload: Buffer };
}

export interface LinkHandlers {
  onConnect?(): void;
  onClose?(): void;
  onMessage?(message: Inbound): void;
  /** A retained desired-state topic was cleared (empty payload). */
  onCleared?(topic: ParsedTopic): void;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SidewalkError('FLEET_TLS_UNREADABLE', `${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Delay before reconnect attempt `attempt` (1, 2, ...): the ceiling doubles from `baseMs` up to `maxMs`,
 * and the delay is half the ceiling plus a random part of the other half ("equal jitter"): never sooner
 * than half the ceiling, and devices that lost the broker together spread out over the rest.
 */
export function reconnectDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class FleetLink {
  readonly invalid = new InvalidCounter();
  /** Publishes refused before reaching the broker (not connected, invalid payload, no PUBACK). */
  publishFailures = 0;
  /** Reconnect attempts since the last successful connection. */
  reconnectAttempts = 0;
  #client: MqttClient;
  #o: LinkOptions;
  #retry: NodeJS.Timeout | null = null;
  #ended = false;

  constructor(options: LinkOptions, handlers: LinkHandlers) {
    this.#o = options;
    const will = options.will?.();
    const mqttOptions: IClientOptions = {
      protocolVersion: 5,
      clientId: options.clientId,
      clean: !options.sessionExpiryS,
      ...(options.sessionExpiryS ? { properties: { sessionExpiryInterval: options.sessionExpiryS } } : {}),
      ca: readPem(options.ca, 'CA certificate'),
      cert: readPem(options.cert, 'client certificate'),
      key: readPem(options.key, 'client key'),
      rejectUnauthorized: true,
      // mqtt.js reconnects at a fixed period; the back-off is ours (#scheduleReconnect).
      reconnectPeriod: 0,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      queueQoSZero: false,
      manualConnect: true,
      ...(will ? { will: { topic: will.topic, payload: will.payload, qos: 1, retain: true } } : {}),
    };
    this.#client = connect(options.url, mqttOptions);
    this.#client.on('connect', () => {
      this.reconnectAttempts = 0;
      handlers.onConnect?.();
    });
    this.#client.on('close', () => {
      this.#scheduleReconnect();
      handlers.onClose?.();
    });
    this.#client.on('reconnect', () => {
      const next = options.will?.();
      if (next && this.#client.options.will) this.#client.options.will = { ...this.#client.options.will, topic: next.topic, payload: next.payload };
    });
    this.#client.on('error', (err) => log.warn(`${options.clientId}: ${err.message}`));
    this.#client.on('message', (topic, payload) => {
      let d: ReturnType<typeof decode>;
      try {
        d = decode(topic, payload);
      } catch (err) {
        d = { ok: false, reason: `${topic}: ${errorMessage(err)}` };
      }
      if (!d.ok) this.invalid.record(d.reason);
      else if ('cleared' in d) handlers.onCleared?.(d.cleared);
      else {
        try {
          handlers.onMessage?.(d.message);
        } catch (err) {
          log.error(`handler for ${topic} failed: ${errorMessage(err)}`);
        }
      }
    });
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  start(): void {
    this.#client.connect();
  }

  #scheduleReconnect(): void {
    if (this.#ended || this.#retry) return;
    this.reconnectAttempts++;
    const delay = reconnectDelayMs(this.reconnectAttempts, this.#o.reconnectMs ?? 2000, this.#o.reconnectMaxMs ?? 60_000);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (this.#ended || this.#client.connected) return;
      // The same stores as before, as mqtt.js's own reconnect keeps them.
      this.#client.reconnect({ incomingStore: this.#client.incomingStore, outgoingStore: this.#client.outgoingStore });
    }, delay);
  }

  /** Resolves when connected (or rejects after `timeoutMs` with FLEET_BROKER_UNREACHABLE). */
  async waitConnected(timeoutMs = 15_000): Promise<void> {
    if (this.connected) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#client.off('connect', ok);
        reject(new SidewalkError('FLEET_BROKER_UNREACHABLE', `${this.#o.url}: not connected within ${timeoutMs} ms as ${this.#o.clientId}`));
      }, timeoutMs);
      const ok = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#client.once('connect', ok);
    });
  }

  async subscribe(topicFilters: string[]): Promise<boolean> {
    try {
      const granted = await this.#client.subscribeAsync(topicFilters, { qos: 1 });
      const refused = granted.filter((g) => g.qos > 2);
      if (refused.length > 0) log.warn(`subscription refused by the broker: ${refused.map((g) => g.topic).join(', ')}`);
      return refused.length === 0;
    } catch (err) {
      log.warn(`subscribe ${topicFilters.join(', ')}: ${errorMessage(err)}`);
      return false;
    }
  }

  /**
   * QoS 1 publish of a payload valid for `kind`; true once the broker acknowledged it. Only while
   * connected: what must survive an outage is spooled by the caller, retained state is republished on connect.
   */
  async publish<K extends TopicKind>(kind: K, topic: string, payload: PayloadTypes[K] | null, options: { retain?: boolean } = {}): Promise<boolean> {
    try {
      if (payload !== null) {
        const problems = schemaProblems(kind, payload);
        if (problems) throw new SidewalkError('FLEET_PAYLOAD_INVALID', `${topic}: ${problems}`);
      }
      if (!this.#client.connected) throw new Error('not connected');
      const body = payload === null ? Buffer.alloc(0) : Buffer.from(JSON.stringify(payload));
      const packet = await withTimeout(this.#client.publishAsync(topic, body, { qos: 1, retain: options.retain ?? false }), this.#o.publishTimeoutMs ?? 10_000);
      const reason = (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
      if (reason >= 0x80) throw new Error(`broker refused it (reason ${reason})`);
      return true;
    } catch (err) {
      this.publishFailures++;
      log.debug(`publish ${topic} failed: ${errorMessage(err)}`);
      return false;
    }
  }

  /** Disconnects; `graceful` false drops the TCP connection so the broker publishes the last will. */
  async end(graceful = true): Promise<void> {
    this.#ended = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    if (!graceful) {
      (this.#client as unknown as { stream?: { destroy(): void } }).stream?.destroy();
      await this.#client.endAsync(true).catch(() => {});
      return;
    }
    await this.#client.endAsync().catch(() => {});
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no acknowledgement within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
