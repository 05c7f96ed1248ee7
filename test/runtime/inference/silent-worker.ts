/** Stand-in inference worker for the timeout test: loads anything, then never answers a frame. */
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', (msg: { type: string; modelId: number }) => {
  if (msg.type === 'load') parentPort!.postMessage({ type: 'loaded', modelId: msg.modelId });
});
