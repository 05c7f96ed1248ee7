/**
 * A small pool of equally sized frame buffers, so live sources copy each frame once (pipe chunk ->
 * pool buffer) and allocate nothing in steady state. A buffer handed out in a Frame is owned by the
 * consumer until its next call to next(); the source releases it then.
 */
export class BufferPool {
  readonly #byteLength: number;
  readonly #free: Uint8Array[] = [];

  constructor(byteLength: number, preallocate = 3) {
    this.#byteLength = byteLength;
    for (let i = 0; i < preallocate; i++) this.#free.push(new Uint8Array(byteLength));
  }

  get byteLength(): number {
    return this.#byteLength;
  }

  acquire(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.#byteLength);
  }

  release(buffer: Uint8Array | null | undefined): void {
    if (buffer && buffer.byteLength === this.#byteLength && this.#free.length < 8) this.#free.push(buffer);
  }
}
