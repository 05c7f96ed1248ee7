import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appVersion } from '../../lib/app-version.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { compareVersions, meetsMinimum } from '../../lib/versions.js';

test('compareVersions orders dotted numeric parts as numbers, a missing part counting as 0', () => {
  assert.equal(compareVersions('1.10.0', '1.9'), 1);
  assert.equal(compareVersions('1.9', '1.10.0'), -1);
  assert.equal(compareVersions('2.9', '2.9.0'), 0);
  assert.equal(compareVersions('2.10.0', '2.9.0'), 1);
  assert.equal(compareVersions('1.14.0', '2.9.0'), -1);
  assert.equal(compareVersions('10', '9.99.99'), 1);
});

test('compareVersions puts a pre-release below its release and orders pre-releases by their parts', () => {
  const ascending = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1-rc.1', '1.0.1'];
  const shuffled = [...ascending].reverse();
  assert.deepEqual(shuffled.sort(compareVersions), ascending);
  for (let i = 0; i + 1 < ascending.length; i++) {
    assert.equal(compareVersions(ascending[i]!, ascending[i + 1]!), -1, `${ascending[i]} < ${ascending[i + 1]}`);
    assert.equal(compareVersions(ascending[i + 1]!, ascending[i]!), 1, `${ascending[i + 1]} > ${ascending[i]}`);
  }
});

test('compareVersions ignores build metadata and counts a non-numeric core part as 0', () => {
  assert.equal(compareVersions('1.2.3+build.7', '1.2.3'), 0);
  assert.equal(compareVersions('1.2.3-rc.1+abc', '1.2.3-rc.1'), 0);
  assert.equal(compareVersions('1.x', '1.0'), 0);
});

test('meetsMinimum judges a pre-release by its release (a dev build of 1.3.0 meets 1.3.0)', () => {
  assert.equal(meetsMinimum('1.3.0', '1.3.0'), true);
  assert.equal(meetsMinimum('1.3.0-dev', '1.3.0'), true);
  assert.equal(meetsMinimum('1.3.0', '1.3.0-rc.1'), true);
  assert.equal(meetsMinimum('1.2.9', '1.3.0'), false);
  assert.equal(meetsMinimum('1.10.0', '1.9.0'), true);
});

test('appVersion is package.json version', () => {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(appVersion(), version);
  assert.match(appVersion(), /^\d+\.\d+\.\d+/);
});
