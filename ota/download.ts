/**
 * HTTP(S) download to the data partition with resume: bytes go to `<dest>.part` as they arrive
 * (bounded memory: one chunk at a time), a dropped connection is retried with exponential back-off
 * and a `Range: bytes=<have>-` request (guarded by If-Range with the first response's ETag or
 * Last-Modified), and the finished file is fsync'd and renamed into place.
 */
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { dirname } from 'node:path';
import { SidewalkError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { nodeFs, readIfExists, replaceFile, type OtaFs } from './fs.js';
import { OTA_DEFAULTS } from './config.js';

const log = createLogger('ota:download');

export interface DownloadOptions {
  url: string;
  dest: string;
  fs?: OtaFs;
  /** Attempts after the first. */
  retries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Abort an attempt when no byte arrives for this long. */
  idleTimeoutMs?: number;
  onProgress?(doneBytes: number, totalBytes: number | null): void;
  sleep?(ms: number): Promise<void>;
}

export interface DownloadResult {
  bytes: number;
  attempts: number;
  /** Bytes that were already on disk when each resumed attempt started. */
  resumedFrom: number[];
}

interface PartMeta {
  url: string;
  validator: string | null;
  total: number | null;
}

/** Options left out take the OTA config schema's `download` defaults (ota/config.ts). */
const DEFAULTS = OTA_DEFAULTS.download;

class RetryableError extends Error {}

function request(url: string, headers: Record<string, string>, idleTimeoutMs: number): Promise<IncomingMessage> {
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = get(url, { headers }, resolve);
    req.setTimeout(idleTimeoutMs, () => req.destroy(new RetryableError(`no data for ${idleTimeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof RetryableError ? err : new RetryableError(err.message)));
  });
}

/** The back-off waits between attempts (ms), as `download` sleeps them. */
export function retryWaitsMs(o: Pick<DownloadOptions, 'retries' | 'backoffMs' | 'maxBackoffMs'>): number[] {
  const backoffMs = o.backoffMs ?? DEFAULTS.backoff_s * 1000;
  const maxBackoffMs = o.maxBackoffMs ?? DEFAULTS.max_backoff_s * 1000;
  return Array.from({ length: o.retries ?? DEFAULTS.retries }, (_, i) => Math.min(backoffMs * 2 ** i, maxBackoffMs));
}

/** "8 min 30 s": how long a download of an unreachable URL keeps trying (waits only), for people. */
export function retryBudgetText(o: Pick<DownloadOptions, 'retries' | 'backoffMs' | 'maxBackoffMs' | 'idleTimeoutMs'>): string {
  const waits = retryWaitsMs(o);
  const total = Math.round(waits.reduce((a, b) => a + b, 0) / 1000);
  const span = total >= 60 ? `${Math.floor(total / 60)} min${total % 60 ? ` ${total % 60} s` : ''}` : `${total} s`;
  return `${span} (${waits.length} retries, back-off ${waits.map((w) => w / 1000).join(', ')} s; each attempt also waits up to ${(o.idleTimeoutMs ?? DEFAULTS.idle_timeout_s * 1000) / 1000} s for data)`;
}

export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const fs = options.fs ?? nodeFs;
  const part = `${options.dest}.part`;
  const metaPath = `${part}.json`;
  const retries = options.retries ?? DEFAULTS.retries;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const idle = options.idleTimeoutMs ?? DEFAULTS.idle_timeout_s * 1000;
  await fs.mkdir(dirname(options.dest));

  let meta: PartMeta | null = null;
  const metaBytes = await readIfExists(fs, metaPath);
  if (metaBytes) {
    try {
      meta = JSON.parse(metaBytes.toString('utf8')) as PartMeta;
    } catch {
      meta = null;
    }
    if (meta?.url !== options.url) meta = null;
  }
  if (!meta && (await fs.stat(part))) await fs.unlink(part);

  const resumedFrom: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const have = meta ? ((await fs.stat(part))?.size ?? 0) : 0;
    const headers: Record<string, string> = {};
    if (have > 0) {
      headers.range = `bytes=${have}-`;
      if (meta?.validator) headers['if-range'] = meta.validator;
      resumedFrom.push(have);
    }
    try {
      const res = await request(options.url, headers, idle);
      const status = res.statusCode ?? 0;
      if (status === 416 && meta?.total === have) {
        res.resume();
      } else {
        if (status >= 500 || status === 429 || status === 408) {
          res.resume();
          throw new RetryableError(`HTTP ${status}`);
        }
        if (status !== 200 && status !== 206) {
          res.resume();
          throw new SidewalkError('OTA_DOWNLOAD_HTTP', `${options.url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim());
        }
        const restart = status === 200;
        const start = restart ? 0 : have;
        const length = Number(res.headers['content-length'] ?? NaN);
        const rangeTotal = /\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''))?.[1];
        const total = rangeTotal ? Number(rangeTotal) : Number.isFinite(length) ? start + length : null;
        if (restart || !meta) {
          if (have > 0) log.info(`server ignored the range request; starting ${options.url} again from byte 0`);
          meta = { url: options.url, validator: (res.headers.etag as string | undefined) ?? (res.headers['last-modified'] as string | undefined) ?? null, total };
          await replaceFile(fs, metaPath, JSON.stringify(meta));
        }
        const handle = await fs.open(part, restart ? 'w' : 'a');
        let done = start;
        try {
          for await (const chunk of res as AsyncIterable<Buffer>) {
            await handle.write(chunk);
            done += chunk.length;
            options.onProgress?.(done, total);
          }
          await handle.sync();
        } catch (err) {
          await handle.sync().catch(() => {});
          throw err instanceof SidewalkError ? err : new RetryableError(`connection lost after byte ${done}: ${(err as Error).message}`);
        } finally {
          await handle.close();
        }
        if (total !== null && done < total) throw new RetryableError(`connection closed at byte ${done} of ${total}`);
        if (!res.complete) throw new RetryableError(`connection closed at byte ${done}`);
      }
      const bytes = (await fs.stat(part))?.size ?? 0;
      await fs.rename(part, options.dest);
      await fs.syncDir(dirname(options.dest));
      if (await fs.stat(metaPath)) await fs.unlink(metaPath);
      return { bytes, attempts: attempt, resumedFrom };
    } catch (err) {
      const retryable = err instanceof RetryableError || (!(err instanceof SidewalkError) && (err as NodeJS.ErrnoException).code !== undefined);
      if (!retryable || attempt > retries) {
        if (err instanceof SidewalkError) throw err;
        throw new SidewalkError('OTA_DOWNLOAD_FAILED', `${options.url}: gave up after ${attempt} attempt(s): ${(err as Error).message}`, { cause: err });
      }
      const wait = retryWaitsMs({ ...options, retries })[attempt - 1]!;
      log.warn(`download attempt ${attempt} failed (${(err as Error).message}); retrying in ${wait} ms`);
      await sleep(wait);
    }
  }
}
