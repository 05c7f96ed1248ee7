import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { inspectArtifact, openArtifact } from '../../../ota/artifact/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { MENDER_REAL_DIR } from '../../helpers/paths.js';
import { collect } from './fixtures.js';

const DIR = MENDER_REAL_DIR;

// From data/mender-real/README.md (artifacts written by upstream tools, not by us).
const CORPUS: { file: string; name: string; type: string; devices: string[]; compression: string; files: number }[] = [
  { file: 'a0-signed-nitro.2024-10.mender', name: 'a0', type: 'rootfs-image', devices: ['raspberrypi4'], compression: 'gzip', files: 1 },
  { file: 'a0-signed-nitro.2026-03.mender', name: 'a0', type: 'rootfs-image', devices: ['raspberrypi5'], compression: 'gzip', files: 1 },
  { file: 'cli_artifact.mender', name: 'testName', type: 'rootfs-image', devices: ['mydevice'], compression: 'gzip', files: 1 },
  { file: 'mender-cli_test.mender', name: 'test', type: 'rootfs-image', devices: ['test'], compression: 'gzip', files: 1 },
  { file: 'mender-server_test-artifact.mender', name: 'deployments-phase-testing', type: 'rootfs-image-v2', devices: ['qemux86-64'], compression: 'gzip', files: 1 },
  { file: 'mender-server_date.mender', name: 'date', type: 'single-file', devices: ['qemux86-64', 'docker-client'], compression: 'gzip', files: 4 },
  { file: 'mender-server_deployments_out.mender', name: 'bar', type: 'mender-configure', devices: ['bb'], compression: 'none', files: 0 },
  { file: 'simpledummy_1.0.mender', name: 'simpledummy-1.0', type: 'single-file', devices: ['testdevice1'], compression: 'gzip', files: 1 },
  ...[1, 2, 3].map((v) => ({ file: `orchestrator_manifest-v${v}.mender`, name: `system-core-v${v}`, type: 'mender-orchestrator-manifest', devices: ['gateway'], compression: 'gzip', files: 1 })),
  ...[1, 2, 3].map((v) => ({ file: `orchestrator_rtos-v${v}.mender`, name: `rtos-v${v}`, type: 'rtos-interface', devices: ['rtos'], compression: 'gzip', files: 1 })),
  { file: 'orchestrator_gateway-v1.mender', name: 'gateway-v1', type: 'gateway', devices: ['gateway'], compression: 'gzip', files: 1 },
];

describe('real Mender artifacts from public repositories', () => {
  for (const c of CORPUS) {
    test(`${c.file}: ${c.name} / ${c.type} / ${c.devices.join(',')}`, async () => {
      const signed = c.file.startsWith('a0-');
      const keys = signed ? [await readFile(join(DIR, `ec.${c.file.split('.')[1]}.pem`), 'utf8')] : [];
      const info = await inspectArtifact(join(DIR, c.file), { publicKeys: keys, allowUnsigned: !signed, deviceType: c.devices[0]! });
      assert.equal(info.name, c.name);
      assert.equal(info.payloadType, c.type);
      assert.deepEqual(info.deviceTypes, c.devices);
      assert.equal(info.compression, c.compression);
      assert.equal(info.files.length, c.files);
      assert.deepEqual(info.signature, signed ? { scheme: 'ecdsa-p256-der', verified: true } : null);
      for (const f of info.files) assert.ok(f.size >= 0, `${f.name} size known`);
    });
  }

  test('payload bytes streamed from a real artifact match the manifest checksums', async () => {
    const opened = await openArtifact(createReadStream(join(DIR, 'mender-server_test-artifact.mender')), { publicKeys: [], allowUnsigned: true });
    assert.equal(opened.info.files[0]!.size, 512000, 'first file size known before streaming');
    const seen: string[] = [];
    for await (const p of opened.payloads()) {
      const data = await collect(p.stream);
      assert.equal(data.length, p.size);
      assert.equal(createHash('sha256').update(data).digest('hex'), opened.info.files.find((f) => f.name === p.name)!.sha256);
      seen.push(p.name);
    }
    assert.deepEqual(seen, ['dump']);
  });

  test('real-corpus facts: depends, provides, meta-data, empty rootfs type-info type', async () => {
    const cli = await inspectArtifact(join(DIR, 'cli_artifact.mender'), { publicKeys: [], allowUnsigned: true });
    assert.deepEqual(cli.depends.artifact_name, ['testNameDepends1', 'testNameDepends2']);
    assert.deepEqual(cli.depends.artifact_group, ['testGroupDepends1', 'testGroupDepends2']);
    assert.equal(cli.provides.artifact_group, 'testGroupProvide');
    const out = await inspectArtifact(join(DIR, 'mender-server_deployments_out.mender'), { publicKeys: [], allowUnsigned: true });
    assert.deepEqual(out.metaData, { baz: 'qux', foo: 'bar' });
    const gw = await inspectArtifact(join(DIR, 'orchestrator_gateway-v1.mender'), { publicKeys: [], allowUnsigned: true });
    assert.equal(gw.provides.version, 'gateway-v1');
  });

  for (const [file, own, other] of [
    ['a0-signed-nitro.2024-10.mender', 'ec.2024-10.pem', 'ec.2026-03.pem'],
    ['a0-signed-nitro.2026-03.mender', 'ec.2026-03.pem', 'ec.2024-10.pem'],
  ] as const) {
    test(`${file} verifies with ${own} and is refused with ${other}`, async () => {
      const ok = await inspectArtifact(join(DIR, file), { publicKeys: [await readFile(join(DIR, own), 'utf8')] });
      assert.equal(ok.signature?.verified, true);
      await assert.rejects(inspectArtifact(join(DIR, file), { publicKeys: [await readFile(join(DIR, other), 'utf8')] }), (err) => isSidewalkError(err, 'ARTIFACT_SIGNATURE_INVALID'));
      // With both keys configured (key rollover), the right one is found.
      const both = await inspectArtifact(join(DIR, file), {
        publicKeys: [await readFile(join(DIR, other), 'utf8'), await readFile(join(DIR, own), 'utf8')],
      });
      assert.equal(both.signature?.scheme, 'ecdsa-p256-der');
    });
  }

  test('unsigned real artifacts are refused when no unsigned artifacts are allowed', async () => {
    await assert.rejects(inspectArtifact(join(DIR, 'simpledummy_1.0.mender'), { publicKeys: [] }), (err) => isSidewalkError(err, 'ARTIFACT_UNSIGNED'));
  });

  test('a signed artifact without a configured key is refused unless unsigned is allowed', async () => {
    const file = join(DIR, 'a0-signed-nitro.2026-03.mender');
    await assert.rejects(inspectArtifact(file, { publicKeys: [] }), (err) => isSidewalkError(err, 'ARTIFACT_NO_VERIFY_KEY'));
    const info = await inspectArtifact(file, { publicKeys: [], allowUnsigned: true });
    assert.deepEqual(info.signature, { scheme: 'ecdsa-p256-der', verified: false });
  });
});
