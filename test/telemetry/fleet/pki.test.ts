/**
 * The simulated fleet's PKI: certificates are made by at most `concurrency` openssl processes at once
 * (all at once ran out of file descriptors at 10,000 devices), and each one verifies against the CA.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { tempDir } from '../../../telemetry/fleet/sim/common.js';
import { limiter, makePki } from '../../../telemetry/fleet/sim/pki.js';

const run = promisify(execFile);

test('the limiter never runs more than n tasks at once and runs every task', async () => {
  const limit = limiter(3);
  let running = 0;
  let peak = 0;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      limit(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        return i;
      }),
    ),
  );
  assert.equal(peak, 3);
  assert.deepEqual(
    results,
    Array.from({ length: 20 }, (_, i) => i),
  );
  // A failing task frees its slot.
  await assert.rejects(
    limit(async () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.equal(await limit(async () => 'next'), 'next');
});

test('certificates made under a concurrency limit verify against the CA, one per CN, made once', async () => {
  const dir = await tempDir('sidewalk-pki-');
  try {
    const pki = await makePki(dir, { concurrency: 2 });
    const cns = ['server', 'fleet-tool', ...Array.from({ length: 6 }, (_, i) => `dev-${i}`)];
    const certs = await Promise.all(cns.map((cn) => pki.client(cn)));
    assert.equal(await pki.client('dev-0'), certs[2], 'the same files for the same CN');
    const { stdout } = await run('openssl', ['verify', '-CAfile', pki.ca, ...certs.map((c) => c.cert)]);
    assert.equal(
      stdout
        .trim()
        .split('\n')
        .filter((l) => l.endsWith(': OK')).length,
      cns.length,
    );
    const { stdout: subject } = await run('openssl', ['x509', '-in', certs[3]!.cert, '-noout', '-subject', '-ext', 'subjectAltName']);
    assert.match(subject, /CN ?= ?dev-1/);
    const { stdout: server } = await run('openssl', ['x509', '-in', certs[0]!.cert, '-noout', '-ext', 'subjectAltName']);
    assert.match(server, /IP Address:127\.0\.0\.1/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
