/**
 * `glm-asr worker --queue redis://HOST:PORT --model DIR|ORG/NAME|demo`: a GPU worker for front ends started with
 * `glm-asr serve --queue` (docs/deploy.md). Loads the model once, then takes jobs from the queue until SIGINT or
 * SIGTERM, which let the running jobs finish (a second signal exits at once; its jobs go to another worker).
 */
import { PRECISIONS } from '../models/glm-asr/options';
import { EXIT, integer, loadModel, maxBatchArg, oneOf, parse, Progress, UsageError } from './common';

export const WORKER_USAGE = `  glm-asr worker --queue redis://HOST:PORT --model DIR|ORG/NAME [--max-batch N]
                 [--queue-dir DIR] [--precision auto|f32|f16|int8] [--lock-seconds 30]
      takes transcription jobs from the queue that \`serve --queue\` front ends fill; run one per GPU.
      --max-batch: jobs at once, batched by the engine (default: the engine's, from the GPU's memory);
      --queue-dir: the folder shared with the front ends for large uploads;
      --lock-seconds: how long a job stays with a worker that stopped answering before another takes it`;

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parse({
    args,
    options: {
      queue: { type: 'string' },
      model: { type: 'string' },
      'max-batch': { type: 'string' },
      'queue-dir': { type: 'string' },
      precision: { type: 'string', default: 'auto' },
      'lock-seconds': { type: 'string', default: '30' },
    },
  });
  if (!values.queue) throw new UsageError('--queue redis://HOST:PORT is required');
  if (!values.model) throw new UsageError('--model is required');
  const { checkQueueUrl, DEFAULT_QUEUE_MAX_BEAMS } = await import('../queue/protocol'); // loads the Redis client
  try {
    checkQueueUrl(values.queue);
  } catch (e) {
    throw new UsageError(`--queue: ${(e as Error).message}`);
  }
  const maxBatch = maxBatchArg(values['max-batch']);
  const lockSeconds = integer('--lock-seconds', values['lock-seconds']!, 1, 3600);
  const precision = oneOf('--precision', values.precision!, PRECISIONS);
  const progress = new Progress(process.stderr.isTTY === true);
  const asr = await loadModel(values.model, precision, DEFAULT_QUEUE_MAX_BEAMS, progress, false, maxBatch);
  if (!asr) return EXIT.model;
  const { startQueueWorker } = await import('../queue/worker');
  const worker = await startQueueWorker({
    url: values.queue,
    transcriber: asr,
    lockDurationMs: lockSeconds * 1000,
    queueDir: values['queue-dir'],
  });
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) process.exit(130);
      signalled = true;
      console.error(`glm-asr worker: ${signal}: finishing the running jobs (send ${signal} again to stop now).`);
      void worker.close().then(() => resolve(EXIT.ok), () => resolve(EXIT.fileFailed));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
