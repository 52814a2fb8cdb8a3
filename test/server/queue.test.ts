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
    expect(q.stats).toEqual({ running: 1, waiting: 2, capacity: 2 });
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
    expect(q.stats).toEqual({ running: 0, waiting: 0, capacity: 3 });
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
});
