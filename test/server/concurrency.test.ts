/**
 * The server runs up to the transcriber's `maxBatch` transcriptions at once (the engine batches them): the rest
 * wait in order, the queue refuses past its capacity, and a client that leaves aborts only its own job.
 */
import { describe, expect, it } from 'vitest';
import { audioId, FakeTranscriber, fakeText } from './fake-transcriber';
import { makeWav, postAudio, startTestServer, waitFor } from './helpers';

const server = (maxBatch: number | undefined, queueSize: number, delayMs: number) =>
  startTestServer({ transcriber: new FakeTranscriber({ maxBatch, delayMs }), queueSize });

describe('concurrent transcriptions (maxBatch)', () => {
  it('maxBatch 3: three run at once, the rest wait; /health shows it; 503 past the queue', async () => {
    const srv = await server(3, 2, 600);
    try {
      const wavs = Array.from({ length: 5 }, (_, i) => makeWav(0.2, 800 + i));
      const pending = wavs.map((w) => postAudio(srv.base, w));
      await waitFor(() => srv.fake.running === 3 && srv.app.jobQueue.stats.waiting === 2);
      const health = (await (await fetch(`${srv.base}/health`)).json()) as { queue: unknown };
      expect(health.queue).toEqual({ running: 3, waiting: 2, capacity: 2, concurrency: 3 });
      const full = await postAudio(srv.base, makeWav(0.2, 899));
      expect(full.status).toBe(503);
      expect((await full.json()).error.code).toBe('queue_full');
      const texts = await Promise.all(pending.map(async (p) => (await (await p).json()).text));
      expect(texts).toEqual(wavs.map(fakeText));
      expect(srv.fake.peakRunning).toBe(3);
      // Started in arrival order: the first three together, then the two that waited.
      expect(srv.fake.calls.slice(3).map((c) => c.id).sort()).toEqual(wavs.slice(3).map(audioId).sort());
    } finally {
      await srv.close();
    }
  });

  it('20 requests with maxBatch 4: each gets its own text, never more than 4 at once', async () => {
    const srv = await server(4, 32, 30);
    try {
      const wavs = Array.from({ length: 20 }, (_, i) => makeWav(0.2, 900 + i));
      const texts = await Promise.all(wavs.map(async (w) => (await (await postAudio(srv.base, w)).json()).text));
      expect(texts).toEqual(wavs.map(fakeText));
      expect(srv.fake.peakRunning).toBe(4);
    } finally {
      await srv.close();
    }
  });

  it('without maxBatch the server runs one at a time', async () => {
    const srv = await server(undefined, 8, 30);
    try {
      const wavs = Array.from({ length: 4 }, (_, i) => makeWav(0.2, 950 + i));
      await Promise.all(wavs.map((w) => postAudio(srv.base, w)));
      expect(srv.fake.peakRunning).toBe(1);
      expect(srv.app.jobQueue.stats.concurrency).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it('a client that leaves aborts its running job only; one that leaves while waiting is skipped', async () => {
    const srv = await server(2, 4, 500);
    try {
      const [a, b, c, d] = [0, 1, 2, 3].map((i) => makeWav(0.2, 970 + i));
      const gone = [new AbortController(), new AbortController()];
      const pa = postAudio(srv.base, a, {}, { signal: gone[0].signal }).catch((e: unknown) => e);
      await waitFor(() => srv.fake.running === 1);
      const pb = postAudio(srv.base, b);
      await waitFor(() => srv.fake.running === 2);
      const pc = postAudio(srv.base, c, {}, { signal: gone[1].signal }).catch((e: unknown) => e);
      await waitFor(() => srv.app.jobQueue.stats.waiting === 1);
      const pd = postAudio(srv.base, d);
      await waitFor(() => srv.app.jobQueue.stats.waiting === 2);
      gone[1].abort(); // c waits: it leaves the queue
      await waitFor(() => srv.app.jobQueue.stats.waiting === 1);
      gone[0].abort(); // a runs: its job is aborted, b runs on, d takes a's slot
      await Promise.all([pa, pc]);
      expect((await (await pb).json()).text).toBe(fakeText(b));
      expect((await (await pd).json()).text).toBe(fakeText(d));
      const outcome = Object.fromEntries(srv.fake.calls.map((x) => [x.id, x.outcome]));
      expect(outcome).toEqual({ [audioId(a)]: 'aborted', [audioId(b)]: 'done', [audioId(d)]: 'done' });
      expect(srv.app.jobQueue.counts).toMatchObject({ skipped: 1, completed: 2, failed: 1 });
    } finally {
      await srv.close();
    }
  });
});
