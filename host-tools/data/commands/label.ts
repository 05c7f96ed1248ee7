/** `sidewalk data label`: rider mapping and model labels, optionally scoring with a model first. */
import { type Command, Option } from 'commander';
import { createTfliteClassifier } from '../../../runtime/inference/classifier.js';
import { common, withDb, type CommonOpts } from '../cli-common.js';
import { loadDataConfig } from '../config.js';
import { relabelAll } from '../labels.js';
import { scoreFrames } from '../score.js';

export function registerLabel(data: Command): void {
  common(
    data
      .command('label')
      .description(
        "re-run labelling (rider mapping + model agreement/threshold) on every frame not labelled by a person; the rest is queued for review.\nA model's own label (no rider input) is a proposal, never exported for training until accepted in review or with --accept-model-labels; a share (labelling.modelReviewShare) is queued for review.\nWith --model, first score the frames with that model bundle (the current model) and label with its scores.",
      )
      .option('--model <bundle>', 'model bundle folder (model.tflite + manifest.json) to score frames with first')
      .option('--location <name>', 'with --model: only score frames of this location')
      .addOption(new Option('--delegate <d>', 'with --model: TFLite delegate').choices(['cpu', 'xnnpack']).default('cpu'))
      .option('--accept-model-labels', 'make model-proposed labels final (exported for training) without review; default: only a sample is reviewed and none is exported until accepted'),
  ).action(async (o: CommonOpts & { model?: string; location?: string; delegate: 'cpu' | 'xnnpack'; acceptModelLabels?: boolean }) => {
    const config = loadDataConfig(o.config);
    if (o.acceptModelLabels) config.labelling.acceptModelLabels = true;
    await withDb(o, async (db, store) => {
      if (o.model) {
        const classifier = await createTfliteClassifier(o.model, { delegate: o.delegate });
        try {
          const n = await scoreFrames(db, store, classifier, o.location ? { location: o.location } : {});
          process.stdout.write(`${n} frames scored with ${classifier.manifest.name}@${classifier.manifest.version}\n`);
        } finally {
          await classifier.close();
        }
      }
      process.stdout.write(`${relabelAll(db, config)} frames changed\n`);
    });
  });
}
