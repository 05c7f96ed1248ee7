/** The weekly triggers: the GitHub workflow and the systemd timer + service both run `sidewalk pipeline run`. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadPipelineConfig } from '../../../host-tools/pipeline/config.js';
import { REPO_ROOT } from '../../helpers/paths.js';
import { verifyUnits } from '../../helpers/systemd-verify.js';
import { makeTempDir } from '../../helpers/temp.js';

const SERVICE = join(REPO_ROOT, 'image', 'systemd', 'sidewalk-pipeline.service');
const TIMER = join(REPO_ROOT, 'image', 'systemd', 'sidewalk-pipeline.timer');
const WORKFLOW = join(REPO_ROOT, '.github', 'workflows', 'train-models.yml');

interface Workflow {
  on: { schedule: { cron: string }[]; workflow_dispatch: { inputs: { location: { type: string; options: string[]; default: string } } } };
  jobs: Record<string, { strategy: { matrix: { location: string } }; steps: { name?: string; run?: string }[] }>;
}

describe('scheduled pipeline runs', () => {
  test('service and timer pass systemd-analyze verify with no output', async () => {
    const r = await verifyUnits([SERVICE, TIMER]);
    assert.equal(r.output, '');
    assert.equal(r.code, 0);
  });

  test('the timer is weekly and starts the service, which runs `sidewalk pipeline run` for each configured location', async () => {
    const timer = await readFile(TIMER, 'utf8');
    assert.match(timer, /^OnCalendar=Sun \*-\*-\* 03:00:00$/m);
    assert.match(timer, /^Unit=sidewalk-pipeline\.service$/m);
    assert.match(timer, /^Persistent=true$/m);
    const service = await readFile(SERVICE, 'utf8');
    assert.match(service, /^Type=oneshot$/m);
    const exec = /^ExecStart=\/bin\/sh -c '(.*)'$/m.exec(service);
    assert.ok(exec, 'ExecStart runs a shell loop');
    // What the shell gets after systemd turns $$ into $; run it with a stand-in sidewalk that fails
    // for one location, is rejected (exit 2) for another and succeeds for the third.
    const script = exec[1]!.replaceAll('$$', '$');
    assert.match(script, /\/opt\/sidewalk\/bin\/sidewalk --log-json pipeline run --location "\$loc" --db \S+ --work \S+ --registry \S+ --config \/etc\/sidewalk\/pipeline\.yaml/);
    const dir = await makeTempDir('sidewalk-unit-');
    try {
      const fake = join(dir, 'sidewalk');
      await writeFile(fake, `#!/bin/sh\necho "$@" >> ${join(dir, 'calls')}\ncase "$5" in Denver) exit 2;; Niwot) exit 1;; esac\nexit 0\n`);
      await chmod(fake, 0o755);
      const run = (locations: string): number | null =>
        spawnSync('/bin/sh', ['-c', script.replace('/opt/sidewalk/bin/sidewalk', fake)], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SIDEWALK_PIPELINE_LOCATIONS: locations } }).status;
      assert.equal(run('LA Denver'), 0, 'a rejected model is not a unit failure');
      assert.equal(run('Niwot LA'), 1, 'a failed location fails the unit');
      const calls = (await readFile(join(dir, 'calls'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[4]);
      assert.deepEqual(calls, ['LA', 'Denver', 'Niwot', 'LA'], 'every location gets its run even after a failure');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the workflow parses: weekly schedule, dispatch with a location choice, and it runs `sidewalk pipeline run`', async () => {
    const wf = parse(await readFile(WORKFLOW, 'utf8')) as Workflow;
    assert.match(wf.on.schedule[0]!.cron, /^\S+ \S+ \* \* [0-6]$/, 'weekly cron');
    const input = wf.on.workflow_dispatch.inputs.location;
    assert.equal(input.type, 'choice');
    assert.deepEqual(input.options, ['LA', 'Denver', 'Niwot']);
    assert.ok(input.options.includes(input.default));
    const job = wf.jobs.pipeline!;
    assert.match(job.strategy.matrix.location, /inputs\.location/);
    const run = job.steps.map((s) => s.run ?? '').find((r) => r.includes('pipeline run'));
    assert.ok(run, 'a step runs the pipeline');
    assert.match(run, /node dist\/bin\/sidewalk\.js pipeline run --location "\$LOCATION" --db \S+ --work \S+\s+\\\s+--registry \S+ --config "\$RUNNER_TEMP\/pipeline\.yaml"/);
    assert.match(run, /if \[ "\$status" -eq 2 \]/, 'a rejection is a warning');
  });

  test('the example production settings are valid', () => {
    const c = loadPipelineConfig(join(REPO_ROOT, 'host-tools', 'pipeline', 'pipeline.example.yaml'));
    assert.equal(c.train.arch, 'mobilenetv2');
    assert.equal(c.train.variant, 'int8');
    assert.equal(c.package.key, undefined);
    assert.deepEqual(c.gates, { accuracyTolerance: 0.01, sidewalkRecallMin: 0.9, roadFalseLimitMax: 0.1 });
  });
});
