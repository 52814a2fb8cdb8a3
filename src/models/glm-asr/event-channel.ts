/**
 * Events produced by callbacks, handed to one async iterator as they come. The iteration ends when the channel is
 * ended (`end`, or the promise given to `run` settles) and then rethrows the failure, if any, after the events
 * pushed before it. Used by a transcription's search (`run`) and by a live session (`end`).
 */
export class EventChannel<E> implements AsyncIterable<E> {
  private readonly queue: E[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;

  push(e: E): void {
    this.queue.push(e);
    this.wake?.();
  }

  /** Drops the events not read yet (an abort: the reader gets nothing more). */
  clear(): void {
    this.queue.length = 0;
  }

  /** Watches `job`: the iteration ends when it settles. Returns `job` (awaited by the caller for its value). */
  run<T>(job: Promise<T>): Promise<T> {
    job.then(
      () => this.end(),
      (error: unknown) => this.end({ error }),
    );
    return job;
  }

  /** Ends the iteration once the queued events are read; with a failure, the iteration then throws it. */
  end(failure?: { error: unknown }): void {
    this.ended = true;
    this.failure = failure;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<E> {
    for (;;) {
      while (this.queue.length) yield this.queue.shift()!;
      if (this.ended) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    if (this.failure) throw this.failure.error;
  }
}
