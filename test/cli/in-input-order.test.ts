/** `inInputOrder` (multi-file `glm-asr transcribe`): up to `limit` items at once, their output in input order. */
import { describe, expect, it } from 'vitest';
import { inInputOrder } from '../../src/cli/common';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
const tick = () => new Promise((r) => setTimeout(r, 1));

describe('inInputOrder', () => {
  it('runs up to the limit at once; prints the first unfinished item live and the others in order', async () => {
    const gates = Array.from({ length: 6 }, () => deferred());
    const printed: string[] = [];
    let running = 0;
    let peak = 0;
    const run = inInputOrder([0, 1, 2, 3, 4, 5], 3, new AbortController().signal, async (i, say) => {
      peak = Math.max(peak, ++running);
      say(() => printed.push(`${i} start`));
      await gates[i].promise;
      say(() => printed.push(`${i} end`));
      running--;
    });
    await tick();
    expect(running).toBe(3);
    expect(printed).toEqual(['0 start']); // item 0's output comes as it is said; 1 and 2 are held back
    for (const i of [2, 1, 4, 5, 3]) { // later items finish first
      gates[i].resolve();
      await tick();
    }
    expect(printed).toEqual(['0 start']);
    gates[0].resolve();
    await run;
    expect(peak).toBe(3);
    expect(printed).toEqual([0, 1, 2, 3, 4, 5].flatMap((i) => [`${i} start`, `${i} end`]));
  });

  it('takes no new item once stopped; what finished before the stop is still printed in order', async () => {
    const stop = new AbortController();
    const started: number[] = [];
    const printed: number[] = [];
    await inInputOrder([0, 1, 2, 3, 4], 2, stop.signal, async (i, say) => {
      started.push(i);
      await new Promise((r) => setTimeout(r, i === 0 ? 30 : 1));
      if (i === 1) stop.abort(); // while item 0 still runs
      say(() => printed.push(i));
    });
    expect(started).toEqual([0, 1]);
    expect(printed).toEqual([0, 1]);
  });

  it('a limit of 1 runs one item after the other', async () => {
    const events: string[] = [];
    await inInputOrder(['a', 'b', 'c'], 1, new AbortController().signal, async (x, say) => {
      events.push(`run ${x}`);
      await tick();
      say(() => events.push(`say ${x}`));
    });
    expect(events).toEqual(['run a', 'say a', 'run b', 'say b', 'run c', 'say c']);
  });
});
