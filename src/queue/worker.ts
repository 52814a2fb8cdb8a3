/**
 * A GPU worker (`glm-asr worker --queue redis://…`): takes transcription jobs from the BullMQ queue, as many
 * at once as the transcriber's `maxBatch`, reads each upload (from Redis or the shared folder), decodes it as
 * the server would, runs the `Transcriber` and returns the result through BullMQ, which tells every front end.
 * A heartbeat key in Redis says which model it serves.
 *
 * Execution is at least once: a worker that dies holds its job's lock until `lockDurationMs` passes, then the
 * job goes back to waiting and another worker runs it again (jobs have no side effects besides their result).
 */
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { Worker, type Job } from 'bullmq';
import { decodeAudio, TARGET_SAMPLE_RATE } from '../audio';
import { publicModelId } from '../server/context';
import { ApiError, toApiError } from '../server/errors';
import type {
  Segment, TranscribeEvent, Transcriber, TranscribeOptions, Transcription,
} from '../server/transcriber';
import {
  connectRedis,
  HEARTBEAT_MS,
  HEARTBEAT_TTL_S,
  QUEUE_NAME,
  workerKey,
  type AudioRef,
  type QueueJobData,
  type QueueJobResult,
  type QueueProgress,
  type WorkerInfo,
} from './protocol';

export const DEFAULT_LOCK_DURATION_MS = 30_000;
/** A job whose worker died this many times fails instead of being run again (a poison job). */
const MAX_STALLED_COUNT = 2;
/** Progress updates are Redis writes: at most one per this many milliseconds per job. */
const PROGRESS_EVERY_MS = 250;

export interface QueueWorkerOptions {
  url: string;
  transcriber: Transcriber;
  /** How long a job stays locked to a worker that stopped renewing it. Default 30 s. */
  lockDurationMs?: number;
  /** The shared folder front ends write large uploads to (`--queue-dir`). */
  queueDir?: string;
  /** One JSON line per job event; default stdout. */
  log?: (line: string) => void;
}

export interface QueueWorker {
  readonly id: string;
  /** Finishes the running jobs, then disconnects. */
  close(): Promise<void>;
}

/**
 * Runs the engine's event stream, sending each event as a progress update (in order, every one: they are the
 * client's text), and gathers the events into the transcription as `GlmAsr.transcribe` does.
 */
async function streamed(events: AsyncIterable<TranscribeEvent>, job: Job<QueueJobData>): Promise<Transcription> {
  const run = randomUUID();
  const segments: Segment[] = [];
  let sent = Promise.resolve();
  let lost: unknown = null;
  for await (const event of events) {
    sent = sent
      .then(() => job.updateProgress({ type: 'event', run, event } satisfies QueueProgress))
      .catch((err: unknown) => void (lost ??= err));
    if (event.type === 'segment-end') segments.push(event.segment);
    if (event.type === 'done') {
      await sent;
      if (lost) throw lost; // a client would miss text: fail the job rather than answer it wrong
      const text = segments.map((s) => s.text).filter(Boolean).join(' ');
      const tokens = segments.flatMap((s) => s.tokens ?? []);
      return { text, tokens, segments, durationSec: event.durationSec, timings: event.timings };
    }
  }
  throw new Error('transcribeStream ended without its done event');
}

