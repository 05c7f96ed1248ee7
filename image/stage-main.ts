/** Entry point of the fakeroot half of `sidewalk image build` (see stage.ts); prints progress on stderr. */
import { readFileSync } from 'node:fs';
import { errorMessage, isSidewalkError } from '../lib/errors.js';
import { runStage, STAGE_STEPS, type StagePlan } from './stage.js';

const planPath = process.argv[2];
if (!planPath) {
  process.stderr.write('usage: stage-main.js <plan.json>\n');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planPath, 'utf8')) as StagePlan;
const started = Date.now();
runStage(plan, (step, what) => {
  process.stderr.write(`image: [${step}/${STAGE_STEPS}] ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}).then(
  (img) => process.stdout.write(`${img}\n`),
  (err: unknown) => {
    // One line the parent turns into its own error: CODE: message.
    process.stderr.write(`STAGE-ERROR ${isSidewalkError(err) ? errorMessage(err) : `IMAGE_BUILD_FAILED: ${errorMessage(err)}`}\n`);
    process.exit(1);
  },
);
