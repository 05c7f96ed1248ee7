import { Worker } from 'node:worker_threads';
import { SidewalkError, isInternalError } from '../../lib/errors.js';
import { ArtifactErrorCodes as E } from './errors.js';
import type { HashReply, HashRequest } from './hash-worker.js';

/** How long the hashing thread outlives its last hash (a worker takes ~20 ms to start). */
const IDLE_MS = 30_000;

interface Pending {
  resolve: (value: string | undefined) => void;
  reject: (err: Error) => void;
}

/**
 * One thread hashing for every open WorkerSha256: started on first use, ended after IDLE_MS without
 * hashes. It keeps the process alive only while a reply is awaited (an idle thread never holds up an
 * exit; a CLI awaiting its last digest must not exit first). Replies come in request order per hash.
 */
class HashThread {
  #worker: Worker | null = null;
  #pending = new Map<number, Pending[]>();
  #nextId = 1;
  #open = 0;
  #awaited = 0;
  #idle: NodeJS.Timeout | null = null;

  begin(): number {
    this.#open++;
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
    return this.#nextId++;
  }

  end(): void {
    if (--this.#open > 0) return;
    this.#idle = setTimeout(() => {
      const idle = this.#worker;
      this.#worker = null;
      void idle?.terminate();
    }, IDLE_MS);
    this.#idle.unref();
  }

  request(message: HashRequest): Promise<string | undefined> {
    const worker = this.#ensureWorker();
    if (this.#awaited++ === 0) worker.ref();
    return new Promise((resolve, reject) => {
      const queue = this.#pending.get(message.id) ?? [];
      queue.push({ resolve, reject });
      this.#pending.set(message.id, queue);
      worker.postMessage(message);
    });
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (reply: HashReply) => {
      const queue = this.#pending.get(reply.id);
      const next = queue?.shift();
      if (queue?.length === 0) this.#pending.delete(reply.id);
      if (--this.#awaited === 0) worker.unref();
      if ('error' in reply) next?.reject(new Error(reply.error));
      else next?.resolve('digest' in reply ? reply.digest : undefined);
    });
    // A crash of the current thread fails what waits on it; an idle one ended on purpose has nothing waiting.
    const failAll = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      this.#awaited = 0;
      for (const queue of this.#pending.values()) for (const p of queue) p.reject(err);
      this.#pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`hashing thread exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }
}

const thread = new HashThread();

/**
 * An incremental sha256 computed on the hashing thread. update() takes bytes in shared memory and
 * resolves once they are hashed (the buffer may be reused then); calls are hashed in order.
 */
export class WorkerSha256 {
  readonly #label: string;
  #id: number | null;

  constructor(label: string) {
    this.#label = label;
    this.#id = thread.begin();
  }

  update(data: Buffer): Promise<void> {
    if (!(data.buffer instanceof SharedArrayBuffer)) throw new TypeError('WorkerSha256.update: the bytes must be in a SharedArrayBuffer');
    return thread.request({ op: 'update', id: this.#liveId(), buffer: data.buffer, offset: data.byteOffset, length: data.length }).then(
      () => undefined,
      (err: Error) => {
        throw this.#failed(err);
      },
    );
  }

  async digest(): Promise<string> {
    const id = this.#liveId();
    this.#id = null;
    try {
      return (await thread.request({ op: 'digest', id }))!;
    } catch (err) {
      throw this.#failed(err as Error);
    } finally {
      thread.end();
    }
  }

  /** Ends a hash that will not be digested (an aborted read), so the thread can idle out. */
  abandon(): void {
    if (this.#id === null) return;
    const id = this.#id;
    this.#id = null;
    // A digest nobody reads frees the thread's state for this hash.
    thread.request({ op: 'digest', id }).catch(() => undefined);
    thread.end();
  }

  #liveId(): number {
    if (this.#id === null) throw new Error(`${this.#label}: sha256 already finished`);
    return this.#id;
  }

  #failed(err: Error): Error {
    if (isInternalError(err)) return err;
    return new SidewalkError(E.READ_FAILED, `${this.#label}: hashing failed: ${err.message}`, { cause: err });
  }
}
