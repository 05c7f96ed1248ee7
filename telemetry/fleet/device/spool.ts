/**
 * The device's on-disk event spool: every event is written here first (one file per event, written to
 * a temporary name, fsync'd and renamed), then sent in order and deleted once the broker acknowledged
 * it. An outage or a restart therefore loses nothing; a crash between the acknowledgement and the
 * delete can send an event twice, which the fleet tool drops by its per-device sequence number.
 * Bounded: past `maxEvents` the oldest events are dropped and counted.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../lib/log.js';
import type { OtaEvent } from '../protocol/messages.js';

const log = createLogger('telemetry:fleet:spool');
const NAME = /^(\d{12})\.json$/;

export class EventSpool {
  readonly dir: string;
  readonly maxEvents: number;
  dropped = 0;
  #nextSeq: number;
  #flushing: Promise<void> | null = null;

  constructor(dir: string, maxEvents = 1000) {
    this.dir = dir;
    this.maxEvents = maxEvents;
    mkdirSync(dir, { recursive: true });
    const highest = Math.max(0, ...this.#pending(), this.#readCounter());
    this.#nextSeq = highest + 1;
  }

  #readCounter(): number {
    try {
      const n = Number(readFileSync(join(this.dir, 'seq'), 'utf8').trim());
      return Number.isInteger(n) && n >= 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  #durableWrite(name: string, text: string): void {
    const tmp = join(this.dir, `.${name}.tmp`);
    writeFileSync(tmp, text);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, name));
  }

  #pending(): number[] {
    return readdirSync(this.dir)
      .map((n) => NAME.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  get queued(): number {
    return this.#pending().length;
  }

  /** Stores an event (its seq assigned here) and returns it. */
  add(event: Omit<OtaEvent, 'seq'>): OtaEvent {
    const seq = this.#nextSeq++;
    const full = { ...event, seq } as OtaEvent;
    this.#durableWrite('seq', String(seq));
    this.#durableWrite(`${String(seq).padStart(12, '0')}.json`, JSON.stringify(full));
    const pending = this.#pending();
    for (const old of pending.slice(0, Math.max(0, pending.length - this.maxEvents))) {
      rmSync(join(this.dir, `${String(old).padStart(12, '0')}.json`), { force: true });
      this.dropped++;
      log.warn(`spool full (${this.maxEvents} events): dropped event ${old}`);
    }
    return full;
  }

  /**
   * Sends pending events oldest first with `send` (true = acknowledged); stops at the first failure
   * and leaves the rest for the next flush. Concurrent calls share one pass (and one more after it).
   */
  flush(send: (event: OtaEvent) => Promise<boolean>): Promise<void> {
    const run = async (): Promise<void> => {
      for (const seq of this.#pending()) {
        const file = join(this.dir, `${String(seq).padStart(12, '0')}.json`);
        let event: OtaEvent;
        try {
          event = JSON.parse(readFileSync(file, 'utf8')) as OtaEvent;
        } catch (err) {
          log.warn(`${file}: unreadable spooled event dropped (${(err as Error).message})`);
          rmSync(file, { force: true });
          this.dropped++;
          continue;
        }
        if (!(await send(event))) return;
        rmSync(file, { force: true });
      }
    };
    const previous = this.#flushing;
    const next = (previous ?? Promise.resolve()).then(run, run).finally(() => {
      if (this.#flushing === next) this.#flushing = null;
    });
    this.#flushing = next;
    return next;
  }
}
