/** Stand-in inference worker for the crash test: loads anything, then dies on the first frame. */
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', (msg: { type: string; modelId: number }) => {
  if (msg.type === 'load') parentPort!.postMessage({ type: 'loaded', modelId: msg.modelId });
  else if (msg.type === 'classify') throw new Error('simulated native failure in the inference worker');
});
