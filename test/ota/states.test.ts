/** The state table itself: one row per journal state, edges between known states, every state on a path to idle, README in sync. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/paths.js';
import { OTA_STATES, type OtaState } from '../../ota/journal.js';
import { allowedNext, STATE_TABLE, stateTableMarkdown, tableEdges } from '../../ota/install/states.js';

test('every journal state has a row, and every edge joins two journal states', () => {
  assert.deepEqual(Object.keys(STATE_TABLE).sort(), [...OTA_STATES].sort());
  for (const e of tableEdges()) {
    assert.ok(OTA_STATES.includes(e.from) && OTA_STATES.includes(e.to), JSON.stringify(e));
  }
});

test('every state is reached from idle, and reaches idle again (no update can get stuck)', () => {
  const next = new Map<OtaState, OtaState[]>(OTA_STATES.map((s) => [s, []]));
  for (const e of tableEdges()) next.get(e.from)!.push(e.to);
  const reach = (from: OtaState, edges: Map<OtaState, OtaState[]>) => {
    const seen = new Set<OtaState>([from]);
    const todo = [from];
    for (let s = todo.pop(); s; s = todo.pop()) {
      for (const t of edges.get(s) ?? []) {
        if (seen.has(t)) continue;
        seen.add(t);
        todo.push(t);
      }
    }
    return seen;
  };
  assert.deepEqual([...reach('idle', next)].sort(), [...OTA_STATES].sort());
  for (const s of OTA_STATES) assert.ok(reach(s, next).has('idle'), `${s} never gets back to idle`);
});

test('the failure and power-loss edges of forward states never lead forward past a check', () => {
  // An error or a power cut before the commit must not commit: only backward states or a redo.
  for (const s of ['download', 'install', 'switch', 'reboot', 'verify'] as const) {
    const row = STATE_TABLE[s];
    assert.ok(row.failure === 'rollback' || row.failure === 'failure', `${s} fails to ${row.failure}`);
    assert.ok(!row.powerLoss.includes('commit') && !row.powerLoss.includes('cleanup'), `${s} power loss: ${row.powerLoss.join(', ')}`);
  }
});

test('allowedNext: the success, failure and (only when interrupted) power-loss edges, and reboots only where the row says', () => {
  assert.equal(allowedNext('verify', 'commit', false, false), true);
  assert.equal(allowedNext('verify', 'rollback', false, false), true);
  assert.equal(allowedNext('verify', 'verify', false, false), false, 'verify -> verify only after an interruption');
  assert.equal(allowedNext('verify', 'verify', true, false), true);
  assert.equal(allowedNext('install', 'commit', true, false), false);
  assert.equal(allowedNext('reboot', null, false, true), true, 'reboot stays and reboots');
  assert.equal(allowedNext('reboot', null, false, false), false);
  assert.equal(allowedNext('rollback', 'rollback-reboot', false, true), true);
  assert.equal(allowedNext('rollback', 'failure', false, true), false, 'no reboot after journaling failure');
});

test("ota/README.md's state table is the one generated from STATE_TABLE", () => {
  const readme = readFileSync(join(REPO_ROOT, 'ota', 'README.md'), 'utf8');
  const block = readme.split('<!-- ota-states:start')[1]?.split('<!-- ota-states:end -->')[0];
  assert.ok(block, 'ota/README.md has no ota-states block');
  assert.equal(block.slice(block.indexOf('-->') + 3).trim(), stateTableMarkdown(), 'run: npm run build && node scripts/ota-state-table.mjs');
  for (const s of OTA_STATES) assert.ok(block.includes(`| \`${s}\` |`), `README lists ${s}`);
});
