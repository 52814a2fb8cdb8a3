/**
 * The front end's side of the queue (`glm-asr serve --queue redis://…`): puts uploads on the BullMQ queue,
 * waits for their results (BullMQ's QueueEvents reach every front end, so whichever one holds the client's
 * connection answers it), and looks jobs up for `GET /v1/jobs/{id}`.
 *
 * While Redis is unreachable every call rejects within `REDIS_TIMEOUT_MS` with `QueueUnavailableError`
 * (the route answers 503); the connections reconnect on their own once it is back.
 */
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueFullError } from '../server/queue';
import { QueueJobFailedError, QueueUnavailableError } from './errors';
import {
  audioKey,
  connectRedis,
  QUEUE_NAME,
  WORKER_KEY_PATTERN,
  type AudioRef,
  type QueueJobData,
  type QueueJobResult,
  type QueueProgress,
  type WorkerInfo,
} from './protocol';

/** How long one Redis round trip may take before the request is answered 503. */
const REDIS_TIMEOUT_MS = 3_000;
/** A waiting request also polls its job this often, in case an event was missed (e.g. across an outage). */
const POLL_MS = 5_000;
/** Retry-After for a full shared queue (its drain rate is not known here). */
const RETRY_FULL_S = 30;
export const DEFAULT_RESULT_TTL_S = 3600;
/** Jobs that may wait for a worker (all front ends together) before new ones are refused with 503. */
export const DEFAULT_MAX_WAITING = 1000;
/** With a shared folder, uploads above this go through the folder instead of Redis. */
export const DEFAULT_INLINE_MAX_BYTES = 4 * 1024 * 1024;

export interface QueueFrontEndOptions {
  url: string;
  /** Shared folder (mounted on every worker at the same path) for uploads above `inlineMaxBytes`. */
  queueDir?: string;
  inlineMaxBytes?: number;
  /** How long finished jobs and their results stay fetchable. Default 1 hour. */
  resultTtlSeconds?: number;
  /** Most jobs waiting for a worker; beyond it `submit` rejects with QueueFullError. Default 1000. */
  maxWaiting?: number;
}

export interface SubmitJob extends Omit<QueueJobData, 'audio' | 'bytes'> {
  bytes: Uint8Array;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed';

/** A job as `GET /v1/jobs/{id}` shows it. */
export interface JobView {
  id: string;
  status: JobStatus;
  createdAt: number;
  data: QueueJobData;
  result?: QueueJobResult;
  /** Set when `status` is 'failed' (a worker fault, or a job whose workers kept dying). */
  failedReason?: string;
}

export interface QueueHealth {
  status: 'ok' | 'unavailable';
  /** Jobs waiting for a worker / running now. */
  waiting?: number;
  active?: number;
  workers?: Omit<WorkerInfo, 'pid' | 'host'>[];
  error?: string;
}

interface Waiter {
  resolve(result: QueueJobResult): void;
  reject(err: unknown): void;
  onProgress?: (p: QueueProgress) => void;
}

export class QueueFrontEnd {
  private readonly redis: Redis;
  private readonly eventsRedis: Redis;
  private readonly queue: Queue<QueueJobData, QueueJobResult>;
  private readonly events: QueueEvents;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private idleWaiters: (() => void)[] = [];
  private connectedOnce = false;
  private readonly inlineMaxBytes: number;
  private readonly resultTtl: number;
  private readonly maxWaiting: number;

  constructor(private readonly options: QueueFrontEndOptions) {
    this.redis = connectRedis(options.url, 'fail-fast');
    this.redis.once('ready', () => (this.connectedOnce = true));
    this.eventsRedis = connectRedis(options.url, 'blocking');
    this.inlineMaxBytes = options.queueDir ? (options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES) : Infinity;
    this.resultTtl = options.resultTtlSeconds ?? DEFAULT_RESULT_TTL_S;
    this.maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
    this.queue = new Queue(QUEUE_NAME, { connection: this.redis });
    this.queue.on('error', () => {}); // outages surface as QueueUnavailableError on each call
    this.events = new QueueEvents(QUEUE_NAME, { connection: this.eventsRedis });
    this.events.on('error', () => {});
    this.events.on('completed', ({ jobId, returnvalue }) => this.settle(jobId, (w) => w.resolve(returnvalue)));
    this.events.on('failed', ({ jobId, failedReason }) =>
      this.settle(jobId, (w) => w.reject(new QueueJobFailedError(failedReason))),
    );
    this.events.on('progress', ({ jobId, data }) => {
      for (const w of this.waiters.get(jobId) ?? []) w.onProgress?.(data as QueueProgress);
    });
  }

