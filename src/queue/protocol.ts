/**
 * What front ends (`glm-asr serve --queue`) and GPU workers (`glm-asr worker`) agree on: the BullMQ queue's
 * name, the job's data and result, the Redis keys beside the queue (audio, worker heartbeats), and how a
 * `redis://` URL becomes a connection.
 */
import { Redis } from 'ioredis';
import type { SegmenterKind, TranscribeEvent, Transcription } from '../server/transcriber';
import type { ResponseFormat } from '../formats';

export const QUEUE_NAME = 'glm-asr-transcribe';
/** Widest beam workers load their model with, and so the most a front end accepts (as `serve` without a queue). */
export const DEFAULT_QUEUE_MAX_BEAMS = 4;
/** Keys this project keeps beside BullMQ's own (`bull:<queue>:*`). */
const KEY_PREFIX = 'glm-asr';
export const audioKey = (jobId: string): string => `${KEY_PREFIX}:audio:${jobId}`;
export const workerKey = (workerId: string): string => `${KEY_PREFIX}:worker:${workerId}`;
export const WORKER_KEY_PATTERN = `${KEY_PREFIX}:worker:*`;

/** A worker refreshes its heartbeat this often; the key expires after three missed beats. */
export const HEARTBEAT_MS = 5_000;
export const HEARTBEAT_TTL_S = 15;

/** Where a job's upload is: a Redis key (small files) or a file in the shared `--queue-dir`. */
export type AudioRef = { redisKey: string } | { file: string };

export interface QueueJobData {
  /** The front end's request id, so the worker's log lines can be matched with the front end's. */
  requestId: string;
  /** The upload's file name (for error messages). */
  name: string;
  audio: AudioRef;
  bytes: number;
  beams?: number;
  maxNewTokens?: number;
  /** The front end's `maxAudioSeconds`: the worker stops decoding past it. */
  maxAudioSeconds: number;
  segmenter?: SegmenterKind;
  maxChunkSeconds?: number;
  /** `stream=true`: the worker sends the engine's events (text deltas) as progress updates, in order. */
  stream?: boolean;
  /** For `GET /v1/jobs/{id}`: the format and language of the stored answer. */
  format: ResponseFormat;
  language?: string;
}

/** A client error found by the worker (bad audio): the OpenAI error the front end answers with. */
export interface QueueJobError {
  status: number;
  message: string;
  code: string | null;
  param: string | null;
}

/** The job's return value. Client errors are results too: running them again would give the same answer. */
export type QueueJobResult =
  | { ok: true; transcription: Transcription; worker: string; queueMs: number; runMs: number }
  | { ok: false; error: QueueJobError; worker: string; queueMs: number; runMs: number };

/** What a worker's `progress` updates carry: the engine's progress, or (`stream`) each of its events. */
export type QueueProgress =
  | { type: 'progress'; stage: string; done: number; total: number }
  /** `run` tells the runs of a job apart: a job run again after its worker died sends its events again. */
  | { type: 'event'; run: string; event: TranscribeEvent };

/** A worker's heartbeat (`glm-asr:worker:<id>`, expires unless refreshed). */
export interface WorkerInfo {
  id: string;
  model: string;
  concurrency: number;
  running: number;
  host: string;
  pid: number;
  startedAt: string;
}

/** A `redis://` or `rediss://` URL with a host; throws a RangeError saying what is wrong. */
export function checkQueueUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`queue URL "${url}" is not a URL; expected redis://HOST:PORT`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RangeError(`queue URL "${url}" must start with redis:// or rediss://`);
  }
  if (!parsed.hostname) throw new RangeError(`queue URL "${url}" has no host; expected redis://HOST:PORT`);
  return url;
}

/**
 * A connection to the queue's Redis. `blocking` ones (workers, event readers) retry commands across outages;
 * the front end's command connection fails at once while Redis is away, so requests get a 503 instead of hanging.
 */
export function connectRedis(url: string, kind: 'blocking' | 'fail-fast'): Redis {
  const redis = new Redis(checkQueueUrl(url), {
    maxRetriesPerRequest: kind === 'blocking' ? null : 1,
    enableOfflineQueue: kind === 'blocking',
    // Reconnect quickly after an outage (the default backs off to 2 s and more).
    retryStrategy: (times) => Math.min(200 * times, 1000),
    connectTimeout: 3_000,
  });
  // ioredis reports each failed reconnect as an 'error' event; without a listener Node would throw it.
  redis.on('error', () => {});
  return redis;
}
