import { describe, expect, it } from 'vitest';
import { JobQueue, QueueClosedError, QueueFullError } from '../../src/server/queue';

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('JobQueue', () => {
  it('runs one job at a time in FIFO order and bounds the waiting jobs', async () => {
    const q = new JobQueue({ capacity: 2 });
    const order: number[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const jobs = gates.map((g, i) => q.push(async () => (order.push(i), await g.promise, i)));
    expect(q.stats).toEqual({ running: 1, waiting: 2, capacity: 2, concurrency: 1 });
    expect(q.isFull).toBe(true);
    const full = await q.push(async () => 9).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(QueueFullError);
    expect((full as QueueFullError).retryAfterSec).toBeGreaterThanOrEqual(1);
    gates[1].resolve();
    gates[2].resolve();
    await Promise.resolve();
    expect(order).toEqual([0]); // 1 and 2 wait for 0 even though their gates are open
    gates[0].resolve();
    expect(await Promise.all(jobs)).toEqual([0, 1, 2]);
    expect(order).toEqual([0, 1, 2]);
    expect(q.counts).toMatchObject({ completed: 3, rejected: 1 });
  });

  it('a waiting job whose signal aborts leaves the queue without running', async () => {
    const q = new JobQueue({ capacity: 4 });
    const gate = deferred();
    const ran: string[] = [];
    const a = q.push(async () => (ran.push('a'), await gate.promise));
    const ctrl = new AbortController();
    const b = q.push(async () => ran.push('b'), { signal: ctrl.signal });
    const c = q.push(async () => ran.push('c'));
    ctrl.abort(new Error('gone'));
    await expect(b).rejects.toThrow('gone');
    expect(q.stats.waiting).toBe(1);
    gate.resolve();
    await Promise.all([a, c]);
    expect(ran).toEqual(['a', 'c']);
    expect(q.counts.skipped).toBe(1);
  });

  it('passes the signal to the running job; failures do not stall the queue', async () => {
    const q = new JobQueue({ capacity: 1 });
    const ctrl = new AbortController();
    const a = q.push(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: ctrl.signal },
    );
    const b = q.push(async () => 'b');
    ctrl.abort(new Error('stop'));
    await expect(a).rejects.toThrow('stop');
    expect(await b).toBe('b');
    const c = q.push(() => {
      throw new Error('sync throw');
    });
    await expect(c).rejects.toThrow('sync throw');
    expect(await q.push(async () => 'd')).toBe('d');
  });

  it('close() refuses new jobs; drain() waits for queued ones; abortWaiting() skips them', async () => {
    const q = new JobQueue({ capacity: 3 });
    const gate = deferred();
    const a = q.push(() => gate.promise);
    const b = q.push(async () => 'b');
    q.close();
    await expect(q.push(async () => 1)).rejects.toBeInstanceOf(QueueClosedError);
    let drained = false;
    const d = q.drain().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    q.abortWaiting(new Error('shutdown'));
    await expect(b).rejects.toThrow('shutdown');
    gate.resolve();
    await a;
    await d;
    expect(q.stats).toEqual({ running: 0, waiting: 0, capacity: 3, concurrency: 1 });
  });

  it('capacity 0 admits a job only when idle', async () => {
    const q = new JobQueue({ capacity: 0 });
    const gate = deferred();
    const a = q.push(() => gate.promise);
    await expect(q.push(async () => 1)).rejects.toBeInstanceOf(QueueFullError);
    gate.resolve();
    await a;
    expect(await q.push(async () => 2)).toBe(2);
  });

  it('concurrency 3: up to three run at once, started in push order; the rest wait; full past capacity', async () => {
    const q = new JobQueue({ capacity: 2, concurrency: 3 });
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, () => deferred());
    const jobs = gates.map((g, i) => q.push(async () => (started.push(i), await g.promise, i)));
    expect(started).toEqual([0, 1, 2]);
    expect(q.stats).toEqual({ running: 3, waiting: 2, capacity: 2, concurrency: 3 });
    expect(q.isFull).toBe(true);
    await expect(q.push(async () => 9)).rejects.toBeInstanceOf(QueueFullError);
    gates[1].resolve(); // any finished job frees a slot for the oldest waiting one
    await jobs[1];
    expect(started).toEqual([0, 1, 2, 3]);
    expect(q.stats).toMatchObject({ running: 3, waiting: 1 });
    expect(q.isFull).toBe(false);
    for (const g of gates) g.resolve();
    expect(await Promise.all(jobs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(q.counts).toMatchObject({ completed: 5, rejected: 1 });
  });

  it('concurrency 2: aborts reach each running job alone; a waiting job aborted never runs', async () => {
    const q = new JobQueue({ capacity: 4, concurrency: 2 });
    const ran: string[] = [];
    const untilAborted = (name: string) => (signal: AbortSignal) => {
      ran.push(name);
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    };
    const ctrlA = new AbortController();
    const ctrlC = new AbortController();
    const a = q.push(untilAborted('a'), { signal: ctrlA.signal });
    const b = q.push(untilAborted('b'));
    const c = q.push(untilAborted('c'), { signal: ctrlC.signal });
    const d = q.push(async () => (ran.push('d'), 'd'));
    ctrlC.abort(new Error('c gone'));
    await expect(c).rejects.toThrow('c gone');
    ctrlA.abort(new Error('a gone'));
    await expect(a).rejects.toThrow('a gone');
    expect(await d).toBe('d'); // a's slot went to d; b still runs
    const e = q.push(untilAborted('e'));
    expect(q.stats).toMatchObject({ running: 2, waiting: 0 });
    q.abortRunning(new Error('shutdown')); // every running job
    await expect(b).rejects.toThrow('shutdown');
    await expect(e).rejects.toThrow('shutdown');
    expect(ran).toEqual(['a', 'b', 'd', 'e']);
    expect(q.counts).toMatchObject({ completed: 1, failed: 3, skipped: 1 });
  });

  it('Retry-After counts rounds of `concurrency` jobs ahead', async () => {
    const gate = deferred();
    const one = new JobQueue({ capacity: 8, concurrency: 1, initialJobSeconds: 10 });
    const four = new JobQueue({ capacity: 8, concurrency: 4, initialJobSeconds: 10 });
    const jobs = [one, four].flatMap((q) => Array.from({ length: 8 }, () => q.push(() => gate.promise)));
    expect(one.retryAfterSeconds()).toBe(80);
    expect(four.retryAfterSeconds()).toBe(20);
    gate.resolve();
    await Promise.all(jobs);
  });

  it('refuses a concurrency that is not a positive integer', () => {
    expect(() => new JobQueue({ capacity: 1, concurrency: 0 })).toThrow(/concurrency must be a positive integer/);
    expect(() => new JobQueue({ capacity: 1, concurrency: 1.5 })).toThrow(/concurrency/);
  });
});