  /** A new job id (`wait` on it before `submit`, so that no progress update is missed). */
  newJobId(): string {
    return randomUUID();
  }

  /** Puts the upload and the job on the queue; resolves with the job id. */
  async submit(job: SubmitJob, id = this.newJobId()): Promise<string> {
    await this.ready();
    // Bounds Redis's memory (the uploads of waiting jobs); front ends may overshoot it together by a few jobs.
    const waiting = await this.guard(this.queue.getWaitingCount());
    if (waiting >= this.maxWaiting) throw new QueueFullError(RETRY_FULL_S);
    const { bytes, ...rest } = job;
    let audio: AudioRef;
    if (bytes.byteLength > this.inlineMaxBytes && this.options.queueDir) {
      audio = { file: `${id}.audio` };
      await writeFile(join(this.options.queueDir, audio.file), bytes);
    } else {
      audio = { redisKey: audioKey(id) };
      // The TTL is a backstop: the worker deletes the upload once the job is finished.
      await this.guard(this.redis.set(audio.redisKey, Buffer.from(bytes), 'EX', this.resultTtl * 24));
    }
    const data: QueueJobData = { ...rest, audio, bytes: bytes.byteLength };
    try {
      await this.guard(
        this.queue.add('transcribe', data, {
          jobId: id,
          attempts: 1,
          removeOnComplete: { age: this.resultTtl },
          removeOnFail: { age: this.resultTtl },
        }),
      );
    } catch (err) {
      if ('file' in audio && this.options.queueDir) await rm(join(this.options.queueDir, audio.file), { force: true });
      throw err;
    }
    return id;
  }

