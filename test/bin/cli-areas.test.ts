import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { CLI_AREAS, areasFor } from '../../bin/areas.js';
import { runCliSync } from '../helpers/cli.js';

describe('CLI areas (loaded only for their own commands)', () => {
  test("each area's declared commands are exactly the ones it registers", async () => {
    for (const area of CLI_AREAS) {
      const program = new Command('sidewalk');
      (await area.load())(program);
      assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...area.commands].sort());
    }
  });

  test('a command loads its area; no command, help or a typo loads every area', () => {
    assert.deepEqual(
      areasFor(['--log-json', 'ota', 'daemon']).map((a) => a.commands),
      [['ota']],
    );
    assert.deepEqual(
      areasFor(['replay', 'x.mp4']).map((a) => a.commands),
      [['run', 'replay', 'config', 'limiter']],
    );
    for (const args of [[], ['--help'], ['help', 'data'], ['dta']]) assert.equal(areasFor(args).length, CLI_AREAS.length);
  });

  test('the real CLI lists every command in its help and runs one area alone', () => {
    const help = runCliSync(['--help']).stdout;
    for (const name of CLI_AREAS.flatMap((a) => a.commands)) assert.match(help, new RegExp(`^  ${name}\\b`, 'm'));
    assert.match(runCliSync(['data', '--help']).stdout, /ingest/);
    const typo = runCliSync(['dta']);
    assert.notEqual(typo.code, 0);
    assert.match(typo.stderr, /^sidewalk: CLI_UNKNOWN_COMMAND: unknown command "dta"/);
  });
});
