import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { openArtifact, type ArtifactPolicy } from '../../../ota/artifact/index.js';
import { isSidewalkError } from '../../../lib/errors.js';
import { chunked, collect, joinTar, makeKeys, makeTempDir, menderArtifact, splitTar, type TarMember, type TestKeys } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
let keys: TestKeys;
let signed: Buffer; // EC-signed module-image, gzip
let unsigned: Buffer;
const payload = randomBytes(20_000);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Reads the artifact completely (all payloads consumed); resolves to the payload bytes. */
async function readAll(bytes: Buffer, policy: ArtifactPolicy): Promise<Map<string, Buffer>> {
  const opened = await openArtifact(chunked(bytes, 1000), policy);
  const out = new Map<string, Buffer>();
  for await (const p of opened.payloads()) out.set(p.name, await collect(p.stream));
  return out;
}

async function refused(bytes: Buffer, policy: ArtifactPolicy, code: string, messageHint?: RegExp): Promise<void> {
  await assert.rejects(readAll(bytes, policy), (err: unknown) => {
    assert.ok(isSidewalkError(err), `SidewalkError expected, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (messageHint) assert.match(err.message, messageHint);
    return true;
  });
}

const EC = (): ArtifactPolicy => ({ publicKeys: [keys.ecPublicPem] });
const UNSIGNED_OK: ArtifactPolicy = { publicKeys: [], allowUnsigned: true };

function edit(bytes: Buffer, f: (m: TarMember[]) => TarMember[]): Buffer {
  return joinTar(f(splitTar(bytes)));
}
function member(ms: TarMember[], name: string): TarMember {
  const m = ms.find((x) => x.name === name);
  assert.ok(m, `member ${name}`);
  return m;
}

/** Replaces one member's bytes (an edit for `edit`). */
function setData(ms: TarMember[], name: string, text: string): TarMember[] {
  member(ms, name).data = Buffer.from(text);
  return ms;
}
/** Replaces the manifest line of `name` with the sha256 of `data`. */
function rehash(ms: TarMember[], name: string, data: Buffer): void {
  const man = member(ms, 'manifest');
  man.data = Buffer.from(man.data.toString().replace(new RegExp(`^[0-9a-f]{64}  ${name.replace(/\./g, '\\.')}$`, 'm'), `${sha(data)}  ${name}`));
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('sidewalk-artifact-reject-'));
  keys = await makeKeys(dir);
  await writeFile(join(dir, 'model.bin'), payload);
  const base = ['write', 'module-image', '-T', 'sidewalk-model', '-t', 'raspberrypi4', '-n', 'm-1', '-f', join(dir, 'model.bin'), '-d', 'rootfs-image.version:os-1'];
  await menderArtifact([...base, '-k', keys.ecPrivate, '-o', join(dir, 's.mender')]);
  await menderArtifact([...base, '-o', join(dir, 'u.mender')]);
  signed = await readFile(join(dir, 's.mender'));
  unsigned = await readFile(join(dir, 'u.mender'));
});
after(() => cleanup());

describe('refusals, each with its code', () => {
  test('the untouched fixtures are accepted (control)', async () => {
    assert.ok((await readAll(signed, EC())).get('model.bin')!.equals(payload));
    assert.ok((await readAll(unsigned, UNSIGNED_OK)).get('model.bin')!.equals(payload));
    assert.ok(
      (
        await readAll(
          edit(signed, (m) => m),
          EC(),
        )
      )
        .get('model.bin')!
        .equals(payload),
      'split/join round trip',
    );
  });

  test('tampered payload: the payload stream itself errors with ARTIFACT_PAYLOAD_CHECKSUM', async () => {
    const bad = edit(signed, (ms) => {
      const d = member(ms, 'data/0000.tar.gz');
      const inner = gunzipSync(d.data);
      inner[512 + 100] = inner[512 + 100]! ^ 0xff; // a byte of model.bin inside the data tar
      d.data = gzipSync(inner);
      return ms;
    });
    const opened = await openArtifact(chunked(bad), EC());
    for await (const p of opened.payloads()) {
      await assert.rejects(collect(p.stream), (err) => isSidewalkError(err, 'ARTIFACT_PAYLOAD_CHECKSUM') && /model\.bin/.test(err.message));
      break;
    }
    await opened.close();
    await refused(bad, EC(), 'ARTIFACT_PAYLOAD_CHECKSUM', /data\/0000\/model\.bin/);
  });

  test('tampered manifest: signature fails (signed) / header checksum fails (unsigned)', async () => {
    const flip = (ms: TarMember[]): TarMember[] => {
      const man = member(ms, 'manifest');
      man.data = Buffer.from(man.data.toString().replace(/^(.)/, (c) => (c === 'a' ? 'b' : 'a')));
      return ms;
    };
    await refused(edit(signed, flip), EC(), 'ARTIFACT_SIGNATURE_INVALID', /manifest\.sig/);
    // The signature is checked before the manifest is parsed: garbage is a signature failure when signed.
    const garbage = (ms: TarMember[]): TarMember[] => {
      member(ms, 'manifest').data = Buffer.concat([member(ms, 'manifest').data, Buffer.from('../../etc/shadow\n')]);
      return ms;
    };
    await refused(edit(signed, garbage), EC(), 'ARTIFACT_SIGNATURE_INVALID');
    await refused(edit(unsigned, garbage), UNSIGNED_OK, 'ARTIFACT_MANIFEST_INVALID', /line 4/);
    const headerLine = (ms: TarMember[]): TarMember[] => {
      rehash(ms, 'header.tar.gz', Buffer.from('not the header'));
      return ms;
    };
    await refused(edit(unsigned, headerLine), UNSIGNED_OK, 'ARTIFACT_MANIFEST_CHECKSUM', /header\.tar\.gz/);
  });

  test('tampered header.tar.gz with the manifest fixed up still fails the signature', async () => {
    const bad = edit(signed, (ms) => {
      const h = member(ms, 'header.tar.gz');
      h.data = gzipSync(gunzipSync(h.data));
      rehash(ms, 'header.tar.gz', h.data);
      return ms;
    });
    await refused(bad, EC(), 'ARTIFACT_SIGNATURE_INVALID');
  });

  test('wrong key, missing signature, signature garbage', async () => {
    await refused(signed, { publicKeys: [keys.rsaPublicPem] }, 'ARTIFACT_SIGNATURE_INVALID');
    await refused(
      edit(signed, (ms) => ms.filter((m) => m.name !== 'manifest.sig')),
      EC(),
      'ARTIFACT_UNSIGNED',
    );
    await refused(unsigned, EC(), 'ARTIFACT_UNSIGNED');
    await refused(
      edit(signed, (ms) => setData(ms, 'manifest.sig', '%%%not base64')),
      EC(),
      'ARTIFACT_SIGNATURE_INVALID',
    );
    await assert.rejects(readAll(signed, { publicKeys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'] }), (err) => isSidewalkError(err, 'ARTIFACT_KEY_INVALID'));
  });

  test('wrong device type and unmet depends', async () => {
    await refused(signed, { ...EC(), deviceType: 'raspberrypi5' }, 'ARTIFACT_DEVICE_TYPE');
    await refused(signed, { ...EC(), deviceProvides: { 'rootfs-image.version': 'os-0' } }, 'ARTIFACT_DEPENDS_UNMET');
    await refused(signed, { ...EC(), deviceProvides: {} }, 'ARTIFACT_DEPENDS_UNMET');
  });

  test('truncated file at many offsets: ARTIFACT_TRUNCATED (or a decompression error inside data)', async () => {
    for (const cut of [0, 100, 512, 700, 1536, 2048, 2600, 3000, signed.length - 1100, signed.length - 1030]) {
      const part = signed.subarray(0, cut);
      await assert.rejects(readAll(part, EC()), (err) => {
        assert.ok(isSidewalkError(err), `cut ${cut}: ${String(err)}`);
        assert.ok(['ARTIFACT_TRUNCATED', 'ARTIFACT_COMPRESSION_INVALID'].includes(err.code), `cut ${cut}: ${err.code} ${err.message}`);
        return true;
      });
    }
  });

  test('extra, unknown and reordered members', async () => {
    const extra = { name: 'evil.sh', data: Buffer.from('#!/bin/sh\n') };
    await refused(
      edit(signed, (ms) => [...ms, extra]),
      EC(),
      'ARTIFACT_UNEXPECTED_MEMBER',
      /evil\.sh/,
    );
    await refused(
      edit(signed, (ms) => [ms[0]!, ms[1]!, extra, ...ms.slice(2)]),
      EC(),
      'ARTIFACT_UNEXPECTED_MEMBER',
    );
    await refused(
      edit(signed, (ms) => [ms[1]!, ms[0]!, ...ms.slice(2)]),
      EC(),
      'ARTIFACT_BAD_MEMBER_ORDER',
      /version/,
    );
    await refused(
      edit(signed, (ms) => [ms[0]!, ms[1]!, ms[2]!, ms[4]!, ms[3]!]),
      EC(),
      'ARTIFACT_BAD_MEMBER_ORDER',
    );
    await refused(
      edit(signed, (ms) => [...ms, { name: 'data/0001.tar.gz', data: member(ms, 'data/0000.tar.gz').data }]),
      EC(),
      'ARTIFACT_UNSUPPORTED',
    );
    await refused(
      edit(signed, (ms) => [...ms.slice(0, 3), { name: 'manifest-augment', data: Buffer.alloc(0) }, ...ms.slice(3)]),
      EC(),
      'ARTIFACT_UNSUPPORTED',
    );
    await refused(
      edit(signed, (ms) => [...ms, ms[4]!]),
      EC(),
      'ARTIFACT_UNSUPPORTED',
    ); // a second data/0000
  });

  test('a data file the manifest does not list, and a listed file that is missing', async () => {
    const withExtra = edit(unsigned, (ms) => {
      const d = member(ms, 'data/0000.tar.gz');
      const files = splitTar(gunzipSync(d.data));
      d.data = gzipSync(joinTar([...files, { name: 'rootkit', data: Buffer.from('x') }]));
      return ms;
    });
    await refused(withExtra, UNSIGNED_OK, 'ARTIFACT_UNEXPECTED_MEMBER', /rootkit/);
    const missing = edit(unsigned, (ms) => {
      member(ms, 'data/0000.tar.gz').data = gzipSync(joinTar([]));
      return ms;
    });
    await refused(missing, UNSIGNED_OK, 'ARTIFACT_MANIFEST_CHECKSUM', /model\.bin/);
  });

  test('bad version member and header problems', async () => {
    await refused(
      edit(unsigned, (ms) => setData(ms, 'version', '{"format":"mender","version":2}')),
      UNSIGNED_OK,
      'ARTIFACT_BAD_VERSION',
    );
    await refused(
      edit(unsigned, (ms) => setData(ms, 'version', '{"format":"other","version":3}')),
      UNSIGNED_OK,
      'ARTIFACT_BAD_VERSION',
    );
    // A prettier version is fine only if the manifest says so: here it does not.
    await refused(
      edit(unsigned, (ms) => setData(ms, 'version', '{ "format": "mender", "version": 3 }')),
      UNSIGNED_OK,
      'ARTIFACT_MANIFEST_CHECKSUM',
      /version/,
    );
    const headerWith = (extra: TarMember): Buffer =>
      edit(unsigned, (ms) => {
        const h = member(ms, 'header.tar.gz');
        h.data = gzipSync(joinTar([...splitTar(gunzipSync(h.data)), extra]));
        rehash(ms, 'header.tar.gz', h.data);
        return ms;
      });
    await refused(headerWith({ name: 'headers/0000/../../../etc/passwd', data: Buffer.from('x') }), UNSIGNED_OK, 'ARTIFACT_UNEXPECTED_MEMBER');
    await refused(headerWith({ name: 'header-info', data: Buffer.from('{}') }), UNSIGNED_OK, 'ARTIFACT_BAD_MEMBER_ORDER');
    const badInfo = edit(unsigned, (ms) => {
      const h = member(ms, 'header.tar.gz');
      const files = splitTar(gunzipSync(h.data));
      files[0]!.data = Buffer.from('{"payloads":[{"type":"x"}],"artifact_provides":{},"artifact_depends":{"device_type":["raspberrypi4"]}}');
      h.data = gzipSync(joinTar(files));
      rehash(ms, 'header.tar.gz', h.data);
      return ms;
    });
    await refused(badInfo, UNSIGNED_OK, 'ARTIFACT_HEADER_INVALID', /artifact_name/);
  });

  test('an I/O error of the source (not the content) is ARTIFACT_READ_FAILED, also mid-payload', async () => {
    for (const at of [700, signed.length - 1500]) {
      const source = new Readable({ read() {} });
      source.push(signed.subarray(0, at));
      setImmediate(() => source.destroy(new Error('ECONNRESET simulated')));
      await assert.rejects(
        (async () => {
          const opened = await openArtifact(source, EC());
          for await (const p of opened.payloads()) await collect(p.stream);
        })(),
        (err) => isSidewalkError(err) && ['ARTIFACT_READ_FAILED'].includes(err.code) && /ECONNRESET/.test(err.message),
      );
    }
  });

  test('zstd members are refused as unsupported compression', async () => {
    const zst = edit(unsigned, (ms) => {
      const h = member(ms, 'header.tar.gz');
      const man = member(ms, 'manifest');
      man.data = Buffer.from(man.data.toString().replace('header.tar.gz', 'header.tar.zst'));
      h.name = 'header.tar.zst';
      return ms;
    });
    await refused(zst, UNSIGNED_OK, 'ARTIFACT_UNSUPPORTED_COMPRESSION', /zstd/);
  });
});