  /**
   * The job's result, once a worker has stored it. `signal` stops waiting (and removes the job if no worker
   * has taken it yet); `onProgress` receives the worker's progress updates.
   */
  wait(jobId: string, opts: { signal?: AbortSignal; onProgress?: (p: QueueProgress) => void } = {}) {
    const { signal } = opts;
    return new Promise<QueueJobResult>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.get(jobId)?.delete(waiter);
        if (this.waiters.get(jobId)?.size === 0) this.waiters.delete(jobId);
        if (this.waiters.size === 0) for (const idle of this.idleWaiters.splice(0)) idle();
      };
      const waiter: Waiter = {
        resolve: (r) => (done(), resolve(r)),
        reject: (e) => (done(), reject(e)),
        onProgress: opts.onProgress,
      };
      const onAbort = () => {
        waiter.reject(signal!.reason);
        // Only a job no worker holds can be removed; a running one finishes and its result stays fetchable.
        this.queue.remove(jobId).then(
          (removed) => (removed ? this.dropUpload(jobId) : undefined),
          () => {},
        );
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const set = this.waiters.get(jobId) ?? new Set<Waiter>();
      set.add(waiter);
      this.waiters.set(jobId, set);
      // The events cover the usual case; the poll covers events missed (e.g. across a Redis outage).
      const poll = async () => {
        try {
          const view = await this.get(jobId);
          if (view?.status === 'completed' && view.result) return waiter.resolve(view.result);
          if (view?.status === 'failed') return waiter.reject(new QueueJobFailedError(view.failedReason ?? 'failed'));
          if (view === null) return waiter.reject(new QueueJobFailedError(`job ${jobId} is gone from the queue`));
        } catch {
          // Redis is away: keep waiting, the connections come back on their own
        }
        timer = setTimeout(poll, POLL_MS);
      };
      timer = setTimeout(poll, POLL_MS);
    });
  }

  /** The job, or null when there is no such job (never was, or expired). */
  async get(jobId: string): Promise<JobView | null> {
    await this.ready();
    // The state first: a job read before it is finished would lack the result its later state promises.
    const state = await this.guard(this.queue.getJobState(jobId));
    const job = await this.guard(this.queue.getJob(jobId));
    if (!job) return null;
    const status: JobStatus =
      state === 'completed' ? 'completed' : state === 'failed' ? 'failed' : state === 'active' ? 'running' : 'queued';
    const view: JobView = { id: jobId, status, createdAt: job.timestamp, data: job.data };
    if (status === 'completed') view.result = job.returnvalue;
    if (status === 'failed') view.failedReason = job.failedReason;
    return view;
  }

  async health(): Promise<QueueHealth> {
    try {
      await this.ready();
      const counts = await this.guard(this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized'));
      const keys = await this.guard(this.scanWorkers());
      const values = keys.length ? await this.guard(this.redis.mget(...keys)) : [];
      const workers = values
        .filter((v): v is string => v !== null)
        .map((v) => JSON.parse(v) as WorkerInfo)
        .map(({ id, model, concurrency, running, startedAt }) => ({ id, model, concurrency, running, startedAt }))
        .sort((a, b) => a.id.localeCompare(b.id));
      const waiting = (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
      return { status: 'ok', waiting, active: counts.active ?? 0, workers };
    } catch (err) {
      return { status: 'unavailable', error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Resolves once no request of this front end waits for a result (for a graceful close). */
  drain(): Promise<void> {
    if (this.waiters.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const [jobId] of this.waiters) this.settle(jobId, (w) => w.reject(new QueueUnavailableError('closing')));
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    this.redis.disconnect();
    this.eventsRedis.disconnect();
  }

  /** The upload of a job no worker will run (removed while it waited). */
  private async dropUpload(jobId: string): Promise<void> {
    await this.redis.del(audioKey(jobId)).catch(() => {});
    if (this.options.queueDir) await rm(join(this.options.queueDir, `${jobId}.audio`), { force: true });
  }

  private async scanWorkers(): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', WORKER_KEY_PATTERN, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  }

  private settle(jobId: string, f: (w: Waiter) => void): void {
    for (const w of [...(this.waiters.get(jobId) ?? [])]) f(w);
  }

  /**
   * Resolves once the command connection is up: at once, or on the first connection within REDIS_TIMEOUT_MS;
   * rejects with QueueUnavailableError otherwise, and at once when a connection that was up is lost. (It queues
   * nothing while Redis is away, so a refused request leaves no job behind to run later.)
   */
  private ready(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    if (this.connectedOnce) return Promise.reject(new QueueUnavailableError('the connection was lost'));
    return this.guard(new Promise<void>((resolve) => this.redis.once('ready', () => resolve())));
  }

  /** A Redis call that fails, or takes longer than REDIS_TIMEOUT_MS, becomes QueueUnavailableError. */
  private guard<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueueUnavailableError('no answer within 3 s')), REDIS_TIMEOUT_MS);
    });
    return Promise.race([p, timeout]).then(
      (v) => (clearTimeout(timer), v),
      (err: unknown) => {
        clearTimeout(timer);
        throw err instanceof QueueUnavailableError ? err : new QueueUnavailableError(err);
      },
    );
  }
}

/**
 * What a queue front end tells the server about the model the workers run (its public name, widest beam,
 * shortest audio); it never transcribes itself, the workers do.
 */
export class QueuedModel {
  readonly minAudioSeconds = 961 / 16000; // GLM-ASR: one audio token (6 hops + 1 sample at 16 kHz)
  constructor(
    readonly modelId: string,
    readonly maxBeams: number,
  ) {}
  transcribe(): never {
    throw new Error('a queue front end does not transcribe: its workers do');
  }
  transcribeStream(): never {
    throw new Error('a queue front end does not transcribe: its workers do');
  }
}
