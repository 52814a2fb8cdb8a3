/**
 * A queue worker with the fake engine, as a child process the tests can SIGKILL. Settings from the environment:
 * QUEUE_URL, DELAY_MS (per job), MAX_BATCH (jobs at once), LOCK_MS, QUEUE_DIR. Its JSON log lines go to stdout.
 */
import { startQueueWorker } from '../../src/queue/worker';
import { FakeTranscriber } from '../server/fake-transcriber';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const worker = await startQueueWorker({
  url: process.env.QUEUE_URL!,
  transcriber: new FakeTranscriber({
    modelId: 'fake-model', delayMs: env('DELAY_MS', 0), maxBatch: env('MAX_BATCH', 1),
  }),
  lockDurationMs: env('LOCK_MS', 2000),
  queueDir: process.env.QUEUE_DIR,
});
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
