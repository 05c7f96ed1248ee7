import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SidewalkError, errorMessage, isSidewalkError } from '../lib/errors.js';

test('SidewalkError carries a stable code and its message names the cause', () => {
  const err = new SidewalkError('CONFIG_INVALID', 'camera.width: must be >= 64', { details: { path: 'camera.width' } });
  assert.equal(err.code, 'CONFIG_INVALID');
  assert.ok(isSidewalkError(err, 'CONFIG_INVALID'));
  assert.equal(isSidewalkError(err, 'MODEL_FILE_MISSING'), false);
  assert.equal(errorMessage(err), 'CONFIG_INVALID: camera.width: must be >= 64');
  assert.deepEqual(err.details, { path: 'camera.width' });
});