export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const { transcriber, queueDir } = options;
  // As many jobs as the engine batches: its concurrent transcriptions share encoder batches and decoder steps.
  const concurrency = transcriber.maxBatch ?? 1;
  const lockDuration = options.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const model = publicModelId(transcriber.modelId);
  const minSamples = Math.round(transcriber.minAudioSeconds * TARGET_SAMPLE_RATE);
  const redis = connectRedis(options.url, 'blocking');
  const say = (event: string, job: Job<QueueJobData> | undefined, extra: Record<string, unknown> = {}) => {
    const fields = job ? { jobId: job.id, requestId: job.data.requestId } : {};
    log(JSON.stringify({ time: new Date().toISOString(), worker: id, event, ...fields, ...extra }));
  };

  async function readAudio(ref: AudioRef): Promise<Uint8Array> {
    if ('redisKey' in ref) {
      const bytes = await redis.getBuffer(ref.redisKey);
      if (!bytes) throw new Error(`the upload ${ref.redisKey} is no longer in Redis (expired?)`);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    if (!queueDir) throw new Error(`the job's upload is in the shared folder, but this worker has no --queue-dir`);
    return new Uint8Array(await readFile(join(queueDir, basename(ref.file))));
  }

  async function dropAudio(ref: AudioRef): Promise<void> {
    if ('redisKey' in ref) await redis.del(ref.redisKey);
    else if (queueDir) await rm(join(queueDir, basename(ref.file)), { force: true });
  }

  async function run(job: Job<QueueJobData, QueueJobResult>): Promise<QueueJobResult> {
    const started = Date.now();
    const queueMs = started - job.timestamp;
    const { data } = job;
    say('start', job, { queueMs, bytes: data.bytes, stalled: job.stalledCounter });
    let lastProgress = 0;
    const progress = (p: QueueProgress, force = false) => {
      const now = Date.now();
      if (!force && now - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = now;
      job.updateProgress(p).catch(() => {}); // progress is best effort; the result is what counts
    };
    let result: QueueJobResult;
    try {
      const audio = await decodeAudio(await readAudio(data.audio), data.name, { maxSeconds: data.maxAudioSeconds });
      if (audio.samples.length < minSamples) {
        throw new ApiError(
          400,
          `${data.name}: the audio is ${((audio.samples.length / TARGET_SAMPLE_RATE) * 1000).toFixed(1)} ms long; ` +
            `the shortest the model takes is ${(transcriber.minAudioSeconds * 1000).toFixed(1)} ms.`,
          'invalid_request_error',
          'audio_too_short',
          'file',
        );
      }
      const samples = { samples: audio.samples, sampleRate: TARGET_SAMPLE_RATE } as const;
      const options: TranscribeOptions = {
        name: data.name,
        beams: data.beams,
        maxNewTokens: data.maxNewTokens,
        segmenter: data.segmenter,
        maxChunkSeconds: data.maxChunkSeconds,
        onProgress: (p) => progress({ type: 'progress', ...p }, p.done === p.total),
      };
      const transcription = data.stream
        ? await streamed(transcriber.transcribeStream(samples, options), job)
        : await transcriber.transcribe(samples, options);
      result = { ok: true, transcription, worker: id, queueMs, runMs: Date.now() - started };
    } catch (err) {
      // A client error (the audio) is an answer; anything else is this worker's fault and fails the job.
      const api = toApiError(err, { maxUploadBytes: data.bytes });
      if (api.statusCode >= 500) {
        say('error', job, { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
        throw err;
      }
      const error = { status: api.statusCode, message: api.message, code: api.code, param: api.param };
      result = { ok: false, error, worker: id, queueMs, runMs: Date.now() - started };
    }
    say('done', job, { ok: result.ok, runMs: result.runMs });
    return result;
  }

  const worker = new Worker<QueueJobData, QueueJobResult>(QUEUE_NAME, run, {
    connection: redis,
    concurrency,
    lockDuration,
    stalledInterval: Math.max(1000, Math.round(lockDuration / 2)),
    maxStalledCount: MAX_STALLED_COUNT,
  });
  // The upload is dropped once the job's outcome is stored, not before: a retry still needs it.
  worker.on('completed', (job) => void dropAudio(job.data.audio).catch(() => {}));
  worker.on('failed', (job) => {
    if (job) void dropAudio(job.data.audio).catch(() => {});
  });
  worker.on('error', (err) => say('redis-error', undefined, { error: err.message }));

  let running = 0;
  worker.on('active', () => running++);
  worker.on('completed', () => running--);
  worker.on('failed', () => running--);
  const startedAt = new Date().toISOString();
  const info = (): WorkerInfo => ({ id, model, concurrency, running, host: hostname(), pid: process.pid, startedAt });
  const beat = () => {
    redis.set(workerKey(id), JSON.stringify(info()), 'EX', HEARTBEAT_TTL_S).catch(() => {});
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  await worker.waitUntilReady();
  say('ready', undefined, { model, concurrency, lockDurationMs: lockDuration });

  return {
    id,
    async close() {
      clearInterval(timer);
      await worker.close();
      await redis.del(workerKey(id)).catch(() => {});
      redis.disconnect();
    },
  };
}
