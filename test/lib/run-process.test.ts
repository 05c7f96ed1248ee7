import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSidewalkError } from '../../lib/errors.js';
import { describeCommand, outputTail, runProcess } from '../../lib/run-process.js';

const node = process.execPath;

test('runProcess collects stdout, stderr and the exit code of a command that fails', async () => {
  const r = await runProcess(node, ['-e', 'process.stdout.write("out\\n"); process.stderr.write("first\\nlast\\n"); process.exit(3)']);
  assert.deepEqual({ code: r.code, signal: r.signal, timedOut: r.timedOut, stdout: r.stdout, stderr: r.stderr }, { code: 3, signal: null, timedOut: false, stdout: 'out\n', stderr: 'first\nlast\n' });
  assert.equal(outputTail(r), 'first | last');
});

test('runProcess feeds stdin and closes it', async () => {
  const r = await runProcess(node, ['-e', 'let s=""; process.stdin.on("data", d => s += d).on("end", () => process.stdout.write(s.toUpperCase()))'], { input: 'héllo\nworld' });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'HÉLLO\nWORLD');
});

test('runProcess hands over whole lines as they come, the unterminated rest last', async () => {
  const out: string[] = [];
  const err: string[] = [];
  // Lines split across writes (and so, usually, across chunks) still arrive whole.
  const script = 'process.stdout.write("a"); setTimeout(() => { process.stdout.write("b\\nc\\n\\nd"); process.stderr.write("e\\n"); }, 20)';
  const r = await runProcess(node, ['-e', script], { onStdoutLine: (l) => out.push(l), onStderrLine: (l) => err.push(l) });
  assert.deepEqual(out, ['ab', 'c', '', 'd']);
  assert.deepEqual(err, ['e']);
  assert.equal(r.stdout, 'ab\nc\n\nd');
});

test('runProcess keeps only the tail of a stream beyond maxOutputChars', async () => {
  const r = await runProcess(node, ['-e', 'for (let i = 0; i < 1000; i++) process.stdout.write(String(i).padStart(4, "0") + "\\n")'], { maxOutputChars: 50 });
  assert.equal(r.stdout.length, 50);
  assert.ok(r.stdout.endsWith('0998\n0999\n'), r.stdout);
});

test('runProcess kills a command at its timeout; with check that is a coded failure', async () => {
  const hang = ['-e', 'setTimeout(() => {}, 600000)'];
  const r = await runProcess(node, hang, { timeoutMs: 100 });
  assert.equal(r.timedOut, true);
  assert.equal(r.signal, 'SIGKILL');
  await assert.rejects(runProcess(node, hang, { timeoutMs: 100, check: true, errorCode: 'OTA_HEALTH_COMMAND' }), (err: unknown) => {
    assert.ok(isSidewalkError(err, 'OTA_HEALTH_COMMAND'));
    assert.match(err.message, /timed out after 100 ms/);
    return true;
  });
});

test('with check, a non-zero exit names the command, how it ended, the hint and its stderr tail', async () => {
  await assert.rejects(runProcess('sh', ['-c', 'echo one >&2; echo two >&2; exit 4', 'x', 'y'], { check: true, errorCode: 'BUILD_CLI_FAILED', failureHint: 'see the docs' }), (err: unknown) => {
    assert.ok(isSidewalkError(err, 'BUILD_CLI_FAILED'));
    assert.equal(err.message, 'sh -c echo one >&2; echo two >&2; exit 4 x ... failed (exit 4) (see the docs): one | two');
    return true;
  });
});

test('a command that is not installed is a coded error naming it and the package to install', async () => {
  await assert.rejects(runProcess('sidewalk-no-such-tool', [], { errorCode: 'BUILD_CLI_FAILED', missingCode: 'BUILD_TOOL_MISSING', installPackage: 'sidewalk-tools' }), (err: unknown) => {
    assert.ok(isSidewalkError(err, 'BUILD_TOOL_MISSING'));
    assert.equal(err.message, 'sidewalk-no-such-tool not found: install the Debian package sidewalk-tools (apt-get install sidewalk-tools)');
    return true;
  });
  await assert.rejects(runProcess('sidewalk-no-such-tool', []), (err: unknown) => isSidewalkError(err, 'PROCESS_FAILED') && /sidewalk-no-such-tool not found$/.test(err.message));
});

test('describeCommand shows the command and its first arguments', () => {
  assert.equal(describeCommand('tar', ['-czf', 'out.tgz']), 'tar -czf out.tgz');
  assert.equal(describeCommand('tar', ['a', 'b', 'c', 'd', 'e']), 'tar a b c ...');
});
