/** `onceAcrossRuns`: a streamed job run again after its worker died passes each event to the client once. */
import { describe, expect, it } from 'vitest';
import type { QueueProgress } from '../../src/queue/protocol';
import { onceAcrossRuns } from '../../src/server/jobs';
import type { TranscribeEvent } from '../../src/server/transcriber';

const text = (run: string, delta: string): QueueProgress => ({
  type: 'event', run, event: { type: 'text', index: 0, delta },
});

describe('onceAcrossRuns', () => {
  it('a second run resends the events from the start: only the ones past the first run are passed on', () => {
    const got: TranscribeEvent[] = [];
    const on = onceAcrossRuns((e) => got.push(e));
    for (const d of ['one', ' two']) on(text('a', d)); // run a dies after two deltas
    on({ type: 'progress', stage: 'generate', done: 1, total: 3 });
    for (const d of ['one', ' two', ' three', ' four']) on(text('b', d));
    expect(got.map((e) => (e.type === 'text' ? e.delta : e.type))).toEqual(['one', ' two', ' three', ' four']);
  });

  it('a single run passes every event on', () => {
    const got: TranscribeEvent[] = [];
    const on = onceAcrossRuns((e) => got.push(e));
    for (const d of ['a', 'a', 'b']) on(text('x', d));
    expect(got).toHaveLength(3);
  });
});
