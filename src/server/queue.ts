/**
 * A bounded FIFO job queue in front of the GPU.
 *
 * - Up to `concurrency` jobs run at once: the engine's batch (`Transcriber.maxBatch`), whose concurrent
 *   transcriptions share encoder batches and decoder steps; 1 runs them one by one.
 * - At most `capacity` jobs wait behind the running ones; `push` rejects with `QueueFullError`
 *   beyond that, so the server can answer 503 right away instead of piling up work.
 * - Jobs start in the order they were pushed.
 * - Each job may carry an AbortSignal (the HTTP layer triggers it when the client disconnects).
 *   A waiting job whose signal fires is removed from the queue at once and never runs; a running
 *   job receives the signal and may stop early.
 * - `close()` refuses new jobs; `drain()` resolves once the running and waiting jobs are done.
 */

export interface QueueStats {
  /** Jobs running now (0 … concurrency). */
  running: number;
  /** Jobs waiting to run. */
  waiting: number;
  /** Most jobs that may wait. */
  capacity: number;
  /** Most jobs that run at once. */
  concurrency: number;
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
  /** Most waiting jobs (not counting the running ones). */
  capacity: number;
  /** Most jobs running at once. Default 1. */
  concurrency?: number;
  /** Seconds a job is assumed to take before any has finished (for Retry-After). Default 10. */
  initialJobSeconds?: number;
}

export interface PushOptions {
  /** Aborting it skips the job while it waits, or is passed on to the running job. */
  signal?: AbortSignal;
}

export class JobQueue {
  readonly capacity: number;
  readonly concurrency: number;
  private readonly waitingJobs: Job[] = [];
  private readonly runningJobs = new Set<Job>();
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
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`queue concurrency must be a positive integer, got ${options.concurrency}`);
    }
    this.capacity = options.capacity;
    this.concurrency = concurrency;
    this.meanJobSec = options.initialJobSeconds ?? 10;
  }

  get stats(): QueueStats {
    const { capacity, concurrency } = this;
    return { running: this.runningJobs.size, waiting: this.waitingJobs.length, capacity, concurrency };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True when a new job would be refused now (closed, or every running and waiting slot taken). */
  get isFull(): boolean {
    return this.closed || this.noRoom();
  }

  /**
   * Whole seconds until a slot is likely free: the mean job time × the rounds of `concurrency` jobs ahead;
   * 1 … 3600.
   */
  retryAfterSeconds(): number {
    const rounds = Math.ceil((this.waitingJobs.length + this.runningJobs.size) / this.concurrency);
    const est = Math.ceil(this.meanJobSec * Math.max(1, rounds));
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
    if (this.noRoom()) {
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
    if (this.runningJobs.size === 0 && this.waitingJobs.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Skip every waiting job (they reject with `reason`); the running jobs are left alone. */
  abortWaiting(reason: unknown): void {
    for (const job of [...this.waitingJobs]) job.controller.abort(reason);
  }

  /** Abort the running jobs' signals (each decides how quickly it stops). */
  abortRunning(reason: unknown): void {
    for (const job of [...this.runningJobs]) job.controller.abort(reason);
  }

  /** Every running slot busy and every waiting slot taken. */
  private noRoom(): boolean {
    return this.runningJobs.size >= this.concurrency && this.waitingJobs.length >= this.capacity;
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
    while (this.runningJobs.size < this.concurrency && this.waitingJobs.length > 0) {
      this.start(this.waitingJobs.shift()!);
    }
  }

  private start(job: Job): void {
    this.runningJobs.add(job);
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
    this.runningJobs.delete(job);
    this.pump();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.runningJobs.size > 0 || this.waitingJobs.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
