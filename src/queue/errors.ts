/**
 * The front end's queue errors, apart from the BullMQ code so that the HTTP server can tell them apart without
 * loading the Redis client (it is loaded only with `--queue`).
 */

export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
  constructor(cause: unknown) {
    super(`the job queue (Redis) is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** The job failed on the worker (a fault, not the client's audio); `reason` is for the log only. */
export class QueueJobFailedError extends Error {
  override readonly name = 'QueueJobFailedError';
}
