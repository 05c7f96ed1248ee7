/**
 * What the device agent needs from an updater: the installed versions, the OTA state, an install of an
 * artifact announced through desired state (reporting each step), and a rollback. Two implementations:
 * the real updater (ota-backend.ts) and a simulated one for fleet-scale tests (simulated-backend.ts).
 * Both fetch the artifact the same way: HTTP with resume, then size and sha256 against desired state.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type ErrorCode, SidewalkError, errorMessage, relayedCode } from '../../../lib/errors.js';
import { download } from '../../../ota/download.js';
import type { ArtifactKind, ArtifactRef, EventStep, ReportedState, Versions } from '../protocol/messages.js';

export interface StepReport {
  step: EventStep;
  done_bytes?: number;
  total_bytes?: number | null;
  code?: string;
  error?: string;
}

export interface BackendResult {
  /** reboot: an OS update is waiting for its trial boot (the daemon continues after it). */
  outcome: 'succeeded' | 'failed' | 'rejected' | 'reboot';
  /** Where it ended: committed, download, verify, install, health, rollback, ... */
  step: string;
  code: string | null;
  error: string | null;
}

export interface UpdaterBackend {
  versions(): Promise<Versions>;
  otaState(): Promise<ReportedState['ota']>;
  install(artifact: ArtifactRef, onStep: (s: StepReport) => void): Promise<BackendResult>;
  /** Back to the previous version of `kind`; succeeded = rolled back. */
  rollback(kind: ArtifactKind, onStep: (s: StepReport) => void): Promise<BackendResult>;
}

export interface FetchOptions {
  retries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  idleTimeoutMs?: number;
}

async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** The first coded error in an updater error text ("download: ARTIFACT_UNSIGNED: ..."). */
export function codeOf(text: string | null | undefined, fallback: ErrorCode): ErrorCode {
  return relayedCode(/\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b/.exec(text ?? '')?.[1] ?? fallback, fallback);
}

/**
 * Downloads `a.url` to `<dir>/<sha256>.mender` (resumable) and checks size and sha256. A failed fetch
 * is `failed` (retried on the next desired-state pass); bytes that do not match desired state are
 * `rejected` and deleted.
 */
export async function fetchVerified(a: ArtifactRef, dir: string, onStep: (s: StepReport) => void, options: FetchOptions = {}): Promise<{ path: string } | BackendResult> {
  const dest = join(dir, `${a.sha256}.mender`);
  onStep({ step: 'download', done_bytes: 0, total_bytes: a.size });
  let lastReport = 0;
  try {
    await download({
      url: a.url,
      dest,
      retries: options.retries ?? 3,
      backoffMs: options.backoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      onProgress(done, total) {
        // Progress events at most every quarter of the file (they are spooled to disk).
        if (done - lastReport >= a.size / 4 || done === total) {
          lastReport = done;
          onStep({ step: 'download', done_bytes: done, total_bytes: total });
        }
      },
    });
  } catch (err) {
    return { outcome: 'failed', step: 'download', code: codeOf(errorMessage(err), 'OTA_DOWNLOAD_FAILED'), error: errorMessage(err) };
  }
  const got = await sha256File(dest);
  if (got.size !== a.size || got.sha256 !== a.sha256) {
    await rm(dest, { force: true });
    const e = new SidewalkError('FLEET_ARTIFACT_MISMATCH', `${a.url}: got ${got.size} bytes with sha256 ${got.sha256}; desired state says ${a.size} bytes, sha256 ${a.sha256}`);
    return { outcome: 'rejected', step: 'download', code: e.code, error: e.message };
  }
  onStep({ step: 'downloaded', done_bytes: got.size, total_bytes: got.size });
  return { path: dest };
}
