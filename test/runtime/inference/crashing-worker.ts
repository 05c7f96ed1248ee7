/** Stand-in inference worker for the crash test: says ready, then dies on the first frame. */
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', () => {
  throw new Error('simulated native failure in the inference worker');
});
parentPort!.postMessage({ type: 'ready' });
