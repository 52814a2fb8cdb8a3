/**
 * A bounded FIFO job queue in front of the GPU.
 *
 * - One job runs at a time (the GPU is a single device and a transcription already fills it).
 * - At most `capacity` jobs wait behind the running one; `push` rejects with `QueueFullError`
 *   beyond that, so the server can answer 503 right away instead of piling up work.
 * - Each job may carry an AbortSignal (the HTTP layer triggers it when the client disconnects).
 *   A waiting job whose signal fires is removed from the queue at once and never runs; a running
 *   job receives the signal and may stop early.
 * - `close()` refuses new jobs; `drain()` resolves once the running and waiting jobs are done.
 */

export interface QueueStats {
  /** Jobs running now (0 or 1). */
  running: number;
  /** Jobs waiting to run. */
  waiting: number;
  /** Most jobs that may wait. */
  capacity: number;
}

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(
    /** Suggested seconds before trying again. */
    readonly retryAfterSec: number,
  ) {
    super('The server is busy: the transcription queue is full. Try again later.');
  }
}

export class QueueClosedError extends Error {
  override readonly name = 'QueueClosedError';
  constructor() {
    super('The server is shutting down and accepts no new jobs.');
  }
}

export type JobFn<T> = (signal: AbortSignal) => Promise<T>;

interface Job {
  run: JobFn<unknown>;
  /** The queue's own controller for this job; the caller's signal is forwarded into it. */
  controller: AbortController;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  /** Removes the listener on the caller's signal. */
  detach: () => void;
}

export interface JobQueueOptions {
  /** Most waiting jobs (not counting the running one). */
  capacity: number;
  /** Seconds a job is assumed to take before any has finished (for Retry-After). Default 10. */
  initialJobSeconds?: number;
}

export interface PushOptions {
  /** Aborting it skips the job while it waits, or is passed on to the running job. */
  signal?: AbortSignal;
}

export class JobQueue {
  readonly capacity: number;
  private readonly waitingJobs: Job[] = [];
  private runningJob: Job | null = null;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Exponentially weighted mean job duration in seconds. */
  private meanJobSec: number;
  /** Counters, for tests and monitoring. */
  readonly counts = { completed: 0, failed: 0, skipped: 0, rejected: 0 };

  constructor(options: JobQueueOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 0) {
      throw new RangeError(`queue capacity must be a non-negative integer, got ${options.capacity}`);
    }
    this.capacity = options.capacity;
    this.meanJobSec = options.initialJobSeconds ?? 10;
  }

  get stats(): QueueStats {
    return { running: this.runningJob ? 1 : 0, waiting: this.waitingJobs.length, capacity: this.capacity };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True when a new job would be refused now (closed, or running with every waiting slot taken). */
  get isFull(): boolean {
    return this.closed || (this.runningJob !== null && this.waitingJobs.length >= this.capacity);
  }

  /** Whole seconds until a slot is likely free: the mean job time × jobs ahead; 1 … 3600. */
  retryAfterSeconds(): number {
    const ahead = this.waitingJobs.length + (this.runningJob ? 1 : 0);
    const est = Math.ceil(this.meanJobSec * Math.max(1, ahead));
    return Math.min(3600, Math.max(1, est));
  }

  /**
   * Queue `run`; resolves or rejects with its result. Rejects with QueueFullError / QueueClosedError
   * when it cannot be queued, and with the signal's reason when the signal fires while it waits.
   */
  push<T>(run: JobFn<T>, options: PushOptions = {}): Promise<T> {
    if (this.closed) {
      this.counts.rejected++;
      return Promise.reject(new QueueClosedError());
    }
    const outer = options.signal;
    if (outer?.aborted) {
      this.counts.skipped++;
      return Promise.reject(outer.reason);
    }
    if (this.runningJob !== null && this.waitingJobs.length >= this.capacity) {
      this.counts.rejected++;
      return Promise.reject(new QueueFullError(this.retryAfterSeconds()));
    }

    // Each job gets its own controller so that the queue can abort it too (abortWaiting).
    const controller = new AbortController();
    const forward = () => controller.abort(outer?.reason);
    outer?.addEventListener('abort', forward, { once: true });
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        run: run as JobFn<unknown>,
        controller,
        resolve: resolve as (value: unknown) => void,
        reject,
        detach: () => outer?.removeEventListener('abort', forward),
      };
      controller.signal.addEventListener('abort', () => this.skipIfWaiting(job), { once: true });
      this.waitingJobs.push(job);
      this.pump();
    });
  }

  /** Refuse new jobs from now on; queued jobs still run. */
  close(): void {
    this.closed = true;
  }

  /** Resolves when nothing runs and nothing waits. */
  drain(): Promise<void> {
    if (!this.runningJob && this.waitingJobs.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Skip every waiting job (they reject with `reason`); the running job is left alone. */
  abortWaiting(reason: unknown): void {
    for (const job of [...this.waitingJobs]) job.controller.abort(reason);
  }

  /** Abort the running job's signal (it decides how quickly it stops). */
  abortRunning(reason: unknown): void {
    this.runningJob?.controller.abort(reason);
  }

  private skipIfWaiting(job: Job): void {
    const i = this.waitingJobs.indexOf(job);
    if (i < 0) return; // already running (it sees the signal) or done
    this.waitingJobs.splice(i, 1);
    this.counts.skipped++;
    job.detach();
    job.reject(job.controller.signal.reason);
    this.notifyIdle();
  }

  private pump(): void {
    if (this.runningJob || this.waitingJobs.length === 0) return;
    const job = this.waitingJobs.shift()!;
    this.runningJob = job;
    const started = performance.now();
    let result: Promise<unknown>;
    try {
      result = job.run(job.controller.signal);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (value) => {
        this.counts.completed++;
        this.finish(job, started);
        job.resolve(value);
      },
      (err: unknown) => {
        this.counts.failed++;
        this.finish(job, started);
        job.reject(err);
      },
    );
  }

  private finish(job: Job, started: number): void {
    const sec = (performance.now() - started) / 1000;
    this.meanJobSec = 0.7 * this.meanJobSec + 0.3 * sec;
    job.detach();
    this.runningJob = null;
    this.pump();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.runningJob || this.waitingJobs.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
